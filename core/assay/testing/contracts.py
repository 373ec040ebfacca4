"""Contract suites every registered component must pass (in the style of Optuna's
``optuna.testing.pytest_samplers``).

Each suite is a base class whose ``component`` fixture you supply. In a plugin's own tests::

    import pytest
    from assay.testing import MethodContract
    from assay_lion.method import Lion

    class TestLionContract(MethodContract):
        @pytest.fixture
        def component(self):
            return Lion

and every test of the suite runs on ``Lion``. The repository's ``tests/test_contracts.py``
parametrizes the same fixture over the whole registry (``registry_params(kind)``), so an
installed plugin is covered without editing any list.

What the suites check
- every component (``ComponentContract``): ``name`` is lowercase kebab; ``Config`` subclasses
  :class:`assay.Config`, builds from its defaults, survives ``model_dump_json`` ->
  ``model_validate_json`` unchanged, and every field has a description.
- datasets (``DatasetContract``): two loads of one config and seed are equal; every split has
  ``x.shape[1:] == input_shape``; labels are int64 in ``[0, n_outputs)`` (classification; for
  ``lm`` inputs and targets are token ids of equal shape); regression targets are float
  ``(N, n_outputs)``.
- models (``ModelContract``): build on a matching dataset (the first of ``MODEL_DATASETS`` the
  model accepts), forward to ``(batch, n_outputs)`` (``lm``: ``(batch, T, vocab)``), backward
  reaches the parameters, one seed gives one set of weights, and the tiny run lowers the loss.
- methods (``MethodContract``): the method, put in its slot of the tiny run, finishes, lowers
  the loss and repeats exactly under the same seed.
- backends (``BackendContract``): give a ``torch.device``; when that device exists here, the
  tiny run on it finishes and lowers the loss (cuda/mps are skipped on machines without them).

The tiny run (``TINY``): core ``mlp`` (width 16) on ``synthetic-classification`` (256 examples,
8 inputs, 4 classes), 30 steps of batch 64 on cpu, with ``adamw`` (lr 1e-2) in the optimizer
slot unless the optimizer is what is tested. "Lowers the loss" means: the run's final
``val/loss`` is below the validation loss of the very model the run starts from (built with the
same seed, after any parameterization or adapter is applied). A full-split loss is used rather
than the per-batch training loss because it carries no batch noise.

contract_experiment: a component that needs another setup (a transformer, its own dataset,
a particular learning rate, more steps) declares it on its class::

    class MyAdapter(Adapter):
        contract_experiment: ClassVar[dict] = {
            "dataset": {"name": "bytes", "seq_len": 16},
            "model": {"name": "transformer", "width": 32, "depth": 1},
            "methods": {"adapter": {"name": "my-adapter", "rank": 2},
                        "optimizer": {"name": "adamw", "lr": 3e-3}},
            "train": {"steps": 40},
        }

Its top-level keys replace the tiny run's (``train`` merges key by key). The entry naming the
component itself (``dataset`` / ``model`` / ``backend`` / ``methods.<slot>``) gives the config
the contracts use; otherwise the component runs with its defaults. Keep it small: each contract
should take well under a second on one CPU core.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pytest
import torch

from assay._plugins.registry import registry
from assay._run.loop import RunResult, default_loss
from assay.kinds import Component, Config, Data
from assay.testing.tiny import (  # noqa: F401 - re-exported
    _RESULTS,
    MODEL_DATASETS,
    TINY,
    component_ref,
    contract_experiment,
    experiment_for,
    initial_loss,
    instance,
    matching_dataset,
    merge,
    one_thread,
    plugin_sources,
    run_experiment,
    run_tiny,
    tiny_experiment,
)

_KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


# --- checks (plain functions; the suites below call them) ------------------------------------

def check_name(cls: type[Component]) -> None:
    assert _KEBAB.match(cls.name or ""), \
        f"{cls.__name__}.name {cls.name!r} is not lowercase kebab"


def check_config(cls: type[Component]) -> None:
    """Config subclasses assay.Config, builds from defaults, round-trips JSON, is described."""
    assert issubclass(cls.Config, Config), f"{cls.name}: Config must subclass assay.Config"
    for params in ({}, {k: v for k, v in component_ref(cls).items() if k != "name"}):
        cfg = cls.Config.model_validate(params)
        back = cls.Config.model_validate_json(cfg.model_dump_json())
        assert back == cfg, f"{cls.name}: config changed through JSON: {cfg!r} -> {back!r}"
    missing = [f for f, info in cls.Config.model_fields.items() if not info.description]
    assert not missing, f"{cls.name}: Config fields without a description: {missing}"


def check_data(data: Data) -> None:
    """The splits agree with ``task``, ``n_outputs`` and ``input_shape``."""
    assert data.task in ("classification", "regression", "lm"), f"unknown task {data.task!r}"
    assert isinstance(data.n_outputs, int) and data.n_outputs >= 1, data.n_outputs
    assert all(isinstance(d, int) and d > 0 for d in data.input_shape), data.input_shape
    splits = {"train": data.train, "val": data.val, **({"test": data.test} if data.test else {})}
    for split, (x, y) in splits.items():
        where = f"{split} split"
        assert isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor), where
        assert x.shape[0] == y.shape[0] > 0, f"{where}: {x.shape[0]} inputs, {y.shape[0]} targets"
        assert tuple(x.shape[1:]) == tuple(data.input_shape), \
            f"{where}: x has shape {tuple(x.shape)}, input_shape is {data.input_shape}"
        if x.is_floating_point():
            assert bool(torch.isfinite(x).all()), f"{where}: non-finite inputs"
        if data.task == "regression":
            assert y.is_floating_point() and tuple(y.shape[1:]) == (data.n_outputs,), \
                f"{where}: regression targets must be float (N, {data.n_outputs}), got " \
                f"{y.dtype} {tuple(y.shape)}"
            continue
        assert y.dtype == torch.long, f"{where}: labels must be int64, got {y.dtype}"
        want = x.shape if data.task == "lm" else x.shape[:1]
        assert y.shape == want, f"{where}: targets {tuple(y.shape)}, expected {tuple(want)}"
        if data.task == "lm":
            assert not x.is_floating_point(), f"{where}: lm inputs must be token ids"
        assert 0 <= int(y.min()) and int(y.max()) < data.n_outputs, \
            f"{where}: labels in [{int(y.min())}, {int(y.max())}], n_outputs={data.n_outputs}"


def assert_same_data(a: Data, b: Data) -> None:
    assert (a.task, a.n_outputs, tuple(a.input_shape)) == (b.task, b.n_outputs,
                                                          tuple(b.input_shape))
    for split in ("train", "val", "test"):
        pa, pb = getattr(a, split), getattr(b, split)
        assert (pa is None) == (pb is None), f"{split} split present in one load only"
        for ta, tb in zip(pa or (), pb or ()):
            assert ta.dtype == tb.dtype and torch.equal(ta, tb), f"{split} split differs"


def check_forward(cls: type[Component]) -> None:
    """The model builds, maps a batch to the right shape, and backward reaches parameters."""
    _, data = matching_dataset(cls)
    torch.manual_seed(0)
    model = instance(cls).build(data)
    x, y = data.train[0][:4], data.train[1][:4]
    out = model(x)
    want = (4, *x.shape[1:2], data.n_outputs) if data.task == "lm" else (4, data.n_outputs)
    assert tuple(out.shape) == want, f"output shape {tuple(out.shape)}, expected {want}"
    loss = default_loss(out, y, data)
    assert math.isfinite(loss.item()), f"non-finite loss {loss.item()} at initialisation"
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and any(g is not None and bool(g.abs().sum() > 0) for g in grads), \
        "backward reached no parameter"


def check_seeded_build(cls: type[Component]) -> None:
    _, data = matching_dataset(cls)
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        states.append(instance(cls).build(data).state_dict())
    assert states[0].keys() == states[1].keys()
    for k in states[0]:
        assert torch.equal(states[0][k], states[1][k]), f"seed 0 gave two different {k!r}"


def check_lowers_loss(cls: type[Component]) -> RunResult:
    """The tiny run with ``cls`` finishes and ends below its starting validation loss."""
    exp, sources = experiment_for(cls), plugin_sources(cls)
    start = initial_loss(exp, sources)
    result = run_experiment(exp, sources, cached=True)
    assert result.status == "finished", f"tiny run {result.status}: {result.error}\n" \
                                        f"{result.traceback}"
    end = result.metrics["val/loss"]
    curve = [round(m.get("val/loss", math.nan), 4) for _, m in result.history]
    assert end < start, f"{cls.kind} {cls.name!r}: val/loss {start:.4f} at step 0, {end:.4f} " \
                        f"after {exp['train']['steps']} steps (curve {curve}); if it needs " \
                        "another setup, declare a contract_experiment"
    return result


def _same(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    keys = {k for k in (*a, *b) if not k.startswith("cost/")}
    return all(k in a and k in b and (a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])))
               for k in keys)


def check_repeats(cls: type[Component]) -> None:
    """Two tiny runs with the same seed give identical metrics at every evaluation."""
    exp, sources = experiment_for(cls), plugin_sources(cls)
    first = run_experiment(exp, sources, cached=True)
    second = run_experiment(exp, sources)
    assert first.status == second.status == "finished", (first.error, second.error)
    steps = [s for s, _ in first.history]
    assert steps == [s for s, _ in second.history], "runs evaluated at different steps"
    for (step, a), (_, b) in zip(first.history, second.history):
        assert _same(a, b), f"seed {exp['train'].get('seed', 0)} repeated differently at " \
                            f"step {step}: {a} vs {b}"
    assert _same(first.metrics, second.metrics), (first.metrics, second.metrics)


def backend_device(cls: type[Component]) -> torch.device:
    """The backend's device; skips the test when that device does not exist here."""
    backend = instance(cls)
    backend.setup(0)
    device = backend.device()
    assert isinstance(device, torch.device), f"device() returned {device!r}"
    if device.type == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        pytest.skip("no MPS device here")
    torch.ones(2, device=device).sum().item()
    resources = backend.resources()
    assert all(isinstance(k, str) and float(v) >= 0 for k, v in resources.items()), resources
    return device


