from __future__ import annotations

from importlib import resources

import pytest
import torch
from assay import UserError, load
from assay.claims import decide
from assay.testing import MethodContract, build_context, load_yaml, negative_control
from assay_random_sparse_search.claims import CLAIMS, search_no_better, selected_vs_average
from assay_random_sparse_search.method import (
    RandomNodeMask,
    active_weights,
    apply_node_masks,
    node_masks,
)
from torch import nn


def test_node_masks_keep_the_share_and_depend_only_on_the_mask_seed():
    a = node_masks([256, 256], 0.75, seed=3)
    assert [int(m.sum()) for m in a] == [64, 64]
    assert all(torch.equal(x, y) for x, y in zip(a, node_masks([256, 256], 0.75, seed=3)))
    assert not torch.equal(a[0], node_masks([256, 256], 0.75, seed=4)[0])
    assert not torch.equal(a[0], a[1])                    # layers drawn independently
    assert [int(m.sum()) for m in node_masks([10], 0.99, seed=0)] == [1]


def test_removed_units_are_cut_in_and_out():
    layers = [nn.Linear(3, 4), nn.Linear(4, 4), nn.Linear(4, 2)]
    masks = [torch.tensor([True, False, True, False]), torch.tensor([False, True, True, True])]
    apply_node_masks(layers, masks)
    assert torch.all(layers[0].weight[[1, 3]] == 0) and torch.all(layers[0].bias[[1, 3]] == 0)
    assert torch.all(layers[1].weight[:, [1, 3]] == 0) and torch.all(layers[1].weight[0] == 0)
    assert torch.all(layers[2].weight[:, 0] == 0) and torch.all(layers[2].weight[:, 1:] != 0)
    assert active_weights(layers, masks) == 3 * 2 + 2 * 3 + 3 * 2


def _ctx(sparsity: float = 0.5, mask_seed: int = 0, screen_at: int = 2):
    exp = {"dataset": {"name": "mnist1d", "n_train": 200, "n_val": 100},
           "model": {"name": "mlp", "width": 16, "depth": 2},
           "methods": {"pruning": {"name": "random-node-mask", "node_sparsity": sparsity,
                                   "mask_seed": mask_seed, "screen_at": screen_at}},
           "backend": {"name": "cpu"}, "train": {"steps": 4, "batch_size": 16, "seed": 7}}
    return build_context(load(exp).run)


def test_a_run_holds_the_mask_and_records_the_screening_loss():
    ctx = _ctx()
    method = ctx.methods["pruning"]
    method.setup(ctx)
    h0 = ctx.model.hidden[0].weight
    dead = (h0 == 0).all(1)
    assert int(dead.sum()) == 8
    ctx.optimizer = torch.optim.AdamW(ctx.model.parameters(), lr=1e-2, weight_decay=0.0)
    for step in (1, 2):
        x, y = ctx.batch()
        ctx.optimizer_step(ctx.loss(ctx.model, x, y), step)
    assert torch.all(ctx.model.hidden[0].weight[dead] == 0)
    assert torch.all(ctx.model.hidden[1].weight[:, dead] == 0)
    val = ctx.evaluate()
    assert ctx.final_metrics["search/screen_val_loss"] == val["val/loss"]
    assert ctx.final_metrics["search/screen_score"] == val["val/loss"]
    assert ctx.final_metrics["search/screen_val_acc"] == val["val/acc"]
    assert ctx.final_metrics["search/kept_units"] == 16.0


def test_same_run_seed_different_masks_share_the_initialisation():
    a, b = _ctx(mask_seed=0), _ctx(mask_seed=1)
    wa, wb = a.model.hidden[0].weight.detach(), b.model.hidden[0].weight.detach()
    assert torch.equal(wa, wb)                    # before setup: one initialisation
    a.methods["pruning"].setup(a)
    b.methods["pruning"].setup(b)
    assert not torch.equal(a.model.hidden[0].weight, b.model.hidden[0].weight)


