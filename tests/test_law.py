"""Law studies: robust optima, power-law fits with intervals, predictions before holdouts."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assay._drive.run import load
from assay._drive.law import run_law
from assay._drive.lawfit import estimate_optimum, fit_law, vertex
from assay._record.tracking import Store

ROOT = Path(__file__).resolve().parents[1]
SYNTH = str(ROOT / "tests" / "plugins" / "synthetic_law.py")


def experiment(trials: int, widths=(16, 64, 256, 1024), holdout=4096) -> dict:
    return {
        "name": f"law-synth-{trials}",
        "dataset": {"name": "synthetic-regression", "n_train": 8, "n_val": 8, "dim": 2},
        "model": {"name": "mlp", "width": 16, "depth": 1},
        "methods": {"trainer": {"name": "synthetic-law"}},
        "backend": {"name": "cpu"},
        "train": {"steps": 1, "eval_every": 1},
        "sweep": {"trials": trials, "sampler": "random",
                  "space": {"methods.trainer.lr": {"log_uniform": [1e-4, 1.0]}}},
        "law": {"scale": {"model.width": list(widths)}, "tune": ["methods.trainer.lr"],
                "seeds": [0], "holdout": [{"model.width": holdout}], "n_boot": 100},
    }


def test_vertex_finds_a_quadratic_minimum():
    x = np.linspace(-3, 3, 13)
    assert vertex(x, (x - 0.7) ** 2) == pytest.approx(0.7, abs=1e-6)


def test_optimum_interval_covers_truth_on_noisy_data():
    rng = np.random.default_rng(1)
    lr = np.exp(rng.uniform(np.log(1e-4), 0, 40))
    loss = 1 + 0.1 * (np.log(lr) - np.log(3e-3)) ** 2 + 0.02 * rng.normal(size=40)
    o = estimate_optimum(lr, loss, n_boot=200)
    assert o.low < 3e-3 < o.high and o.low < o.value < o.high


def test_fit_recovers_a_known_exponent():
    from assay._drive.lawfit import Optimum

    widths = np.array([[16.0], [64.0], [256.0]])
    opts = [Optimum(0.5 * w ** -0.5, 0, 0, 10, np.log(0.5 * w ** -0.5) + np.zeros(50))
            for w in widths[:, 0]]
    fit, _ = fit_law(["model.width"], widths, opts)
    assert fit.coef[1] == pytest.approx(-0.5) and fit.r2 == pytest.approx(1.0)
    assert fit.predict([1024]) == pytest.approx(0.5 * 1024 ** -0.5)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return Store.resolve(root=tmp_path / "assay-runs")


def _exponent(result):
    fit = result.fits["methods.trainer.lr"]
    return fit.coef[1], fit.ci_low[1], fit.ci_high[1]


def test_law_recovers_exponent_and_interval_shrinks_with_trials(store):
    few = run_law(load(experiment(10), plugins=[SYNTH]), store=store, workers=0, progress=False)
    many = run_law(load(experiment(40), plugins=[SYNTH]), store=store, workers=0, progress=False)
    for result in (few, many):
        est, lo, hi = _exponent(result)
        assert lo <= -0.5 <= hi, (est, lo, hi)
    assert (_exponent(many)[2] - _exponent(many)[1]) < (_exponent(few)[2] - _exponent(few)[1])
    # the prediction was written down before the holdout ran, and scored after
    ledger = json.loads((store.root / "laws" / "law-synth-40" / "predictions.json").read_text())
    assert ledger[0]["scale"] == {"model.width": 4096}
    h = many.holdout[0]
    assert abs(h["error_octaves"]["methods.trainer.lr"]) < 1.0
    assert h["loss_ratio"] < 1.1
    # plots and the summary are artifacts of the law's parent run
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=store.tracking_uri)
    names = {Path(a.path).name for a in client.list_artifacts(many.parent_run_id, "law")}
    assert {"landscape_lr.png", "law_lr.png", "summary.csv", "summary.md",
            "predictions.json"} <= names


def test_rerunning_a_law_study_trains_nothing_new(store):
    exp = experiment(8, widths=(16, 256), holdout=1024)
    first = run_law(load(exp, plugins=[SYNTH]), store=store, workers=0, progress=False)
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=store.tracking_uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    n_runs = len(client.search_runs(ids, "tags.`assay.status` = 'finished'", max_results=5000))
    again = run_law(load(exp, plugins=[SYNTH]), store=store, workers=0, progress=False)
    assert len(client.search_runs(ids, "tags.`assay.status` = 'finished'",
                                  max_results=5000)) == n_runs
    assert _exponent(again) == pytest.approx(_exponent(first))
