"""Law studies through the real command path: the optimum estimator, the fit's intervals,
predictions written before holdouts run, reuse on re-run, refusals before any work."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from assay._drive.law import parse_law, run_law
from assay._drive.lawfit import fit_law, point_estimate
from assay._drive.run import load
from assay._record.tracking import Store
from assay.errors import UserError
from assay.lib.optimum import Optimum, estimate_optimum, grid_at_edge, grid_optimum, window_vertex

ROOT = Path(__file__).resolve().parents[1]
SYNTH = str(ROOT / "tests" / "plugins" / "synthetic_law.py")
LR = "methods.trainer.lr"


def experiment(trials: int, widths=(16, 64, 256, 1024), holdout=4096, name=None) -> dict:
    return {
        "name": name or f"law-synth-{trials}",
        "dataset": {"name": "synthetic-regression", "n_train": 8, "n_val": 8, "dim": 2},
        "model": {"name": "mlp", "width": 16, "depth": 1},
        "methods": {"trainer": {"name": "synthetic-law"}},
        "backend": {"name": "cpu"},
        "train": {"steps": 1, "eval_every": 1},
        "sweep": {"trials": trials, "sampler": "tpe", "n_startup_trials": 4,
                  "space": {LR: {"log_uniform": [1e-4, 1.0]}}},
        "law": {"scale": {"model.width": list(widths)}, "tune": [LR],
                "seeds": [0], "holdout": [{"model.width": holdout}], "n_boot": 100},
    }


# --- the estimator -------------------------------------------------------------------------------

def test_window_vertex_finds_a_quadratic_minimum():
    x = np.linspace(-3, 3, 13)
    v, inside = window_vertex(x, (x - 0.7) ** 2, half_width=2.0)
    assert v == pytest.approx(0.7, abs=1e-6) and inside.sum() >= 7


def test_a_lopsided_valley_is_not_tilted_toward_its_gentle_side():
    # gentle below the optimum, a cliff above: a parabola's vertex would sit ~0.4 below
    d = np.linspace(-3, 3, 25)
    v, _ = window_vertex(d, np.exp(d) - d - 1, half_width=3.0)
    assert abs(v) < 0.25


def test_optimum_interval_covers_truth_on_noisy_data():
    rng = np.random.default_rng(1)
    lr = np.exp(rng.uniform(np.log(1e-4), 0, 40))
    loss = 1 + 0.1 * (np.log(lr) - np.log(3e-3)) ** 2 + 0.02 * rng.normal(size=40)
    o = estimate_optimum(lr, loss, n_boot=200)
    assert o.low < 3e-3 < o.high and o.low < o.value < o.high
    assert o.bracketed and o.n_below >= 2 and o.n_above >= 2 and o.n_distinct == 40


def test_an_optimum_beyond_the_trials_is_censored_on_its_side():
    lr = np.geomspace(1e-4, 1e-2, 12)              # the optimum, 1e-1, lies above them all
    assert estimate_optimum(lr, 1 + 0.1 * np.log(lr / 1e-1) ** 2).censored == "high"
    lr = np.geomspace(1e-2, 1.0, 12)               # ... and 1e-3 below them all
    assert estimate_optimum(lr, 1 + 0.1 * np.log(lr / 1e-3) ** 2).censored == "low"
    lr = np.geomspace(1e-4, 1.0, 12)               # an optimum inside, near the top
    o = estimate_optimum(lr, 1 + 0.1 * np.log(lr / 0.7) ** 2)
    assert o.censored == "high" and o.n_above < 2


def test_independent_bootstrap_streams_differ():
    rng = np.random.default_rng(2)
    lr = np.exp(rng.uniform(np.log(1e-4), 0, 20))
    loss = 1 + 0.1 * (np.log(lr) - np.log(3e-3)) ** 2 + 0.02 * rng.normal(size=20)
    a, b = estimate_optimum(lr, loss, seed=1), estimate_optimum(lr, loss, seed=2)
    assert a.value == b.value and not np.array_equal(a.samples, b.samples)


def test_grid_estimator_keeps_its_behaviour():
    grid = [1e-3, 2e-3, 4e-3, 8e-3]
    true = 3e-3
    pts = [(x, (math.log(x) - math.log(true)) ** 2) for x in grid]
    assert grid_optimum(pts) == pytest.approx(true, rel=1e-6)
    assert grid_optimum([(x, x) for x in grid]) == grid[0] and grid_at_edge([(x, x) for x in grid])
    assert not grid_at_edge(pts) and math.isnan(grid_optimum([]))


# --- the fit -------------------------------------------------------------------------------------

def _opt(value: float, sd: float) -> Optimum:
    return Optimum(value, value, value, sd, True, 10, 10, 3, 3)


def test_fit_recovers_a_known_exponent():
    widths = [16.0, 64.0, 256.0]
    pts = [point_estimate([_opt(0.5 * w ** -0.5, 0.05)]) for w in widths]
    fit = fit_law(["model.width"], [[w] for w in widths], pts)
    assert fit.coef[1] == pytest.approx(-0.5) and fit.r2 == pytest.approx(1.0)
    assert fit.ci_low[1] < -0.5 < fit.ci_high[1] and fit.tau == 0
    assert fit.predict([1024]) == pytest.approx(0.5 * 1024 ** -0.5)


def test_lack_of_fit_widens_the_interval():
    widths = [16.0, 32.0, 64.0, 128.0, 256.0]
    wobble = [0.3, -0.3, 0.3, -0.3, 0.3]              # far more than each point's own sd
    tight = fit_law(["w"], [[w] for w in widths],
                    [point_estimate([_opt(w ** -0.5, 0.02)]) for w in widths])
    loose = fit_law(["w"], [[w] for w in widths],
                    [point_estimate([_opt(w ** -0.5 * math.exp(e), 0.02)])
                     for w, e in zip(widths, wobble)])
    assert loose.tau > 0.2 and tight.tau == 0
    assert loose.ci_high[1] - loose.ci_low[1] > 5 * (tight.ci_high[1] - tight.ci_low[1])
    lo, hi = loose.predict_interval([512])
    assert math.log(hi / lo) > 2 * 1.96 * loose.tau      # a new point misses the law too


def test_spread_across_law_seeds_enters_a_point():
    agree = point_estimate([_opt(1e-2, 0.01), _opt(1e-2, 0.01)])
    differ = point_estimate([_opt(1e-2, 0.01), _opt(4e-2, 0.01)])
    assert differ[1] > 10 * agree[1]


# --- refusals ------------------------------------------------------------------------------------

@pytest.mark.parametrize("widths", [[64], [64, 256]])
def test_a_law_with_fewer_than_three_scale_points_is_refused(widths):
    with pytest.raises(UserError, match="at least 3 scale points"):
        parse_law({"scale": {"model.width": widths}, "tune": [LR]})
    with pytest.raises(UserError, match="must be distinct"):
        parse_law({"scale": {"model.width": [64, 64, 64]}, "tune": [LR]})


def test_one_scale_point_exits_2_before_any_run(tmp_path, monkeypatch, capsys):
    from assay._cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "law.yaml").write_text(yaml.safe_dump(experiment(8, widths=(64,))))
    code = main(["law", str(tmp_path / "law.yaml"), "--workers", "0", "--plugin", SYNTH])
    err = capsys.readouterr().err
    assert code == 2 and "at least 3 scale points" in err and "Traceback" not in err
    assert not (tmp_path / "assay-runs" / "optuna").exists()        # no study was started


# --- the whole study on the sweep driver, MLflow and all -----------------------------------------

@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return Store.resolve(root=tmp_path / "assay-runs")


def _exponent(result):
    fit = result.fits[LR]
    return fit.coef[1], fit.ci_low[1], fit.ci_high[1]


@pytest.mark.slow
def test_law_study_end_to_end(store):
    exp = experiment(10)
    result = run_law(load(exp, plugins=[SYNTH]), store=store, workers=0, progress=False)
    est, lo, hi = _exponent(result)
    assert lo <= -0.5 <= hi, (est, lo, hi)
    # every point (and the holdout) searched with its own sampler seed, bracketed
    seeds = [s for p in result.points + [result.holdout[0]["point"]] for s in p.sampler_seeds]
    assert len(set(seeds)) == len(seeds)
    assert all(p.optima[LR].bracketed and p.shared[LR] == 0 for p in result.points)
    # the prediction was written down before the holdout ran, and scored after
    ledger = json.loads((store.root / "laws" / "law-synth-10" / "predictions.json").read_text())
    assert ledger[0]["scale"] == {"model.width": 4096}
    h = result.holdout[0]
    assert abs(h["error_octaves"][LR]) < 1.0 and h["loss_ratio"] < 1.1
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=store.tracking_uri)
    names = {Path(a.path).name for a in client.list_artifacts(result.parent_run_id, "law")}
    assert {"landscape_lr.png", "law_lr.png", "summary.csv", "summary.md", "design.json",
            "predictions.json"} <= names
    design = json.loads((store.root / "laws" / "law-synth-10" / "design.json").read_text())
    assert [r["trials"] for r in design["points"]] == [len(p.trials) for p in
                                                       result.points + [h["point"]]]


@pytest.mark.slow
def test_rerunning_a_law_study_trains_nothing_new(store):
    exp = experiment(8, widths=(16, 64, 256), holdout=1024, name="law-rerun")
    exp["sweep"]["space"][LR] = {"log_uniform": [3e-3, 1.0]}
    first = run_law(load(exp, plugins=[SYNTH]), store=store, workers=0, progress=False)
    assert first.fits, first.refused
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=store.tracking_uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    n_runs = len(client.search_runs(ids, "tags.`assay.status` = 'finished'", max_results=5000))
    again = run_law(load(exp, plugins=[SYNTH]), store=store, workers=0, progress=False)
    assert len(client.search_runs(ids, "tags.`assay.status` = 'finished'",
                                  max_results=5000)) == n_runs
    assert _exponent(again) == pytest.approx(_exponent(first))
