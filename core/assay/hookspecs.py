"""Every way a plugin can extend assay. Hooks not declared here do not exist.

Registration hooks are called once per plugin manager and return lists of component classes
(claims: instances). Lifecycle hooks are observe-only: results must never depend on them.
They run on the worker that executes the run.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from assay.claims import Claim
    from assay.kinds import Backend, Dataset, Method, Model
    from assay.spec import RunSpec

hookspec = pluggy.HookspecMarker("assay")
hookimpl = pluggy.HookimplMarker("assay")


# --- registration: return classes; names must be unique across all plugins --------------

@hookspec
def assay_register_datasets() -> list[type[Dataset]]:
    """Datasets this plugin provides (subclasses of :class:`assay.Dataset`).

    Each class sets a unique kebab-case ``name`` and a pydantic ``Config``. A duplicate name
    across plugins aborts start-up with an error naming both plugins.
    """


@hookspec
def assay_register_models() -> list[type[Model]]:
    """Models this plugin provides (subclasses of :class:`assay.Model`)."""


@hookspec
def assay_register_methods() -> list[type[Method]]:
    """Training methods (subclasses of :class:`assay.Method`), each in one ``slot``:
    optimizer, schedule, parameterization, adapter, pruning, data, loss or trainer."""


@hookspec
def assay_register_backends() -> list[type[Backend]]:
    """Execution backends (subclasses of :class:`assay.Backend`): device, dtype, threads,
    and the Dask worker resources a run needs."""


@hookspec
def assay_register_claims() -> list[Claim]:
    """Claims (instances of :class:`assay.Claim`): a paper's headline result as a check."""


# --- run lifecycle: observe-only, called on the worker that runs the run ----------------

@hookspec
def assay_run_start(run: RunSpec) -> None:
    """Called once before the first training step of a run."""


@hookspec
def assay_step_end(run: RunSpec, step: int, metrics: Mapping[str, float]) -> None:
    """Called after every evaluation with that step's metrics (``split/metric`` keys)."""


@hookspec
def assay_run_end(run: RunSpec, metrics: Mapping[str, float], status: str) -> None:
    """Called once per run when it ends; ``status`` is finished, pruned or failed."""


HOOK_KINDS: dict[str, str] = {
    "dataset": "assay_register_datasets",
    "model": "assay_register_models",
    "method": "assay_register_methods",
    "backend": "assay_register_backends",
}

