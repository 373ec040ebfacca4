"""assay: ML research methods as plugins; sweeps on Dask with Optuna; everything in MLflow.

The public API is this module's ``__all__`` plus the public submodules ``assay.spec`` (the run
data model), ``assay.kinds``, ``assay.hookspecs``, ``assay.claims``, ``assay.errors``,
``assay.lib`` and ``assay.testing``. Everything under a leading underscore is private and may
change in any release; an import-linter contract keeps plugins, examples and the scaffold off
it. Plugins declare the API they are written against as ``assay>=1,<2``.

How the core is laid out (the flow of data, top to bottom)::

    _experiment/  experiment file -> ExperimentSpec -> RunSpec (validation, sweep space)   driver
    _plugins/     the registry: builtins, entry points, --plugin files                     both
    _run/         RunSpec -> RunResult: the one loop and the RunContext                    WORKER
    _dispatch/    where runs execute: inline or on Dask (worker-side code apart)           both
    _record/      RunResult -> MLflow: store, bulk writer, run-key index                   driver
    _drive/       the programs built from those: run, sweep, law, verify, demo            driver
    _cli/         argument parsing and the commands
    _builtin/     the core's own components, registered like any plugin's
"""
from __future__ import annotations

from assay._version import API_VERSION, __version__

# typing.TYPE_CHECKING's value (type checkers read the block below as they read typing's): not
# importing typing keeps ~7 ms off every command's start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from assay._run.result import NonFiniteLoss, RunResult
    from assay.claims import Claim, Metrics, Verdict
    from assay.errors import UserError
    from assay.hookspecs import hookimpl
    from assay.kinds import (
        Adapter,
        Backend,
        Config,
        Data,
        DataSelection,
        Dataset,
        Loss,
        Method,
        Model,
        Optimizer,
        Paper,
        Parameterization,
        Pruning,
        RunContext,
        Schedule,
        Trainer,
    )

# Public names are imported on first use, so ``import assay`` (and so ``assay --help`` and a
# cached ``assay plugins``) costs neither pydantic's model building nor torch.
_LAZY = {
    **dict.fromkeys(("Adapter", "Backend", "Config", "Data", "Dataset", "DataSelection", "Loss",
                     "Method", "Model", "Optimizer", "Paper", "Parameterization", "Pruning",
                     "RunContext", "Schedule", "Trainer"), "assay.kinds"),
    **dict.fromkeys(("Claim", "Metrics", "Verdict"), "assay.claims"),
    "UserError": "assay.errors",
    "hookimpl": "assay.hookspecs",
    **dict.fromkeys(("RunResult", "NonFiniteLoss"), "assay._run.result"),
}

__all__ = [
    # components
    "Adapter", "Backend", "Config", "Data", "DataSelection", "Dataset", "Loss", "Method",
    "Model", "Optimizer", "Paper", "Parameterization", "Pruning", "Schedule", "Trainer",
    # the run, as a method sees it
    "RunContext", "RunResult", "NonFiniteLoss",
    # claims and plugin plumbing
    "Claim", "Metrics", "Verdict", "UserError", "hookimpl",
    # Python entry points (what the CLI runs)
    "load", "run", "sweep", "law", "verify",
    "API_VERSION", "__version__",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'assay' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value          # looked up once
    return value


def load(path: Any, overrides: Any = (), plugins: Any = ()) -> Any:
    """Read and validate an experiment (a YAML path or a dict), with ``overrides``
    (``["train.steps=10"]`` or ``{"train.steps": 10}``) and extra plugin files or modules.
    Returns a ``Loaded`` with ``.experiment`` (ExperimentSpec) and ``.run`` (RunSpec); raises
    :class:`UserError` with the dotted path of anything invalid."""
    from assay._drive.run import load as _load

    return _load(path, overrides, plugins)


def _loaded(experiment: Any, overrides: Any, plugins: Any) -> Any:
    from assay._drive.run import Loaded

    return experiment if isinstance(experiment, Loaded) else load(experiment, overrides, plugins)


def run(experiment: Any, overrides: Any = (), *, plugins: Any = (), tracking_uri: str | None = None,
        rerun: bool = False, progress: bool = False) -> tuple[str, Any, bool]:
    """Run an experiment once and record it in MLflow (a finished run with the same key is
    reused unless ``rerun``). Returns ``(run_id, result, reused)``: ``result`` is a
    :class:`RunResult` for a new run, the recorded metrics for a reused one."""
    from assay._drive.run import run_once
    from assay._record.tracking import Store

    return run_once(_loaded(experiment, overrides, plugins), Store.resolve(tracking_uri),
                    rerun=rerun, progress=progress)


def sweep(experiment: Any, overrides: Any = (), *, plugins: Any = (), trials: int | None = None,
          workers: int | None = None, tracking_uri: str | None = None,
          study_name: str | None = None, **options: Any) -> Any:
    """Run the experiment's ``sweep:`` block (Optuna on Dask, every trial in MLflow) and return
    the ``SweepResult`` (``.best``, ``.trials``, ``.study_name``)."""
    from assay._drive.sweep import run_sweep
    from assay._record.tracking import Store

    return run_sweep(_loaded(experiment, overrides, plugins), store=Store.resolve(tracking_uri),
                     trials=trials, workers=workers, study_name=study_name, **options)


def law(experiment: Any, overrides: Any = (), *, plugins: Any = (), workers: int | None = None,
        tracking_uri: str | None = None, **options: Any) -> Any:
    """Run the experiment's ``law:`` study and return the ``LawResult`` (the fitted power law
    with its intervals, every point's optimum and the holdout check)."""
    from assay._drive.law import run_law
    from assay._record.tracking import Store

    return run_law(_loaded(experiment, overrides, plugins), store=Store.resolve(tracking_uri),
                   workers=workers, **options)


def verify(claim: str | Claim, budget: str = "smoke", *, seeds: int | None = None,
           tracking_uri: str | None = None) -> Any:
    """Run one claim (an id such as ``"lion:smaller-lr"`` or a :class:`Claim`) at ``budget``
    (``smoke`` or ``full``) and return its outcome (``.status``, ``.decision``, per-seed numbers)."""
    from assay._drive.verify import run_claim, select
    from assay._plugins.registry import registry
    from assay._record.tracking import Store

    if isinstance(claim, str):
        found = select(registry(), [claim], False)
        claim = found[0]
    return run_claim(claim, budget, seeds, store=Store.resolve(tracking_uri))