def test_other_models_are_refused():
    exp = {"dataset": {"name": "digits"}, "model": {"name": "cnn"},
           "methods": {"pruning": {"name": "random-node-mask"}}, "backend": {"name": "cpu"},
           "train": {"steps": 2}}
    ctx = build_context(load(exp).run)
    with pytest.raises(UserError, match="'mlp'"):
        RandomNodeMask().setup(ctx)


class TestRandomNodeMaskContract(MethodContract):
    @pytest.fixture
    def component(self):
        return RandomNodeMask


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    loaded = load(load_yaml(resources.files("assay_random_sparse_search").joinpath(arm)))
    assert loaded.run.methods["pruning"]["screen_at"] == 32


def _level(screen: list[float], acc: list[float]) -> list[dict[str, float]]:
    return [{"search/screen_score": s, "val/acc": a, "methods.pruning.mask_seed": float(i)}
            for i, (s, a) in enumerate(zip(screen, acc))]


def test_selected_mask_is_the_lowest_screening_loss_against_the_others():
    acc, mean, gain = selected_vs_average(_level([1.0, 0.5, 0.9], [0.50, 0.62, 0.56]))
    assert acc == 0.62 and mean == pytest.approx(0.53) and gain == pytest.approx(9.0)


def _seed(gains: dict[str, float], base: float = 0.60) -> dict[str, float]:
    m = {}
    for arm, g in gains.items():
        accs = [base] * 6
        accs[2] = base + g / 100                 # the selected mask: lowest screening loss
        screens = [1.0] * 6
        screens[2] = 0.5
        for n, t in enumerate(_level(screens, accs)):
            m.update({f"{arm}/trials/{n}/{k}": v for k, v in t.items()})
    return m


def test_check_decides_from_the_interval_over_seeds():
    null = [_seed({"sp50": d, "sp75": -d, "sp90": d}) for d in (0.1, -0.2, 0.0, 0.15)]
    assert decide([search_no_better(m) for m in null]).status == "PASS"
    better = [_seed({"sp50": 0.0, "sp75": 0.0, "sp90": 3.0 + d}) for d in (0.1, -0.2, 0.0)]
    assert decide([search_no_better(m) for m in better]).status == "FAIL"
    noisy = [_seed({"sp50": 0.0, "sp75": 0.0, "sp90": d}) for d in (4.0, -3.0, 0.5)]
    assert decide([search_no_better(m) for m in noisy]).status == "INCONCLUSIVE"


def test_a_level_with_too_few_masks_or_at_chance_is_invalid():
    m = _seed({"sp50": 0.0, "sp75": 0.0, "sp90": 0.0})
    short = {k: v for k, v in m.items() if not (k.startswith("sp75/trials/") and
                                                int(k.split("/")[2]) >= 3)}
    d = decide([search_no_better(short)] * 3)
    assert d.status == "INVALID" and "sp75" in d.reason
    chance = _seed({"sp50": 0.0, "sp75": 0.0, "sp90": 0.0}, base=0.11)
    assert decide([search_no_better(chance)] * 3).status == "INVALID"


def test_screening_by_error_scores_one_minus_accuracy():
    ctx = _ctx(screen_at=1)
    ctx.methods["pruning"] = method = type(ctx.methods["pruning"])(
        type(ctx.methods["pruning"].config)(node_sparsity=0.5, screen_at=1,
                                            screen_by="val_error"))
    method.setup(ctx)
    method.prune(ctx, 1)
    assert ctx.final_metrics["search/screen_score"] == 1 - ctx.evaluate()["val/acc"]


@pytest.mark.slow
def test_negative_control_selection_by_final_accuracy_does_not_pass(tmp_path):
    """Screening by validation error at the last step selects the mask with the best final
    accuracy (an oracle that sees the end of training): it beats the others' mean by
    construction, so the claim must not PASS (smoke budget, 3 seeds)."""
    late = {"methods.pruning.screen_at": 64, "methods.pruning.screen_by": "val_error"}
    out = negative_control("random-sparse-search:search-no-better",
                           overrides={"sp50": late, "sp75": late, "sp90": late}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
