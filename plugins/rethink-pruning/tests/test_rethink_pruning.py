from __future__ import annotations

import pytest
import torch
from assay import Data, load
from assay.claims import decide
from assay.testing import build, execute, negative_control
from assay_rethink_pruning.claims import scratch_matches_finetune
from assay_rethink_pruning.method import l1_scores, prune_units


def _net(name, input_shape, n_outputs, **config):
    """A core model built for inputs of ``input_shape`` (through the public registry)."""
    x, y = torch.zeros(1, *input_shape), torch.zeros(1, dtype=torch.long)
    data = Data((x, y), (x, y), "classification", n_outputs, input_shape)
    return build("model", {"name": name, **config}).build(data)


def test_l1_scores_are_row_sums_of_absolute_incoming_weights():
    layer = torch.nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.1, -0.1]]))
    assert l1_scores(layer).tolist() == pytest.approx([3.5, 0.2])


def test_pruned_mlp_computes_what_the_masked_large_mlp_computes():
    torch.manual_seed(0)
    net = _net("mlp", (6,), 3, width=8, depth=2)
    x = torch.randn(5, 6)
    first = l1_scores(net.hidden[0]).argsort(descending=True)[:4].sort().values
    big = _net("mlp", (6,), 3, width=8, depth=2)
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
    net = _net("mlp", (2,), 1, width=2, depth=2, bias=False)
    with torch.no_grad():
        net.hidden[0].weight.copy_(torch.tensor([[1.0, 1.0], [0.1, 0.1]]))   # keep unit 0
        net.hidden[1].weight.copy_(torch.tensor([[0.1, 9.0], [0.5, 0.0]]))
        net.readout.weight.copy_(torch.tensor([[1.0, 2.0]]))
    prune_units(net, 0.5)
    assert net.hidden[1].weight.tolist() == [[0.5]]
    assert net.readout.weight.tolist() == [[2.0]]


def test_cnn_channels_are_pruned_and_the_network_still_runs():
    net = _net("cnn", (1, 8, 8), 10, channels=8, depth=2)
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


def _seed(scratch, finetune=0.978, params=26122):
    """One seed's numbers, as the claim's arms report them."""
    return {"scratch_b/val/acc": scratch, "finetune/val/acc": finetune,
            "scratch_b/cost/params": params, "finetune/cost/params": 26122}


def _decide(seeds):
    return decide([scratch_matches_finetune(m) for m in seeds])


def test_check_decides_from_the_interval_over_seeds():
    assert _decide([_seed(0.976), _seed(0.978), _seed(0.980)]).status == "PASS"
    assert _decide([_seed(0.966), _seed(0.964), _seed(0.968)]).status == "FAIL"
    assert _decide([_seed(0.980), _seed(0.966)]).status == "INCONCLUSIVE"
    # a different architecture fails whatever the accuracy
    other = [_seed(v, params=85002) for v in (0.976, 0.978, 0.980)]
    assert _decide(other).status == "FAIL"


def test_a_fine_tuned_baseline_at_chance_makes_the_claim_invalid():
    d = _decide([_seed(0.976), _seed(0.12, finetune=0.11), _seed(0.976)])
    assert d.status == "INVALID" and "fine-tuned" in d.reason


@pytest.fixture
def runs(tmp_path, monkeypatch) -> str:
    """A throwaway MLflow store (sqlite) for a negative control, its artifacts beside it."""
    return str(tmp_path / "runs")


@pytest.mark.slow
def test_negative_control_scratch_that_cannot_learn_does_not_match(runs):
    """Replacing Scratch-B by the fine-tuned arm would pass by construction, so the control
    removes what Scratch-B rests on, training from scratch: its learning rate is cut to 1e-8,
    so it stays near its random initialisation and must not match the fine-tuned model."""
    out = negative_control("rethink-pruning:scratch-matches-finetune",
                           overrides={"scratch_b": {"methods.optimizer.lr": 1e-8}}, seeds=3,
                           tracking_uri=runs)
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


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
