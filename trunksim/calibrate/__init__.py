"""Calibrate a scenario from a team's own delivery records, and back-test it before answering "what if".

``trunksim.calibrate(sources, "team.yaml")`` reads the records (Four Keys tables, Apache
DevLake domain-layer CSVs, ``gh pr list``/``gh run list`` JSON, a ``git log`` of main),
reads off the parameters they show, fits by simulation those they do not (the latent
defect rate, detection probabilities, recovery), simulates the calibrated scenario and
sets its DORA figures beside the observed ones with a verdict per figure, and writes the
scenario and ``calibration.html`` beside it. The method and its limits are in
``docs/calibration.md``.

The package, split by concern:

* :mod:`~trunksim.calibrate.formats` — a reader (and a writer of simulated runs) per
  source format; :mod:`~trunksim.calibrate.parsing` — located problems;
  :mod:`~trunksim.calibrate.history` — the one shape every reader produces;
  :mod:`~trunksim.calibrate.linking` — which deployment carried each change;
* :mod:`~trunksim.calibrate.observe` — the figures of a history, one set of rules for
  observed and simulated records;
* :mod:`~trunksim.calibrate.estimators` — what the records show directly;
* :mod:`~trunksim.calibrate.fitting` — what they do not, by simulation;
* :mod:`~trunksim.calibrate.backtest` — the calibrated model against the records;
* :mod:`~trunksim.calibrate.report`, :mod:`~trunksim.calibrate.scenario_file` — the
  files written; :mod:`~trunksim.calibrate.pipeline` — :func:`calibrate`;
  :mod:`~trunksim.calibrate.command` — the command line's body.

``trunksim.calibrate`` is this package and, called, the function :func:`calibrate`
(``trunksim.calibrate(...)`` works however the package was first imported). Importing it
loads neither the engine nor matplotlib.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from trunksim.calibrate.history import CalibrationInputError
from trunksim.calibrate.pipeline import Calibration, calibrate

__all__ = ["Calibration", "CalibrationInputError", "calibrate"]


class CallablePackage(types.ModuleType):
    """This package's class: calling the package calls :func:`calibrate`.

    ``import trunksim.calibrate`` binds the package to ``trunksim.calibrate``, which would
    hide the function the package face promises; a callable package keeps
    ``trunksim.calibrate(...)`` working in every order of imports.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Calibration:
        return calibrate(*args, **kwargs)


sys.modules[__name__].__class__ = CallablePackage
