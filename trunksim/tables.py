"""The results contract: the event tables of one replication, their columns and stages.

Everything that reads results (metrics, export, plotting, report) imports its
vocabulary from here, never from the engine.
"""

from __future__ import annotations

STAGES: tuple[str, ...] = ("coding", "review_wait", "review", "rework", "ci_queue", "ci", "deploy_wait", "deploy")
"""Stages of a change's lead time, in the order a change usually passes them.

``coding`` runs from the first commit to the end of coding; ``rework`` holds fixing what
review, CI or a merge conflict found; ``deploy_wait`` runs from merge to the start of the
deployment that rolls the change out (for GitFlow it includes the release branch and
QA); ``deploy`` is that deployment's pipeline and canary. The stage hours of a delivered
change sum to its lead time.
"""

STAGE_INDEX: dict[str, int] = {stage: i for i, stage in enumerate(STAGES)}
"""Position of each stage in :data:`STAGES`."""
