from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from assay import Data, UserError, load
from assay.claims import decide
from assay.testing import execute, negative_control
from assay_cut_cross_entropy._blockwise import linear_cross_entropy
from assay_cut_cross_entropy._memory import peak_memory
from assay_cut_cross_entropy.claims import less_memory, same_training
from assay_cut_cross_entropy.dataset import LargeVocabTokens, LargeVocabTokensConfig


def _inputs(n, d, v, bias, dtype, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    e = (scale * torch.randn(n, d, generator=g, dtype=dtype)).requires_grad_()
    w = torch.randn(v, d, generator=g, dtype=dtype).requires_grad_()
    b = torch.randn(v, generator=g, dtype=dtype).requires_grad_() if bias else None
    return e, w, b, torch.randint(v, (n,), generator=g)


def _loss_and_grads(fn, e, w, b, y):
    leaves = [e, w] + ([b] if b is not None else [])
    loss = fn(e, w, b, y)
    return loss.detach(), torch.autograd.grad(loss, leaves)


@pytest.mark.parametrize("n,d,v,bias,tb,vb", [
    (37, 8, 101, True, 10, 33),       # neither N nor V divisible by its block
    (64, 16, 1000, False, 64, 128),   # V=1000 with blocks of 128: a ragged last tile
    (5, 3, 7, True, 1, 1),            # one token and one class per tile
    (50, 4, 300, False, 4096, 4096),  # one tile holds everything
])
def test_loss_and_gradients_match_materialised_float64(n, d, v, bias, tb, vb):
    e, w, b, y = _inputs(n, d, v, bias, torch.float64)
    ours = _loss_and_grads(lambda *a: linear_cross_entropy(*a, token_block=tb, vocab_block=vb),
                           e, w, b, y)
    ref = _loss_and_grads(lambda e, w, b, y: F.cross_entropy(F.linear(e, w, b), y), e, w, b, y)
    torch.testing.assert_close(ours[0], ref[0], rtol=1e-12, atol=1e-12)
    for got, want in zip(ours[1], ref[1]):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_float32_matches_with_large_logits():
    # logits of size ~50 would overflow a naive exp; the running logaddexp must not
    e, w, b, y = _inputs(200, 32, 3000, True, torch.float32, seed=1, scale=3.0)
    ours = _loss_and_grads(lambda *a: linear_cross_entropy(*a, token_block=128, vocab_block=999),
                           e, w, b, y)
    ref = _loss_and_grads(lambda e, w, b, y: F.cross_entropy(F.linear(e, w, b), y), e, w, b, y)
    assert math.isfinite(float(ours[0]))
    torch.testing.assert_close(ours[0], ref[0], rtol=1e-5, atol=1e-5)
    for got, want in zip(ours[1], ref[1]):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_hand_computed_single_token():
    # logits = [1, 0, 0]; loss = log(e + 2) - 1; dE = softmax @ W - W[y] = [p0 - 1, p1]
    e = torch.tensor([[1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], dtype=torch.float64,
                     requires_grad=True)
    loss = linear_cross_entropy(e, w, None, torch.tensor([0]), vocab_block=2)
    loss.backward()
    z = math.e + 2
    assert float(loss.detach()) == pytest.approx(math.log(z) - 1, abs=1e-12)
    torch.testing.assert_close(e.grad, torch.tensor([[math.e / z - 1, 1 / z]],
                                                    dtype=torch.float64))


def test_gradient_filtering_drops_exactly_the_tiles_below_eps():
    # a peaked softmax: most vocabulary tiles hold probabilities far below 2^-12
    e, w, _, _ = _inputs(64, 8, 2048, False, torch.float64, seed=2)
    y = (e.detach() @ w.detach().T).argmax(1)
    with torch.no_grad():
        e.mul_(4.0)
    eps, tb, vb = 2**-12, 8, 64
    stats: dict[str, int] = {}
    loss, (de, dw) = _loss_and_grads(
        lambda *a: linear_cross_entropy(*a, token_block=tb, vocab_block=vb, filter_eps=eps,
                                        stats=stats), e, w, None, y)
    assert 0 < stats["skipped"] < stats["tiles"] == (64 // tb) * (2048 // vb)
    # reference: full softmax, zero every (tb, vb) tile whose entries are all below eps
    e0, w0 = e.detach(), w.detach()
    p = torch.softmax(e0 @ w0.T, dim=1)
    tiles = p.reshape(64 // tb, tb, 2048 // vb, vb)
    keep = tiles.amax(dim=(1, 3)) >= eps                      # (token tiles, vocab tiles)
    p = (tiles * keep[:, None, :, None]).reshape(64, 2048)
    assert int((~keep).sum()) == stats["skipped"]
    torch.testing.assert_close(de, (p @ w0 - w0[y]) / 64, rtol=1e-10, atol=1e-14)
    onehot = F.one_hot(y, 2048).to(p.dtype)
    torch.testing.assert_close(dw, (p - onehot).T @ e0 / 64, rtol=1e-10, atol=1e-14)
    assert float(loss) == pytest.approx(float(F.cross_entropy(e0 @ w0.T, y)), rel=1e-12)


def test_filtering_every_tile_leaves_only_the_indexed_gradient():
    e, w, _, y = _inputs(6, 4, 10, False, torch.float64, seed=3)
    _, (de, _) = _loss_and_grads(
        lambda *a: linear_cross_entropy(*a, vocab_block=3, filter_eps=0.999), e, w, None, y)
    torch.testing.assert_close(de, -w.detach()[y] / 6)


def test_blockwise_peak_memory_is_far_below_materialised():
    e, w, _, y = _inputs(256, 16, 4096, False, torch.float32)

    def run(fn):
        def step():
            fn(e, w, None, y).backward()
            e.grad = w.grad = None
        return peak_memory(step)[0]

    full = run(lambda e, w, b, y: F.cross_entropy(e @ w.T, y))
    tiled = run(lambda *a: linear_cross_entropy(*a, token_block=128, vocab_block=512))
    assert full >= 3 * 256 * 4096 * 4 / 2**20 * 0.99      # logits, log-softmax, their grad
    assert full / tiled > 5, (full, tiled)


def _lm_run(loss: dict | None, steps: int = 20):
    exp = {"dataset": {"name": "bytes", "seq_len": 32},
           "model": {"name": "transformer", "width": 32, "depth": 1, "n_heads": 2},
           "methods": {"optimizer": {"name": "adamw", "lr": 3e-3}, **({"loss": loss} if loss
                                                                        else {})},
           "backend": {"name": "cpu", "threads": 1},
           "train": {"steps": steps, "batch_size": 8, "eval_every": 10, "seed": 0}}
    result = execute(load(exp).run)
    assert result.status == "finished", result.error + result.traceback
    return result


def test_trains_core_transformer_on_bytes_like_the_default_loss():
    ours = _lm_run({"name": "cut-cross-entropy", "vocab_block": 100, "token_block": 200})
    ref = _lm_run(None)
    assert ours.metrics["val/loss"] < math.log(256) - 1.0, ours.metrics
    for (_, a), (_, b) in zip(ours.history, ref.history):
        assert a["val/loss"] == pytest.approx(b["val/loss"], rel=1e-4)
        assert a["train/loss"] == pytest.approx(b["train/loss"], rel=1e-4)


def test_memory_probe_reports_into_final_metrics():
    result = _lm_run({"name": "cut-cross-entropy", "measure_memory": True,
                      "measure_tokens": 256}, steps=2)
    assert result.metrics["loss/peak_mb"] > 0
    assert result.metrics["loss/probe_tokens"] == 256
    assert 0 < result.metrics["loss/probe_value"] < 2 * math.log(256)


def test_regression_data_is_refused_clearly():
    exp = {"dataset": {"name": "synthetic-regression", "n_train": 64, "n_val": 16},
           "model": {"name": "mlp", "width": 8}, "backend": {"name": "cpu", "threads": 1},
           "methods": {"loss": {"name": "cut-cross-entropy"}},
           "train": {"steps": 2, "batch_size": 8, "eval_every": 1}}
    result = execute(load(exp).run)
    assert result.status == "failed" and "regression" in result.error


def test_large_vocab_dataset_is_shifted_text_with_learnable_successors():
    data = LargeVocabTokens(LargeVocabTokensConfig(vocab_size=500, seq_len=20, n_train=64,
                                                   n_val=4, noise=0.0, successors=2)).load(0)
    x, y = data.train
    assert x.shape == (64, 20) and data.n_outputs == 500
    assert torch.equal(x[:, 1:], y[:, :-1])
    # without noise, every token is followed by one of at most 2 tokens
    pairs = torch.stack([x.reshape(-1), y.reshape(-1)], 1).unique(dim=0)
    assert int(torch.bincount(pairs[:, 0]).max()) <= 2


def _seed(blockwise_mb=50.0, probe=10.56001, val=10.2401, materialized_val=10.24):
    """One seed's numbers, as the claims' arms report them."""
    return {"materialized/loss/peak_mb": 1536.0, "blockwise/loss/peak_mb": blockwise_mb,
            "materialized/loss/probe_value": 10.5600, "blockwise/loss/probe_value": probe,
            "materialized/val/loss": materialized_val, "blockwise/val/loss": val}


def _decide(check, seeds):
    return decide([check(m) for m in seeds])


def test_less_memory_decides_from_the_interval_over_seeds():
    assert _decide(less_memory, [_seed(mb) for mb in (50.0, 52.0, 48.0)]).status == "PASS"
    assert _decide(less_memory, [_seed(mb) for mb in (200.0, 210.0, 190.0)]).status == "FAIL"
    assert _decide(less_memory, [_seed(mb) for mb in (50.0, 200.0)]).status == "INCONCLUSIVE"
    # the same memory for a different loss value fails on the second effect
    assert _decide(less_memory, [_seed(probe=10.6)] * 3).status == "FAIL"


def test_same_training_decides_from_the_interval_over_seeds():
    assert _decide(same_training, [_seed(val=v) for v in (10.2401, 10.24, 10.2402)]).status \
        == "PASS"
    assert _decide(same_training, [_seed(val=v) for v in (10.3, 10.31, 10.29)]).status == "FAIL"
    assert _decide(same_training, [_seed(val=v) for v in (10.24, 10.3)]).status \
        == "INCONCLUSIVE"


def test_a_diverged_baseline_makes_the_claims_invalid():
    d = _decide(same_training, [_seed(), _seed(materialized_val=math.nan), _seed()])
    assert d.status == "INVALID" and "val/loss" in d.reason
    bad_probe = dict(_seed(), **{"materialized/loss/probe_value": math.inf})
    assert _decide(less_memory, [_seed(), bad_probe]).status == "INVALID"


@pytest.fixture
def runs(tmp_path, monkeypatch) -> str:
    """A throwaway MLflow store (sqlite) for a negative control, its artifacts beside it."""
    return str(tmp_path / "runs")


@pytest.mark.slow
def test_negative_control_materialised_loss_in_both_arms_does_not_save_memory(runs):
    """less-memory with the tiled arm running the materialised loss: the ratio is 1x."""
    out = negative_control("cut-cross-entropy:less-memory",
                           arms={"blockwise": "materialized"}, seeds=3,
                           tracking_uri=runs)
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_inexact_gradients_do_not_follow_the_baseline(runs):
    """same-training with the tiled loss's gradient filtering at 0.999 (nearly every tile's
    softmax gradient dropped): the loss value is still exact but the updates are not, so the
    training must not PASS as following the materialised loss."""
    out = negative_control("cut-cross-entropy:same-training",
                           overrides={"blockwise": {"methods.loss.filter_eps": 0.999}}, seeds=3,
                           tracking_uri=runs)
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


def test_missing_readout_is_a_user_error():
    from assay_cut_cross_entropy.method import CutCrossEntropy

    data = Data((torch.zeros(2, 3), torch.zeros(2, dtype=torch.long)),
                (torch.zeros(2, 3), torch.zeros(2, dtype=torch.long)), "classification", 2, (3,))
    with pytest.raises(UserError, match="readout"):
        CutCrossEntropy().compute(torch.nn.Linear(3, 2), data.train[0], data.train[1], data)
