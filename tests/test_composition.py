"""Methods from different plugins compose in one run (examples/composed.yaml)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from assay._drive.run import load
from assay._run.loop import execute

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_lion_pruning_and_data_selection_in_one_run():
    loaded = load(str(ROOT / "examples" / "composed.yaml"),
                  ["train.steps=300", "train.eval_every=50", "methods.data.probe_epochs=1"])
    assert set(loaded.run.methods) == {"data", "optimizer", "schedule", "pruning"}
    owners = {loaded.registry.owner[("method", m["name"])] for m in loaded.run.methods.values()}
    assert {"lion", "agp-gradual-pruning", "el2n-data-diet"} <= owners
    result = execute(loaded.run)
    assert result.status == "finished", result.error
    m = result.metrics
    assert abs(m["sparsity/actual"] - 0.8) < 0.02          # pruning reached its target
    first, last = result.history[0][1]["val/loss"], result.history[-1][1]["val/loss"]
    assert last < first and m["val/acc"] > 0.12            # it learns (10 classes: chance 0.1)
    kept = [k for k in m if k.startswith("data/")]
    assert kept, m                                          # the selection reported what it kept


FIXTURE = str(ROOT / "tests" / "plugins" / "halfmask.py")


def _trainers() -> list[str]:
    from assay._plugins.registry import registry

    methods = registry().components["method"]
    return sorted(n for n, c in methods.items() if getattr(c, "slot", "") == "trainer")


@pytest.mark.slow
@pytest.mark.parametrize("trainer", _trainers())
def test_a_pruning_method_composes_with_every_plugin_trainer(trainer):
    """A custom trainer takes its steps through ctx.optimizer_step, so a pruning method in
    the same run sees every step: its masked weights end at zero and the trained weights
    differ from the same run without it."""
    from assay._plugins.registry import registry
    from assay.testing import execute, experiment_for

    cls = registry().components["method"][trainer]
    exp = experiment_for(cls)
    exp["train"] = {**exp.get("train", {}), "steps": 6, "eval_every": 3}
    plain = load(exp).run
    pruned = load({**exp, "methods": {**exp["methods"], "pruning": {"name": "halfmask"}}},
                  plugins=[FIXTURE]).run
    a = execute(plain, keep_state=True)
    b = execute(pruned, keep_state=True)
    assert a.status == b.status == "finished", (a.error, b.error)
    assert b.metrics["halfmask/steps"] >= 1, "the trainer never called the pruning hook"
    weights = [k for k, v in b.state_dict.items() if v.dim() >= 2 and v.is_floating_point()]
    assert weights
    for k in weights:
        v = b.state_dict[k]
        flat = v.flatten()
        assert torch.all(flat[: v.numel() // 2] == 0), f"{trainer}: {k} not masked"
    assert any(not torch.equal(a.state_dict[k], b.state_dict[k]) for k in weights)
