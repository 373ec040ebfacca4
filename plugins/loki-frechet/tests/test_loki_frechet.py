from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import (
    DatasetContract,
    MethodContract,
    build,
    execute,
    load_yaml,
    negative_control,
)
from assay_loki_frechet.claims import CLAIMS, lowers_distance, predicts_unseen
from assay_loki_frechet.data import OrdinalBins
from assay_loki_frechet.method import Loki, compare_rules, frechet_predict, label_distances

# --- the rule against the paper's definition, by hand ------------------------------------------


def test_frechet_mean_on_a_line_by_hand():
    # labels 0..4, observed {0, 4}. cost(y) = P0 y^2 + P1 (y - 4)^2
    d = label_distances(5, "line")[:, [0, 4]]
    probs = torch.tensor([[0.5, 0.5],      # costs 8, 5, 4, 5, 8  -> 2 (never observed)
                          [0.75, 0.25],    # costs 4, 3, 4, 7, 12 -> 1
                          [1.0, 0.0]])     # -> 0, the observed class itself
    assert frechet_predict(probs, d).tolist() == [2, 1, 0]


def test_on_a_line_it_is_the_label_nearest_the_weighted_mean():
    torch.manual_seed(0)
    observed = torch.tensor([0, 5, 10, 15, 19])
    probs = torch.softmax(3 * torch.randn(200, 5), dim=1)
    pred = frechet_predict(probs, label_distances(20, "line")[:, observed])
    mean = probs.double() @ observed.double()
    assert ((pred.double() - mean).abs() <= 0.5 + 1e-9).all()


def test_under_the_discrete_metric_it_is_argmax():
    torch.manual_seed(1)
    observed = torch.tensor([2, 3, 7])
    probs = torch.softmax(2 * torch.randn(100, 3), dim=1)
    pred = frechet_predict(probs, label_distances(10, "discrete")[:, observed])
    assert torch.equal(pred, observed[probs.argmax(1)])


def test_compare_rules_scores_both_rules_on_the_same_outputs():
    # 5 labels, observed {0, 4}; logits outside the observed columns are ignored
    observed = torch.tensor([0, 4])
    logits = torch.tensor([[0.0, 9.0, 9.0, 9.0, 0.0],        # P = (.5, .5): loki 2, argmax 0
                           [math.log(3), 0.0, 0.0, 0.0, 0.0],  # P = (.75, .25): loki 1
                           [5.0, 0.0, 0.0, 0.0, -5.0]])      # P ~ (1, 0): both 0
    y = torch.tensor([2, 1, 0])
    out = compare_rules(logits, y, observed, "line")
    assert out["argmax/msd"] == pytest.approx((4 + 1 + 0) / 3)
    assert out["loki/msd"] == pytest.approx(0.0)
    assert out["loki/unseen_exact"] == 1.0 and out["argmax/unseen_exact"] == 0.0
    assert out["loki/n_unseen"] == 2 and out["loki/unseen_share"] == pytest.approx(2 / 3)
    assert out["argmax/acc"] == pytest.approx(1 / 3) and out["loki/acc"] == 1.0


# --- the ordinal dataset ------------------------------------------------------------------------


def test_training_shows_only_the_observed_bins_and_the_test_split_covers_all():
    data = build("dataset", {"name": "loki-frechet-ordinal"}).load(0)
    assert set(data.train[1].unique().tolist()) == {0, 5, 10, 15, 19}
    assert set(data.val[1].unique().tolist()) == {0, 5, 10, 15, 19}
    assert set(data.test[1].unique().tolist()) == set(range(20))
    assert data.train[0].shape == (1000, 16) and data.n_outputs == 20


def test_each_seed_draws_its_own_data_unless_data_seed_is_fixed():
    free = build("dataset", {"name": "loki-frechet-ordinal", "n_train": 50})
    assert not torch.equal(free.load(0).train[0], free.load(1).train[0])
    fixed = build("dataset", {"name": "loki-frechet-ordinal", "n_train": 50, "data_seed": 3})
    assert torch.equal(fixed.load(0).train[0], fixed.load(1).train[0])


