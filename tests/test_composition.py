"""Methods from different plugins compose in one run (examples/composed.yaml)."""
from __future__ import annotations

from pathlib import Path

import pytest

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
