"""Every registered component against the contract suites of :mod:`assay.testing`.

The matrix comes from the registry (built-ins plus every installed plugin, entry-point
autoload on), so installing a plugin adds its components here without editing any list.
Test ids read ``method:lion``, ``dataset:digits``, ...
"""
from __future__ import annotations

from typing import Any

import pytest

from assay._plugins.registry import registry
from assay.testing import (
    BackendContract, ComponentContract, DatasetContract, MethodContract, ModelContract,
    assert_same_data, check_config, check_data, check_lowers_loss, check_name, check_repeats,
    registry_params, run_tiny,
)


def test_no_installed_plugin_is_broken() -> None:
    broken = registry(autoload=True).broken
    assert not broken, "plugins that failed to load: " + "; ".join(
        f"{name}: {err}" for name, err in broken.items())


class TestDatasets(DatasetContract):
    @pytest.fixture(params=registry_params("dataset"))
    def component(self, request: pytest.FixtureRequest) -> Any:
        return request.param


class TestModels(ModelContract):
    @pytest.fixture(params=registry_params("model"))
    def component(self, request: pytest.FixtureRequest) -> Any:
        return request.param


class TestMethods(MethodContract):
    @pytest.fixture(params=registry_params("method"))
    def component(self, request: pytest.FixtureRequest) -> Any:
        return request.param


class TestBackends(BackendContract):
    @pytest.fixture(params=registry_params("backend"))
    def component(self, request: pytest.FixtureRequest) -> Any:
        return request.param


class TestStudies(ComponentContract):
    kind = "study"

    @pytest.fixture(params=registry_params("study") or [pytest.param(None, id="study:none")])
    def component(self, request: pytest.FixtureRequest) -> Any:
        if request.param is None:
            pytest.skip("no study registered")
        return request.param


# --- the kit itself catches what it should ----------------------------------------------------

BAD_PLUGIN = '''
import itertools

import torch

from assay import Config, Data, Dataset, Optimizer, hookimpl


class Frozen(Optimizer):
    """Never moves a weight."""
    name = "contract-frozen"

    def build(self, groups):
        return torch.optim.SGD(groups, lr=0.0)


class Drifting(Optimizer):
    """Its learning rate changes with every build: runs cannot repeat."""
    name = "contract-drifting"
    builds = itertools.count(1)

    def build(self, groups):
        return torch.optim.SGD(groups, lr=0.01 * next(Drifting.builds))


class FlakyConfig(Config):
    n: int = 32


class Flaky(Dataset):
    """Unseeded draws, labels beyond n_outputs, a field without a description."""
    name = "contract-flaky"
    Config = FlakyConfig

    def load(self, seed):
        x, y = torch.randn(self.config.n, 4), torch.randint(0, 3, (self.config.n,))
        return Data((x, y), (x[:8], y[:8]), task="classification", n_outputs=2,
                    input_shape=(4,))


@hookimpl
def assay_register_methods():
    return [Frozen, Drifting]


@hookimpl
def assay_register_datasets():
    return [Flaky]
'''


@pytest.fixture
def bad(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    path = tmp_path / "contract_bad_plugin.py"
    path.write_text(BAD_PLUGIN)
    monkeypatch.setenv("ASSAY_PLUGINS", str(path))
    reg = registry()
    assert not reg.broken.get("contract_bad_plugin"), reg.broken
    return reg


def test_kit_rejects_an_optimizer_that_does_not_train(bad: Any) -> None:
    with pytest.raises(AssertionError, match="val/loss .* at step 0"):
        check_lowers_loss(bad.get("method", "contract-frozen"))


def test_kit_rejects_a_run_that_does_not_repeat(bad: Any) -> None:
    with pytest.raises(AssertionError, match="repeated differently"):
        check_repeats(bad.get("method", "contract-drifting"))


def test_kit_rejects_a_flaky_dataset(bad: Any) -> None:
    flaky = bad.get("dataset", "contract-flaky")
    with pytest.raises(AssertionError, match="without a description"):
        check_config(flaky)
    with pytest.raises(AssertionError, match="differs"):
        assert_same_data(flaky().load(0), flaky().load(0))
    with pytest.raises(AssertionError, match="labels in"):
        check_data(flaky().load(0))


def test_kit_rejects_a_non_kebab_name() -> None:
    from assay import Optimizer

    with pytest.raises(AssertionError, match="lowercase kebab"):
        check_name(type("Bad", (Optimizer,), {"name": "Bad_Name"}))


def test_run_tiny_puts_the_method_in_its_slot() -> None:
    result = run_tiny({"name": "sgd", "lr": 0.05, "momentum": 0.0}, "optimizer",
                      train={"steps": 12, "eval_every": 4})
    assert result.status == "finished", result.error
    assert [step for step, _ in result.history] == [4, 8, 12]