def test_bad_observed_bins_are_refused():
    with pytest.raises(ValueError, match="observed"):
        OrdinalBins.Config(n_bins=10, observed=[0, 12])


class TestOrdinalContract(DatasetContract):
    @pytest.fixture
    def component(self):
        return OrdinalBins


# --- the trainer through assay ------------------------------------------------------------------


def test_a_run_records_both_rules_on_the_test_split():
    exp = {"dataset": {"name": "loki-frechet-ordinal", "n_train": 300, "n_test": 400},
           "model": {"name": "linear"},
           "methods": {"trainer": {"name": "loki-frechet"},
                       "optimizer": {"name": "adamw", "lr": 3e-2}},
           "backend": {"name": "cpu"}, "train": {"steps": 150, "batch_size": 64,
                                                 "eval_every": 50}}
    result = execute(load(exp).run)
    assert result.status == "finished", result.error
    m = result.metrics
    assert m["val/acc"] > 0.9 and m["loki/n_observed"] == 5
    assert m["argmax/unseen_share"] == 0.0 and m["argmax/unseen_exact"] == 0.0
    assert 0 < m["loki/n_unseen"] < 400
    assert all(math.isfinite(m[f"{r}/msd"]) for r in ("loki", "argmax"))


class TestLokiContract(MethodContract):
    @pytest.fixture
    def component(self):
        return Loki


def test_the_arm_file_loads():
    arm = resources.files("assay_loki_frechet").joinpath("configs/ordinal.yaml")
    run = load(load_yaml(arm)).run
    assert run.methods["trainer"]["metric"] == "line" and run.dataset["data_seed"] is None


# --- the checks on made-up numbers --------------------------------------------------------------


def _seed(loki_msd: float = 0.8, argmax_msd: float = 1.8, unseen: float = 0.35,
          val_acc: float = 0.98, n_unseen: float = 1500.0) -> dict[str, float]:
    return {"ordinal/val/acc": val_acc, "ordinal/loki/n_unseen": n_unseen,
            "ordinal/loki/msd": loki_msd, "ordinal/argmax/msd": argmax_msd,
            "ordinal/loki/acc": 0.3, "ordinal/argmax/acc": 0.25,
            "ordinal/loki/unseen_exact": unseen, "ordinal/argmax/unseen_exact": 0.0,
            "ordinal/loki/unseen_share": 0.6}


def test_checks_decide_from_the_interval_over_seeds():
    good = [_seed(0.8), _seed(0.9), _seed(0.85), _seed(0.7), _seed(0.95)]
    assert decide([lowers_distance(m) for m in good]).status == "PASS"
    poor = [_seed(1.7), _seed(1.75), _seed(1.6), _seed(1.8), _seed(1.65)]
    assert decide([lowers_distance(m) for m in poor]).status == "FAIL"
    mixed = [_seed(0.5), _seed(1.7), _seed(1.0)]
    assert decide([lowers_distance(m) for m in mixed]).status == "INCONCLUSIVE"
    assert decide([predicts_unseen(_seed(unseen=u)) for u in (.3, .32, .28)]).status == "PASS"
    assert decide([predicts_unseen(_seed(unseen=u)) for u in (.1, .12, .08)]).status == "FAIL"


@pytest.mark.parametrize("check", [lowers_distance, predicts_unseen])
def test_guards(check):
    untrained = [_seed(val_acc=0.21)] * 3
    assert decide([check(m) for m in untrained]).status == "INVALID"
    diverged = [_seed(val_acc=math.nan)] * 3
    assert decide([check(m) for m in diverged]).status == "INVALID"
    nothing_unseen = [_seed(n_unseen=0.0)] * 3
    assert decide([check(m) for m in nothing_unseen]).status == "VACUOUS"


@pytest.mark.slow
@pytest.mark.parametrize("claim", [c.id for c in CLAIMS])
def test_negative_control_the_discrete_metric_does_not_pass(claim, tmp_path):
    """With the discrete metric the Frechet mean is argmax: no distance is cut and no unseen
    bin is ever named, so neither claim may PASS (smoke budget, 3 seeds)."""
    out = negative_control(claim, overrides={"ordinal": {"methods.trainer.metric": "discrete"}},
                           seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