# --- suites: subclass and provide the ``component`` fixture ----------------------------------

class ComponentContract:
    """Checks every component passes. ``component`` is the class under test."""

    kind: ClassVar[str] = ""

    @pytest.fixture(autouse=True)
    def _one_thread(self) -> Iterator[None]:
        with one_thread():
            yield

    @pytest.fixture
    def component(self) -> type[Component]:
        pytest.fail("override the `component` fixture to return the class under test "
                    "(or parametrize it over several)")

    def test_kind(self, component: type[Component]) -> None:
        if self.kind:
            assert component.kind == self.kind, f"{component!r} is a {component.kind}"

    def test_name_is_kebab(self, component: type[Component]) -> None:
        check_name(component)

    def test_config_round_trips_and_is_described(self, component: type[Component]) -> None:
        check_config(component)


class DatasetContract(ComponentContract):
    kind = "dataset"

    def test_load_is_deterministic(self, component: type[Component]) -> None:
        assert_same_data(instance(component).load(0), instance(component).load(0))

    def test_splits_are_consistent(self, component: type[Component]) -> None:
        check_data(instance(component).load(0))


class ModelContract(ComponentContract):
    kind = "model"

    def test_builds_and_forwards(self, component: type[Component]) -> None:
        check_forward(component)

    def test_seed_fixes_initial_weights(self, component: type[Component]) -> None:
        check_seeded_build(component)

    def test_tiny_run_lowers_loss(self, component: type[Component]) -> None:
        check_lowers_loss(component)


class MethodContract(ComponentContract):
    kind = "method"

    def test_tiny_run_lowers_loss(self, component: type[Component]) -> None:
        check_lowers_loss(component)

    def test_seeded_run_repeats(self, component: type[Component]) -> None:
        check_repeats(component)


class BackendContract(ComponentContract):
    kind = "backend"

    def test_gives_a_device(self, component: type[Component]) -> None:
        backend_device(component)

    def test_tiny_run_lowers_loss(self, component: type[Component]) -> None:
        backend_device(component)
        check_lowers_loss(component)


def registry_params(kind: str, autoload: bool | None = True) -> list[Any]:
    """``pytest.param(cls, id="<kind>:<name>")`` for every registered component of ``kind``."""
    table = registry(autoload=autoload).components.get(kind, {})
    return [pytest.param(cls, id=f"{kind}:{name}") for name, cls in sorted(table.items())]

