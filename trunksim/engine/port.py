"""The engine's port for strategies: the one way a strategy acts on a simulation.

:class:`EnginePort` implements :class:`trunksim.strategies.base.StrategyPort` over the
components of one replication. Each method is a few lines that call the component
that owns the job (branches and merges, repairs, the calendar); a strategy never
sees those components.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generator, Sequence

import simpy

from trunksim.engine.branches import Branches
from trunksim.engine.calendar import WorkingCalendar
from trunksim.engine.entities import Change, Defect

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.engine.flow import Flow
    from trunksim.engine.people import Team
    from trunksim.engine.repairs import Repairs

PRIORITY_REWORK = 1


class EnginePort:
    """What the engine offers a strategy (see :class:`~trunksim.strategies.base.StrategyPort`).

    Parameters
    ----------
    env : simpy.Environment
        The simulation.
    calendar : WorkingCalendar
        The team's working calendar.
    branches : Branches
        Every branch and its merge bookkeeping.

    The team, the flow and the repairs are connected once they exist (:meth:`connect`).
    """

    def __init__(self, env: simpy.Environment, calendar: WorkingCalendar, branches: Branches) -> None:
        self.env = env
        self.calendar = calendar
        self.branches = branches
        self.team: "Team"
        self.flow: "Flow"
        self.repairs: "Repairs"

    def connect(self, team: "Team", flow: "Flow", repairs: "Repairs") -> None:
        """Connect the components the port's merges and repairs use."""
        self.team = team
        self.flow = flow
        self.repairs = repairs

    @property
    def now(self) -> float:
        """Simulation time now, clock hours."""
        return self.env.now

    # -- scheduling ------------------------------------------------------------------
    def start(self, process: Generator) -> None:
        """Run a strategy process from now on."""
        self.env.process(process)

    def after(self, hours: float) -> simpy.Timeout:
        """Wait ``hours`` clock hours."""
        return self.env.timeout(hours)

    def signal(self) -> simpy.Event:
        """A new one-shot signal."""
        return self.env.event()

    def working_to_clock(self, start: float, working_hours: float) -> float:
        """When ``working_hours`` of work begun at ``start`` is done, on the team's calendar."""
        return self.calendar.finish_time(start, working_hours)

    # -- branches --------------------------------------------------------------------
    def has_branch(self, name: str) -> bool:
        """True while a branch of that name exists."""
        return name in self.branches

    def create_branch(self, name: str) -> None:
        """Cut a new branch. It has no post-merge build of its own: its code was built where it came from."""
        self.branches.create(name)

    def remove_branch(self, name: str, retarget_to: str) -> None:
        """Delete a branch; changes merged into it and headed for it now belong to ``retarget_to``."""
        self.branches.remove(name, retarget_to)

    def take_green(self, name: str) -> list[Change]:
        """Take the merged changes the branch's last green build covers."""
        return self.branches.take_green(self.branches[name])

    def merged_into(self, name: str) -> list[Change]:
        """Changes merged into a branch and not yet passed on (a copy)."""
        return list(self.branches[name].pending)

    def land(self, changes: Sequence[Change], onto: str) -> None:
        """Land changes that merged elsewhere onto a branch as one commit."""
        self.branches.land(list(changes), self.branches[onto])

    def back_merge(self, change: Change, onto: str, since: float) -> None:
        """Merge a change back into a branch; a conflict costs its author a resolution."""
        branch = self.branches[onto]
        if self.branches.back_merge(change, branch, since):
            self.team[change.author].assign(PRIORITY_REWORK, self.flow.resolve_conflict(change))
        self.branches.commit(branch, lines=change.lines, area=change.area)

    # -- defects ---------------------------------------------------------------------
    def report_defect(self, defect: Defect, found_by: str) -> None:
        """A defect found after merge: recorded, and its author fixes it through the normal flow."""
        defect.found_by = found_by
        defect.found_at = self.env.now
        self.repairs.repair(defect)

    def mark_repaired(self, defect: Defect) -> None:
        """The defect's fix landed before the defect reached users."""
        defect.repaired = True
