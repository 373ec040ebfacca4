from __future__ import annotations

from importlib import resources

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.lib.pruning import magnitude_masks
from assay.testing import MethodContract, load_yaml, negative_control, run_experiment
from assay_activating_while_pruning.claims import (
    CLAIMS,
    ap_raises_accuracy,
    dnr_falls_with_sparsity,
)
from assay_activating_while_pruning.method import (
    ActivatingWhilePruning,
    APConfig,
    DeadCounter,
    ap_masks,
)
from pydantic import ValidationError
from torch import nn


def test_ap_removes_the_negative_weights_that_moved_least():
    params = {"a": torch.tensor([[-1.0, -2.0], [3.0, -0.5]]), "b": torch.tensor([-4.0, 0.1])}
    start = {"a": torch.tensor([[-1.1, 0.0], [0.0, -0.45]]), "b": torch.tensor([-1.0, 0.0])}
    masks = {"a": torch.tensor([[True, True], [True, True]]), "b": torch.tensor([False, True])}
    # retained negatives and their movement: a00 0.1, a01 2.0, a11 0.05 (b0 is pruned already)
    out = ap_masks(params, masks, start, 2)
    assert out["a"].tolist() == [[False, True], [True, False]]
    assert out["b"].tolist() == [False, True]
    everything = ap_masks(params, masks, start, 10)          # only negatives can go
    assert everything["a"].tolist() == [[False, False], [True, False]]


def test_dead_counter_counts_training_forwards_only():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]))
        model[0].bias.zero_()
    x = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])      # outputs [1, 0, 1] and [0, 1, 0]
    with DeadCounter(model) as dead:
        model.train()
        model(x)
        model.eval()
        model(torch.full((5, 2), -3.0))                # all dead, but not a training pass
    assert dead.zeros == 3 and dead.total == 6 and dead.rate == 0.5
    assert not model[1]._forward_hooks


def test_round_budget_is_split_between_magnitude_and_ap():
    method = ActivatingWhilePruning(APConfig(fixed_ratio=0.5, ap_share=0.1, ap_from=2))
    method.round_ = 0                                  # pruning round 1: before ap_from
    assert method.ap_count(1000) == 0 and method.n_prune(torch.ones(1000)) == 500
    method.round_ = 1
    assert method.ap_count(1000) == 50 and method.n_prune(torch.ones(1000)) == 450


def test_next_masks_is_magnitude_pruning_plus_ap():
    torch.manual_seed(0)
    params = {"w1": torch.randn(8, 6), "w2": torch.randn(4, 8)}
    start = {k: v + 0.3 * torch.randn_like(v) for k, v in params.items()}
    masks = {k: torch.ones_like(v, dtype=torch.bool) for k, v in params.items()}
    method = ActivatingWhilePruning(APConfig(fixed_ratio=0.5, ap_share=0.25))
    method.round_, method.start = 0, start
    out = method.next_masks(params, masks)
    removed = sum(int((~m).sum()) for m in out.values())
    assert removed == 40                               # half of the 80 weights
    magnitude = magnitude_masks(params, 30 / 80, "global")   # 40 - round(0.25 * 40) = 30
    extra = {k: magnitude[k] & ~out[k] for k in params}
    assert sum(int(e.sum()) for e in extra.values()) == 10
    assert all(bool((params[k][extra[k]] < 0).all()) for k in params)
    assert all(bool((~magnitude[k] <= ~out[k]).all()) for k in params)   # superset of removals


def test_config_refuses_a_layerwise_scope():
    with pytest.raises(ValidationError, match="scope: global"):
        APConfig(scope="layer")


def _tiny(trainer: dict) -> dict:
    return {"dataset": {"name": "mnist1d", "n_train": 400, "n_val": 200},
            "model": {"name": "mlp", "width": 32, "depth": 2},
            "methods": {"trainer": trainer, "optimizer": {"name": "adamw", "lr": 3e-3}},
            "backend": {"name": "cpu"}, "train": {"steps": 60, "batch_size": 32,
                                                  "eval_every": 20, "seed": 1}}


def test_ap_share_zero_is_pqi_sap_prunings_imp():
    imp = {"rounds": 2, "fixed_ratio": 0.5, "rule": "fixed", "scope": "global"}
    ours = run_experiment(_tiny({"name": "activating-while-pruning", "ap_share": 0.0, **imp}))
    base = run_experiment(_tiny({"name": "pqi-sap-pruning", **imp}))
    assert ours.status == base.status == "finished", (ours.error, base.error)
    for t in range(3):
        for key in ("val_acc", "density"):
            assert ours.metrics[f"round/{t}/{key}"] == base.metrics[f"round/{t}/{key}"]
        assert 0 < ours.metrics[f"round/{t}/dnr"] < 1


