from __future__ import annotations

import pytest
import torch

from assay import load
from assay._builtin.models import CNNConfig, CNNNet, MLPConfig, MLPNet
from assay.testing import execute
from assay_rethink_pruning.claims import scratch_matches_finetune
from assay_rethink_pruning.method import l1_scores, prune_units


def test_l1_scores_are_row_sums_of_absolute_incoming_weights():
    layer = torch.nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.1, -0.1]]))
    assert l1_scores(layer).tolist() == pytest.approx([3.5, 0.2])


def test_pruned_mlp_computes_what_the_masked_large_mlp_computes():
    torch.manual_seed(0)
    net = MLPNet(6, 3, MLPConfig(width=8, depth=2))
    x = torch.randn(5, 6)
    first = l1_scores(net.hidden[0]).argsort(descending=True)[:4].sort().values
    big = MLPNet(6, 3, MLPConfig(width=8, depth=2))
    big.load_state_dict(net.state_dict())
    prune_units(net, 0.5)
    assert [tuple(l.weight.shape) for l in net.hidden] == [(4, 6), (4, 4)]
    assert net.readout.weight.shape == (3, 4) and net.hidden_width == 4
    assert torch.equal(net.hidden[0].weight, big.hidden[0].weight[first])
    # zero the removed units' outgoing weights in the big net: same function as the small net
    with torch.no_grad():
        drop0 = torch.ones(8, dtype=torch.bool)
        drop0[first] = False
        big.hidden[1].weight[:, drop0] = 0
        second = l1_scores(big.hidden[1]).argsort(descending=True)[:4]
        drop1 = torch.ones(8, dtype=torch.bool)
        drop1[second] = False
        big.readout.weight[:, drop1] = 0
    torch.testing.assert_close(net(x), big(x))


def test_layer_scores_only_count_surviving_inputs():
    # unit 0 of layer 2 is big only through input 1, which layer 1 removes: it must go
    net = MLPNet(2, 1, MLPConfig(width=2, depth=2, bias=False))
    with torch.no_grad():
        net.hidden[0].weight.copy_(torch.tensor([[1.0, 1.0], [0.1, 0.1]]))   # keep unit 0
        net.hidden[1].weight.copy_(torch.tensor([[0.1, 9.0], [0.5, 0.0]]))
        net.readout.weight.copy_(torch.tensor([[1.0, 2.0]]))
    prune_units(net, 0.5)
    assert net.hidden[1].weight.tolist() == [[0.5]]
    assert net.readout.weight.tolist() == [[2.0]]


def test_cnn_channels_are_pruned_and_the_network_still_runs():
    net = CNNNet((1, 8, 8), 10, CNNConfig(channels=8, depth=2))
    prune_units(net, 0.25)
    assert [tuple(c.weight.shape[:2]) for c in net.convs] == [(2, 1), (2, 2)]
    assert net(torch.randn(3, 1, 8, 8)).shape == (3, 10)


def _experiment(width, steps, lr, **methods):
    return {"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": width},
            "methods": {"optimizer": {"name": "adamw", "lr": lr}, **methods},
            "backend": {"name": "cpu", "threads": 1},
            "train": {"steps": steps, "batch_size": 64, "eval_every": steps}}


def test_finetuning_inherits_weights_and_reinit_does_not():
    big = execute(load(_experiment(64, 150, 3e-3)).run, keep_state=True)
    assert big.status == "finished" and big.metrics["val/acc"] > 0.9, big.metrics
    results = {}
    for reinit in (False, True):
        run = load(_experiment(64, 5, 1e-4, pruning={"name": "rethink-pruning", "keep": 0.5,
                                                     "reinit": reinit})).run
        results[reinit] = execute(run, init_state=big.state_dict, keep_state=True)
    tuned, fresh = results[False], results[True]
    assert tuned.status == fresh.status == "finished", (tuned.error, fresh.error)
    # 64-32-10 MLP: 64*32 + 32 + 32*32 + 32 + 32*10 + 10 parameters, and they are trained
    assert tuned.metrics["cost/params"] == 64 * 32 + 32 + 32 * 32 + 32 + 32 * 10 + 10
    assert tuned.state_dict["hidden.1.weight"].shape == (32, 32)
    # 5 steps at lr 1e-4 barely move either: the inherited weights are far above chance
    assert tuned.metrics["val/acc"] > 0.4 > 0.2 > fresh.metrics["val/acc"], (tuned.metrics,
                                                                            fresh.metrics)


def test_optimizer_updates_the_pruned_parameters():
    run = load(_experiment(32, 20, 1e-2, pruning={"name": "rethink-pruning", "keep": 0.5})).run
    start = execute(load(_experiment(32, 1, 1e-12, pruning={"name": "rethink-pruning",
                                                            "keep": 0.5})).run, keep_state=True)
    end = execute(run, keep_state=True)
    assert end.status == "finished", end.error
    moved = (end.state_dict["hidden.0.weight"] - start.state_dict["hidden.0.weight"]).abs()
    assert float(moved.max()) > 1e-3


def test_check_passes_and_fails_on_made_up_numbers():
    m = {"scratch_b/val/acc": 0.975, "finetune/val/acc": 0.978,
         "scratch_b/cost/params": 26122, "finetune/cost/params": 26122}
    assert scratch_matches_finetune(m).passed
    assert not scratch_matches_finetune({**m, "scratch_b/val/acc": 0.970}).passed
    assert not scratch_matches_finetune({**m, "finetune/cost/params": 85002}).passed


def test_claim_arms_are_valid_and_match_in_compute():
    from assay.testing import load_yaml
    from assay_rethink_pruning.claims import CLAIMS

    claim = CLAIMS[0]
    raw = load_yaml(claim.arm_path("finetune"))
    pre = load(raw.pop("pretrain")).run
    tune, scratch = load(raw).run, load(claim.arm_path("scratch_b")).run
    assert pre.model == tune.model                      # the weights load into this shape
    big, small = 85002, 26122                           # 64-256-256-10 and 64-128-128-10
    assert abs(scratch.train.steps * small / (pre.train.steps * big) - 1) < 1e-3
    assert scratch.model["width"] == tune.model["width"] * tune.methods["pruning"]["keep"]
