"""``assay law``: hyperparameter-law studies whose design cannot fool itself.

A study searches every scale point (and law seed) with its own Optuna search through the
sweep machinery (Dask, MLflow children of the law's parent run, pruning, resume, run-key
reuse), estimates each point's optimum (:mod:`assay.lib.optimum`), fits a power law per tuned
hyperparameter (:mod:`assay._drive.lawfit`), writes its predictions for the holdout points
down (a ledger file and MLflow artifact) *before* they run, then searches the holdouts
independently and scores the predictions.

The design rules, each a failure seen in earlier versions:

- Every search has its own sampler seed, derived from the study's seed (``sweep.seed``) and
  name, the point, the law seed and the round (:func:`derive_seed`). One shared seed made every point
  probe the same values, so every optimum was clipped to the same window and the holdout
  shared the fit's bias.
- A point's optimum must be bracketed: trials on both sides of the estimate inside its
  fitting window (``law.window``). When it is not, the point keeps searching; a side whose
  range bound lies inside the window is widened by ``law.widen.octaves``, until the point
  has used ``law.widen.max_trials`` trials. A point still unbracketed is *censored*: reported
  as such and left out of the fit.
- A law needs at least 3 scale points (and one more than it has parameters), declared and
  fitted; fewer are refused, before any run when declared, at the fit when censored.
- Diagnostics (trials, distinct values probed, rounds, censored points, probes a point shares
  with another) are printed and written with the results (:mod:`assay._drive.law_report`).

The design (:class:`Design`) only sees a search function (:data:`Search`). ``LawStudy`` gives
it one that runs the sweep driver; :class:`InProcessSearch` runs a Python objective in this
process, so ``bench/law_calibration.py`` and the tests exercise the same design and fit code
without MLflow.
"""
from __future__ import annotations

from assay._drive.law.design import (  # noqa: F401
    Design,
    DesignResult,
    Fitted,
    InProcessSearch,
    Objective,
    PointResult,
    Rows,
    Search,
    SearchRound,
    _bounds,
    _fmt_range,
    _is_log,
    _label,
    _refusal,
    _short,
    _widen,
    derive_seed,
    mark_coincident,
    predict,
    run_design,
)
from assay._drive.law.spec import (  # noqa: F401
    LawSpec,
    Widen,
    _points,
    check_law,
    min_points,
    parse_law,
)
from assay._drive.law.study import (  # noqa: F401
    LawResult,
    LawStudy,
    _cast,
    _cast_like,
    _narrow,
    _parent,
    run_law,
    run_law_cli,
    score,
)