def test_ap_changes_the_mask_but_not_the_density():
    common = {"name": "activating-while-pruning", "rounds": 2, "fixed_ratio": 0.5}
    ap = run_experiment(_tiny({**common, "ap_share": 0.5}))
    imp = run_experiment(_tiny({**common, "ap_share": 0.0}))
    for t in (1, 2):
        assert ap.metrics[f"round/{t}/density"] == imp.metrics[f"round/{t}/density"]
    # half of round 2's removals is more than the negative weights round 1 left: topped up
    assert ap.metrics["round/2/ap_shortfall"] > 0 == imp.metrics["round/2/ap_shortfall"]
    assert ap.metrics["round/2/val_acc"] != imp.metrics["round/2/val_acc"] or \
        ap.metrics["round/2/val_loss"] != imp.metrics["round/2/val_loss"]


class TestAPContract(MethodContract):
    @pytest.fixture
    def component(self):
        return ActivatingWhilePruning


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files("assay_activating_while_pruning").joinpath(arm))).run
    assert run.methods["trainer"]["rounds"] == 5


def _seed(ap91: float, ap95: float, imp91: float = 0.60, imp95: float = 0.58,
          dnr91: float = 0.30, dnr95: float = 0.28, dense: float = 0.63) -> dict[str, float]:
    m = {}
    for arm in ("ap", "imp"):
        for t in range(6):
            m[f"{arm}/round/{t}/val_acc"] = dense
            m[f"{arm}/round/{t}/density"] = 0.5493 ** t
            m[f"{arm}/round/{t}/dnr"] = 0.4
    m.update({"ap/round/4/val_acc": ap91, "ap/round/5/val_acc": ap95,
              "imp/round/4/val_acc": imp91, "imp/round/5/val_acc": imp95,
              "imp/round/4/dnr": dnr91, "imp/round/5/dnr": dnr95})
    return m


def test_accuracy_check_decides_from_the_interval_over_seeds():
    good = [_seed(0.63, 0.61), _seed(0.625, 0.605), _seed(0.635, 0.60)]
    assert decide([ap_raises_accuracy(m) for m in good]).status == "PASS"
    only_at_91 = [_seed(0.63, 0.58), _seed(0.625, 0.581), _seed(0.635, 0.579)]
    assert decide([ap_raises_accuracy(m) for m in only_at_91]).status == "FAIL"
    noisy = [_seed(0.65, 0.62), _seed(0.58, 0.55), _seed(0.63, 0.61)]
    assert decide([ap_raises_accuracy(m) for m in noisy]).status == "INCONCLUSIVE"


def test_dnr_check_and_guards():
    falls = [_seed(0.6, 0.6, dnr91=0.30, dnr95=0.28 + d) for d in (0.0, 0.001, -0.001)]
    assert decide([dnr_falls_with_sparsity(m) for m in falls]).status == "PASS"
    rises = [_seed(0.6, 0.6, dnr91=0.30, dnr95=0.32 + d) for d in (0.0, 0.001, -0.001)]
    assert decide([dnr_falls_with_sparsity(m) for m in rises]).status == "FAIL"
    at_chance = [_seed(0.1, 0.1, dense=0.12)] * 3
    assert decide([ap_raises_accuracy(m) for m in at_chance]).status == "INVALID"
    short = {k: v for k, v in _seed(0.6, 0.6).items() if "/round/5/" not in k}
    d = decide([dnr_falls_with_sparsity(short)] * 3)
    assert d.status == "INVALID" and "[5]" in d.reason


@pytest.mark.slow
def test_negative_control_ap_arm_without_ap_does_not_pass(tmp_path):
    """The AP arm with ap_share 0 is plain IMP: its gain is zero, so the claim must not PASS
    (smoke budget, 3 seeds)."""
    out = negative_control("activating-while-pruning:ap-raises-accuracy",
                           overrides={"ap": {"methods.trainer.ap_share": 0.0}}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_dnr_without_pruning_between_the_rounds_does_not_pass(tmp_path):
    """With a pruning share too small to remove any weight (round(3e-6 x ~300k) = 1 weight per
    round), rounds 4 and 5 train the same network: no sparsity difference, so the claim must
    not PASS (smoke budget, 3 seeds)."""
    out = negative_control("activating-while-pruning:dnr-falls-with-sparsity",
                           overrides={"imp": {"methods.trainer.fixed_ratio": 3e-6}}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
