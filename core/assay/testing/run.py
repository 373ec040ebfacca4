"""Helpers for plugin tests (public): run a RunSpec inline, build the context or a component
a method would see, read an experiment file, run a claim at smoke budget.

Everything here runs in the test's own process, with no tracking, unless a helper says so.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from assay.kinds import Component, Data, RunContext
from assay.spec import RunSpec

__all__ = ["build", "build_context", "execute", "load_data", "load_yaml", "negative_control",
           "run_claim"]


def execute(run: RunSpec, reporter: Callable[[int, Mapping[str, float]], bool] | None = None,
            *, init_state: Mapping[str, Any] | None = None, keep_state: bool = False) -> Any:
    """Run ``run`` (``assay.load(...).run``) to the end in this process and return its
    :class:`assay.RunResult`; a failing run is a result with ``status == "failed"``."""
    from assay._run.loop import execute as _execute

    return _execute(run, reporter, init_state=init_state, keep_state=keep_state)


def build_context(run: RunSpec, reporter: Callable[[int, Mapping[str, float]], bool] | None = None,
                  *, init_state: Mapping[str, Any] | None = None) -> RunContext:
    """The :class:`assay.RunContext` a run starts with (data, model, methods built; no
    optimizer yet, and no method's ``setup`` called)."""
    from assay._plugins.registry import registry
    from assay._run.loop import build_context as _build

    return _build(run, reporter or (lambda step, metrics: False), registry(run.plugins),
                  init_state)


def build(kind: str, ref: Mapping[str, Any] | str, plugins: Sequence[str] = ()) -> Component:
    """A component (``kind``: dataset, model, method or backend) from its config reference,
    validated and completed with its defaults: ``build("model", {"name": "mlp", "width": 32})``."""
    from assay._experiment.resolve import instantiate, resolve_component
    from assay._plugins.registry import registry

    reg = registry(tuple(plugins))
    ref = {"name": ref} if isinstance(ref, str) else ref
    return instantiate(reg, kind, resolve_component(reg, kind, ref, kind))


def load_data(run: RunSpec) -> Data:
    """The dataset of ``run``, built for its seed (cached per process, as on a worker)."""
    from assay._plugins.registry import registry
    from assay._run.loop import load_data as _load

    return _load(registry(run.plugins), run)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """An experiment file as a dict, with assay's own checks (encoding, duplicate keys...)."""
    from assay._experiment.resolve import load_yaml as _load

    return _load(path)


def run_claim(claim: Any, budget: str = "smoke", *, seeds: int | None = None,
              tracking_uri: str | None = None) -> Any:
    """Run a claim (an id or a :class:`assay.Claim`) and return its outcome; recorded in the
    MLflow store at ``tracking_uri`` (give a temporary folder in tests)."""
    from assay._drive.verify import run_claim as _run
    from assay._drive.verify import select
    from assay._plugins.registry import registry
    from assay._record.tracking import Store

    if isinstance(claim, str):
        claim = select(registry(), [claim], False)[0]
    store = Store.resolve(tracking_uri)       # a plain folder: the whole store there
    return _run(claim, budget, seeds, store=store)


def negative_control(claim: Any, *, arms: Mapping[str, str] | None = None,
                     overrides: Mapping[str, Mapping[str, Any]] | None = None, seeds: int = 3,
                     budget: str = "smoke", tracking_uri: str | None = None) -> Any:
    """Run a claim with its effect removed and return the outcome, which must not PASS.

    ``arms={"lion": "adamw"}`` runs arm ``lion`` from ``adamw``'s experiment file (the method
    replaced by its baseline); ``overrides={"lion": {"train.steps": 1}}`` changes an arm's
    config. Several seeds (default 3) at the smoke budget, so that the interval is finite.
    """
    import dataclasses

    from assay._drive.verify import select
    from assay._plugins.registry import registry

    if isinstance(claim, str):
        claim = select(registry(), [claim], False)[0]
    unknown = set(arms or {}) | set((arms or {}).values()) | set(overrides or {})
    unknown -= set(claim.arms)
    if unknown:
        raise ValueError(f"{claim.id} has no arm(s) {sorted(unknown)}; arms: {list(claim.arms)}")
    swapped = {a: claim.arms[b] for a, b in (arms or {}).items()}
    control = dataclasses.replace(
        claim, arms={**claim.arms, **swapped},
        arm_overrides={**claim.arm_overrides, **(overrides or {})}, max_seeds=None)
    return run_claim(control, budget, seeds=seeds, tracking_uri=tracking_uri)
