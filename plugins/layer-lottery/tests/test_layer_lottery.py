from __future__ import annotations

import copy
import math
from importlib import resources

import pytest
import torch
import torch.nn.functional as F
from assay import UserError, load
from assay.claims import decide
from assay.testing import MethodContract, build, build_context, execute, load_yaml, negative_control
from assay_layer_lottery.claims import CLAIMS, filters_lose_more, layer_ticket_wins
from assay_layer_lottery.method import FilterLottery, LayerLottery, regroup
from assay_layer_lottery.tickets import (
    block_importance,
    block_parameters,
    channel_importance,
    conv_macs,
    keep_channels,
    remove_blocks,
)
from torch import nn

DATA = {"name": "mnist1d", "n_train": 128, "n_val": 64}
MODEL = {"name": "cnn", "channels": 6, "depth": 5, "kernel_size": 3, "norm": "batch",
         "residual": True}


def _net(seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    data = build("dataset", DATA).load(0)
    torch.manual_seed(seed)
    return build("model", MODEL).build(data), data.train[0][:32], data.train[1][:32]


def _skipping(model: nn.Module, x: torch.Tensor, skip: set[int]) -> torch.Tensor:
    """The dense model's forward, written out, with residual blocks ``skip`` left out."""
    h = x.unsqueeze(1)
    for i, (conv, norm) in enumerate(zip(model.convs, model.norms)):
        if i - 1 in skip:
            continue
        out = F.relu(norm(conv(h)))
        h = h + out if i > 0 else out
    return model.readout(h.mean(2))


# --- the surgery --------------------------------------------------------------------------------


def test_removing_blocks_leaves_the_identity_in_their_place():
    model, x, _ = _net()
    model.eval()
    dense = copy.deepcopy(model)
    remove_blocks(model, {0, 2})
    assert len(model.convs) == len(model.norms) == 3          # stem + blocks 1 and 3
    torch.testing.assert_close(model(x), _skipping(dense, x, {0, 2}))


def test_a_filter_ticket_computes_the_dense_net_with_the_other_channels_silenced():
    model, x, _ = _net()
    model.eval()
    silenced = copy.deepcopy(model)
    keep = torch.tensor([0, 2, 3, 5])
    drop = torch.tensor([1, 4])
    with torch.no_grad():
        for conv, norm in zip(silenced.convs, silenced.norms):
            conv.weight[drop] = 0
            conv.bias[drop] = 0
            norm.weight[drop] = 0
            norm.bias[drop] = 0
    keep_channels(model, keep)
    assert model.convs[2].weight.shape == (4, 4, 3) and model.readout.weight.shape == (10, 4)
    torch.testing.assert_close(model(x), silenced(x))


def test_channel_importance_is_the_l1_norm_of_each_channels_filters_over_layers():
    model, _, _ = _net()
    want = torch.zeros(6)
    for conv in model.convs:
        for c in range(6):
            want[c] += conv.weight[c].abs().sum()
    torch.testing.assert_close(channel_importance(model), want)


def test_conv_macs_by_hand():
    model, x, _ = _net()
    # stem 6x1x3 then 4 blocks of 6x6x3, each on 40 positions
    assert conv_macs(model, x) == 40 * (6 * 3 + 4 * 6 * 6 * 3)


def test_block_scores_match_hand_computed_snip_and_grasp():
    model, x, y = _net()

    def loss_fn():
        return F.cross_entropy(model(x), y)

    params = list(model.parameters())
    grads = torch.autograd.grad(loss_fn(), params, create_graph=True)
    flat_g = torch.cat([g.reshape(-1) for g in grads])
    hg = torch.autograd.grad(flat_g @ flat_g.detach(), params)         # H g, by double backward
    by_id = {id(p): (p * h).sum() for p, h in zip(params, hg)}          # theta * Hg
    snip = {id(p): (p * g).abs().sum() for p, g in zip(params, grads)}
    blocks = block_parameters(model)
    want_grasp = torch.stack([sum(by_id[id(p)] for p in b) for b in blocks]).double()
    want_snip = torch.stack([sum(snip[id(p)] for p in b) for b in blocks]).double()
    gen = torch.Generator().manual_seed(0)
    torch.testing.assert_close(block_importance(model, loss_fn, "grasp", gen), want_grasp.detach(),
                               rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(block_importance(model, loss_fn, "snip", gen), want_snip.detach(),
                               rtol=1e-5, atol=1e-7)


def test_regroup_keeps_multipliers_for_replaced_parameters_and_drops_removed_ones():
    a, b, c = (nn.Parameter(torch.ones(2)) for _ in range(3))
    b_new = nn.Parameter(torch.ones(1))
    groups = [{"params": [a, b], "lr_mult": 2.0}, {"params": [c]}]
    out = regroup(groups, {"a": a, "b": b, "c": c}, {"a": a, "b": b_new})
    assert out == [{"params": [a, b_new], "lr_mult": 2.0}]


# --- the methods through assay ------------------------------------------------------------------


def _exp(pruning: dict, steps: int = 10) -> dict:
    return {"dataset": DATA, "model": MODEL,
            "methods": {"pruning": pruning, "optimizer": {"name": "adamw", "lr": 1e-2}},
            "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": 32, "eval_every": steps}}


def test_the_layer_ticket_removes_the_least_important_blocks_and_keeps_initial_weights():
    ctx = build_context(load(_exp({"name": "layer-lottery", "remove": 0.5,
                                   "criterion": "snip", "score_examples": 64})).run)
    fresh = {k: v.clone() for k, v in ctx.model.state_dict().items()}
    method = ctx.methods["pruning"]
    importance = method.score(ctx)
    assert {k: v for k, v in ctx.model.state_dict().items()} .keys() == fresh.keys()
    for k, v in ctx.model.named_buffers():                   # scoring left no trace
        assert torch.equal(v, fresh[k]), k
    method.setup(ctx)
    drop = sorted(importance.argsort()[:2].tolist())         # 4 blocks, remove 2
    assert [k for k in ctx.final_metrics if k.startswith("lottery/removed/")] == [
        f"lottery/removed/{i}" for i in drop]
    kept = [0] + [i + 1 for i in range(4) if i not in drop]
    for new, old in enumerate(kept):
        assert torch.equal(ctx.model.convs[new].weight, fresh[f"convs.{old}.weight"])
    assert {id(p) for g in ctx.param_groups for p in g["params"]} == {
        id(p) for p in ctx.model.parameters()}


@pytest.mark.parametrize("pruning,params", [
    ({"name": "layer-lottery", "remove": 0.0}, 6 * 1 * 3 + 6 + 4 * (6 * 6 * 3 + 6) + 5 * 12
     + 6 * 10 + 10),
    ({"name": "layer-lottery", "remove": 0.5}, 6 * 1 * 3 + 6 + 2 * (6 * 6 * 3 + 6) + 3 * 12
     + 6 * 10 + 10),
    ({"name": "layer-lottery-filters", "channels": 4}, 4 * 1 * 3 + 4 + 4 * (4 * 4 * 3 + 4)
     + 5 * 8 + 4 * 10 + 10),
])
def test_a_ticket_trains_and_records_its_cost(pruning, params):
    result = execute(load(_exp(pruning)).run)
    assert result.status == "finished", result.error
    m = result.metrics
    assert m["cost/params"] == params
    assert m["cost/train_phase_cpu_s"] > 0 and m["cost/train_phase_s"] > 0
    assert m["lottery/conv_macs"] <= m["lottery/dense_conv_macs"] == 40 * (18 + 4 * 108)


@pytest.mark.parametrize("exp,match", [
    (_exp({"name": "layer-lottery"}) | {"model": {"name": "cnn", "depth": 3}}, "residual"),
    (_exp({"name": "layer-lottery-filters", "channels": 9}), "exceeds"),
])
def test_bad_setups_are_refused(exp, match):
    result = execute(load(exp).run)
    assert result.status == "failed" and match in result.error, result.error
    assert UserError.__name__ in result.error


class TestLayerLotteryContract(MethodContract):
    @pytest.fixture
    def component(self):
        return LayerLottery


class TestFilterLotteryContract(MethodContract):
    @pytest.fixture
    def component(self):
        return FilterLottery


def test_the_arm_files_load_and_the_tickets_cost_about_the_same():
    files = {arm: path for claim in CLAIMS for arm, path in claim.arms.items()}
    runs = {a: load(load_yaml(resources.files("assay_layer_lottery").joinpath(f))).run
            for a, f in files.items()}
    data = build("dataset", {"name": "mnist1d", "n_train": 16, "n_val": 16}).load(0)
    macs = {}
    for arm, run in runs.items():
        model = build("model", run.model).build(data)
        if arm == "layers":
            remove_blocks(model, set(range(6)))
        elif arm == "filters":
            keep_channels(model, torch.arange(run.methods["pruning"]["channels"]))
        macs[arm] = conv_macs(model, data.train[0])
    assert macs["layers"] == macs["dense"] / 2 + 40 * 32 * 5 / 2
    assert abs(macs["filters"] / macs["layers"] - 1) < 0.05


# --- the checks on made-up numbers --------------------------------------------------------------


def _seed(layers: float = 0.90, dense: float = 0.905, filters: float = 0.87,
          t_dense: float = 30.0, t_layers: float = 15.0, filter_macs: float = 1.27e6,
          ) -> dict[str, float]:
    m = {"dense/val/acc": dense, "layers/val/acc": layers, "filters/val/acc": filters,
         "dense/cost/train_phase_cpu_s": t_dense, "layers/cost/train_phase_cpu_s": t_layers,
         "dense/cost/train_phase_s": t_dense * 1.3, "layers/cost/train_phase_s": t_layers * 1.3,
         "dense/lottery/conv_macs": 2.46e6, "layers/lottery/conv_macs": 1.235e6,
         "filters/lottery/conv_macs": filter_macs, "layers/lottery/blocks": 6.0,
         "filters/lottery/channels": 23.0}
    return m


def test_ticket_check_decides_from_the_interval_over_seeds():
    wins = [_seed(layers=a) for a in (0.900, 0.902, 0.904)]
    assert decide([layer_ticket_wins(m) for m in wins]).status == "PASS"
    loses = [_seed(layers=a) for a in (0.85, 0.86, 0.855)]
    assert decide([layer_ticket_wins(m) for m in loses]).status == "FAIL"
    slow = [_seed(t_layers=t) for t in (25.0, 26.0, 24.0)]
    assert decide([layer_ticket_wins(m) for m in slow]).status == "FAIL"
    noisy = [_seed(layers=a) for a in (0.87, 0.92, 0.90)]
    assert decide([layer_ticket_wins(m) for m in noisy]).status == "INCONCLUSIVE"
    assert decide([layer_ticket_wins(_seed(dense=0.11))] * 3).status == "INVALID"
    assert decide([layer_ticket_wins(_seed(t_layers=math.nan))] * 3).status == "INVALID"


def test_filter_check_decides_and_guards():
    lose = [_seed(filters=a) for a in (0.86, 0.87, 0.88)]
    assert decide([filters_lose_more(m) for m in lose]).status == "PASS"
    win = [_seed(filters=a) for a in (0.92, 0.93, 0.915)]
    assert decide([filters_lose_more(m) for m in win]).status == "FAIL"
    tie = [_seed(filters=0.90)] * 3                       # a tie is not the paper's side
    assert decide([filters_lose_more(m) for m in tie]).status == "FAIL"
    assert decide([filters_lose_more(_seed(layers=0.1))] * 3).status == "INVALID"
    assert decide([filters_lose_more(_seed(filter_macs=2.0e6))] * 3).status == "INVALID"


# --- negative controls (smoke budget) -----------------------------------------------------------


@pytest.mark.slow
def test_negative_control_a_ticket_that_removes_nothing_does_not_pass(tmp_path):
    """layer-ticket-wins with the layer ticket removing no block: it is the dense network,
    trains no faster, and the claim must not PASS."""
    out = negative_control("layer-lottery:layer-ticket-wins",
                           overrides={"layers": {"methods.pruning.remove": 0.0}}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_the_layer_ticket_against_itself_does_not_pass(tmp_path):
    """filters-lose-more with the filter arm running the layer ticket: the margin is exactly
    0, which is not the paper's side (> 0)."""
    out = negative_control("layer-lottery:filters-lose-more", arms={"filters": "layers"},
                           seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
