"""The tiny run the contract suites use, and helpers to build and run it (public, through
``assay.testing``). See :mod:`assay.testing.contracts` for what ``TINY`` is and how a component
declares its own ``contract_experiment``.
"""
from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch

from assay._drive.run import load
from assay._plugins.registry import registry
from assay._run.loop import RunResult, build_context, execute
from assay.kinds import Component, Data

TINY: dict[str, Any] = {
    "name": "contract",
    "dataset": {"name": "synthetic-classification", "n_train": 256, "n_val": 128, "dim": 8,
                "n_classes": 4, "noise": 0.0},
    "model": {"name": "mlp", "width": 16, "depth": 1},
    "methods": {"optimizer": {"name": "adamw", "lr": 1e-2}},
    "backend": {"name": "cpu", "threads": 1},
    "train": {"steps": 30, "batch_size": 64, "eval_every": 10, "seed": 0},
}

# Tried in order for a model without a contract_experiment: flat vectors, bytes, 8x8 images.
MODEL_DATASETS: list[dict[str, Any]] = [
    TINY["dataset"],
    {"name": "bytes", "seq_len": 16, "val_fraction": 0.02},
    {"name": "digits", "n_train": 256},
]



# --- building the tiny run -------------------------------------------------------------------

def contract_experiment(cls: type[Component] | None) -> dict[str, Any]:
    """The class's ``contract_experiment`` (a deep copy), or ``{}``."""
    return copy.deepcopy(dict(getattr(cls, "contract_experiment", None) or {}))


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides``' top-level keys replace ``base``'s; ``train`` merges key by key."""
    out = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if key == "train" and isinstance(value, Mapping):
            out["train"] = {**out.get("train", {}), **value}
        else:
            out[key] = copy.deepcopy(value)
    return out


def tiny_experiment(cls: type[Component] | None = None, **overrides: Any) -> dict[str, Any]:
    """``TINY``, then ``cls.contract_experiment``, then ``overrides`` (top-level keys)."""
    return merge(merge(TINY, contract_experiment(cls)), overrides)


def component_ref(cls: type[Component]) -> dict[str, Any]:
    """``{name, **config}`` the contracts use for ``cls``: from its contract_experiment when
    that names it, else its defaults."""
    exp = contract_experiment(cls)
    ref = (exp.get("methods", {}).get(getattr(cls, "slot", "")) if cls.kind == "method"
           else exp.get(cls.kind))
    if isinstance(ref, Mapping) and ref.get("name") == cls.name:
        return dict(ref)
    return {"name": cls.name}


def instance(cls: type[Component]) -> Any:
    """``cls`` built with the config of ``component_ref(cls)``."""
    params = {k: v for k, v in component_ref(cls).items() if k != "name"}
    return cls(cls.Config.model_validate(params))


def experiment_for(cls: type[Component]) -> dict[str, Any]:
    """The tiny experiment with ``cls`` in its place (its slot, for a method)."""
    exp = tiny_experiment(cls)
    if cls.kind == "method":
        slot: str = cls.slot  # type: ignore[attr-defined]
        exp["methods"] = {**exp.get("methods", {}), slot: component_ref(cls)}
    elif cls.kind == "model" and "dataset" not in contract_experiment(cls):
        exp["model"], exp["dataset"] = component_ref(cls), matching_dataset(cls)[0]
    elif cls.kind in ("dataset", "model", "backend"):
        exp[cls.kind] = component_ref(cls)
    return exp


def plugin_sources(cls: type[Component]) -> tuple[str, ...]:
    """Extra plugin sources a run needs to find ``cls`` by name: none when the registry
    (built-ins and installed entry points) has it, else its top-level package."""
    if registry().components.get(cls.kind, {}).get(cls.name) is cls:
        return ()
    top = cls.__module__.split(".")[0]
    if registry((top,)).components.get(cls.kind, {}).get(cls.name) is cls:
        return (top,)
    raise AssertionError(f"{cls.kind} {cls.name!r} is not registered: install its plugin "
                         f"(pip install -e .) or return it from a hookimpl in {top!r}")


_RESULTS: dict[str, RunResult] = {}


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, and far faster when cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_experiment(experiment: Mapping[str, Any], plugins: Sequence[str] = (), *,
                   cached: bool = False) -> RunResult:
    """Load and execute one experiment dict inline (no tracking)."""
    loaded = load(experiment, plugins=plugins)
    if cached and loaded.run.key in _RESULTS:
        return _RESULTS[loaded.run.key]
    with one_thread():
        result = execute(loaded.run)
    _RESULTS[loaded.run.key] = result
    return result


def run_tiny(method_ref: Mapping[str, Any], slot: str, *, plugins: Sequence[str] = (),
             **overrides: Any) -> RunResult:
    """The tiny run with ``method_ref`` (``{name, **config}``) in ``slot``; ``overrides`` are
    top-level experiment keys, e.g. ``train={"steps": 60}`` or ``model={...}``."""
    exp = tiny_experiment(**overrides)
    exp["methods"] = {**exp.get("methods", {}), slot: dict(method_ref)}
    return run_experiment(exp, plugins)


def initial_loss(experiment: Mapping[str, Any], plugins: Sequence[str] = ()) -> float:
    """Validation loss of the model a run of ``experiment`` starts from."""
    loaded = load(experiment, plugins=plugins)
    with one_thread():
        ctx = build_context(loaded.run, lambda step, metrics: False, loaded.registry)
        return ctx.evaluate("val")["val/loss"]


def matching_dataset(cls: type[Component]) -> tuple[dict[str, Any], Data]:
    """(dataset ref, data) for a model: its contract_experiment's dataset, or the first of
    ``MODEL_DATASETS`` it builds on."""
    if cls not in _MATCHED:
        _MATCHED[cls] = _match(cls)
    return _MATCHED[cls]


_MATCHED: dict[type[Component], tuple[dict[str, Any], Data]] = {}


def _match(cls: type[Component]) -> tuple[dict[str, Any], Data]:
    exp = contract_experiment(cls)
    refs = [exp["dataset"]] if "dataset" in exp else MODEL_DATASETS
    errors, reg = [], registry(plugin_sources(cls))
    for ref in refs:
        ds = reg.get("dataset", ref["name"])
        data = ds(ds.Config.model_validate({k: v for k, v in ref.items() if k != "name"})).load(0)
        try:
            instance(cls).build(data)
        except Exception as exc:  # noqa: BLE001 - try the next dataset, report all at the end
            errors.append(f"{ref['name']}: {type(exc).__name__}: {exc}")
            continue
        return dict(ref), data
    raise AssertionError(f"model {cls.name!r} builds on none of the contract datasets "
                         f"({'; '.join(errors)}); declare a contract_experiment")
