from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from assay import UserError, load
from assay.claims import decide
from assay.lib.adapters import LoRA, LoRAConfig, LoRALinear, adapters
from assay.testing import build, build_context, execute, negative_control
from assay_pissa.claims import better_final, faster_than_lora
from assay_pissa.method import PiSSA, PiSSAConfig, principal_factors


class Net(nn.Module):
    """A tiny MLP with the core models' layout (hidden Linears + readout)."""

    def __init__(self, n_in: int = 12, width: int = 16, n_out: int = 5) -> None:
        super().__init__()
        self.hidden = nn.ModuleList([nn.Linear(n_in, width), nn.Linear(width, width)])
        self.readout = nn.Linear(width, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return self.readout(x)


def _net(seed: int = 0) -> Net:
    torch.manual_seed(seed)
    return Net()


# --- PiSSA's initialisation -------------------------------------------------------------------

def test_factors_are_the_papers_svd_factors_on_a_tiny_matrix():
    # The paper writes Y = X W with W (in=5, out=4), W = U S V^T, A = U_r S_r^(1/2),
    # B = S_r^(1/2) V_r^T. torch's layer holds W^T (out, in), so lora_A = A^T, lora_B = B^T.
    rng = np.random.default_rng(0)
    w_paper = rng.normal(size=(5, 4))
    U, S, Vt = np.linalg.svd(w_paper, full_matrices=False)
    r = 2
    A_paper = U[:, :r] * np.sqrt(S[:r])               # (in, r)
    B_paper = np.sqrt(S[:r])[:, None] * Vt[:r]        # (r, out)
    A, B = principal_factors(torch.tensor(w_paper.T, dtype=torch.float64), r, scale=1.0)
    for i in range(r):   # singular vectors are defined up to sign: align, then compare
        sign = np.sign(A[i].numpy() @ A_paper[:, i])
        np.testing.assert_allclose(sign * A[i].numpy(), A_paper[:, i], atol=1e-10)
        np.testing.assert_allclose(sign * B[:, i].numpy(), B_paper[i], atol=1e-10)
    np.testing.assert_allclose((B @ A).numpy(), (A_paper @ B_paper).T, atol=1e-10)


def test_scale_is_divided_out_of_the_factors():
    w = torch.randn(6, 7, dtype=torch.float64)
    A1, B1 = principal_factors(w, 3, scale=1.0)
    A4, B4 = principal_factors(w, 3, scale=4.0)
    torch.testing.assert_close(4.0 * B4 @ A4, B1 @ A1)
    torch.testing.assert_close(A4, A1 / 2)


def test_model_is_reconstructed_exactly_at_init_and_residual_holds_the_minor_part():
    net, x = _net(), torch.randn(32, 12)
    before = net(x).detach()
    weights = {n: m.weight.detach().clone() for n, m in net.named_modules()
               if isinstance(m, nn.Linear)}
    adapted = PiSSA(PiSSAConfig(rank=3, alpha=6.0)).apply(net, None)
    torch.testing.assert_close(adapted(x), before, atol=1e-5, rtol=1e-5)
    for name, layer in adapters(adapted).items():
        torch.testing.assert_close(layer.merged_weight(), weights[name], atol=1e-5, rtol=1e-5)
        # the frozen residual keeps exactly the singular values past the first r
        s_full = torch.linalg.svdvals(weights[name])
        s_res = torch.linalg.svdvals(layer.weight)
        torch.testing.assert_close(s_res[: len(s_full) - 3], s_full[3:], atol=1e-5, rtol=1e-4)
        assert s_res[len(s_full) - 3:].abs().max() < 1e-4


def test_only_the_factors_train():
    net = PiSSA(PiSSAConfig(rank=2)).apply(_net(), None)
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trainable == {f"{m}.lora_{f}" for m in ("hidden.0", "hidden.1", "readout")
                         for f in "AB"}


def test_fast_randomized_svd_is_close_to_exact_on_a_decaying_spectrum():
    torch.manual_seed(0)
    U, _ = torch.linalg.qr(torch.randn(40, 40))
    V, _ = torch.linalg.qr(torch.randn(30, 30))
    w = U[:, :30] @ torch.diag(0.5 ** torch.arange(30.0)) @ V.T
    exact = principal_factors(w, 4)
    fast = principal_factors(w, 4, niter=4)
    error = torch.linalg.norm(fast[1] @ fast[0] - exact[1] @ exact[0])
    assert error < 0.01 * torch.linalg.norm(exact[1] @ exact[0])


# --- the LoRA base (core built-in) that PiSSA reuses ------------------------------------------

def test_lora_starts_as_the_base_model_and_freezes_it():
    net, x = _net(), torch.randn(8, 12)
    before = net(x).detach()
    adapted = LoRA(LoRAConfig(rank=4)).apply(net, None)
    torch.testing.assert_close(adapted(x), before)
    layer = adapted.readout
    assert isinstance(layer, LoRALinear) and layer.rank == 4 and layer.scale == 16.0 / 4
    assert torch.all(layer.lora_B == 0) and layer.lora_A.abs().sum() > 0
    assert not layer.base.weight.requires_grad and not layer.base.bias.requires_grad


def test_lora_target_pattern_and_rank_clamp():
    net = LoRA(LoRAConfig(rank=8, target=r"hidden\..*")).apply(_net(), None)
    assert set(adapters(net)) == {"hidden.0", "hidden.1"}
    assert not any(p.requires_grad for p in net.readout.parameters())
    narrow = LoRA(LoRAConfig(rank=8, target="readout")).apply(_net(), None)
    assert narrow.readout.rank == 5                   # min(in=16, out=5)
    with pytest.raises(UserError, match="hidden.0, hidden.1, readout"):
        LoRA(LoRAConfig(target="decoder")).apply(_net(), None)


def test_lora_update_is_scaled_low_rank_product():
    layer = LoRALinear(nn.Linear(4, 3), rank=2, alpha=3.0)
    A, B = torch.randn(2, 4), torch.randn(3, 2)
    w0 = layer.base.weight.detach().clone()
    layer.set_factors(A, B, keep_output=False)
    x = torch.randn(5, 4)
    expected = x @ (w0 + 1.5 * B @ A).T + layer.base.bias
    torch.testing.assert_close(layer(x), expected)


# --- the claim's data: MNIST-1D class subsets -------------------------------------------------

def mnist1d(classes: list[int], seed: int = 0):
    return build("dataset", {"name": "mnist1d", "n_train": 300, "n_val": 100,
                             "classes": classes}).load(seed)


def test_mnist1d_subsets_keep_labels_sizes_and_scaling():
    low, high = mnist1d([0, 1, 2, 3, 4]), mnist1d([5, 6, 7, 8, 9])
    assert low.input_shape == (40,) and low.n_outputs == high.n_outputs == 10
    assert low.train[0].shape == (300, 40) and high.val[0].shape == (100, 40)
    assert set(low.train[1].tolist()) == {0, 1, 2, 3, 4}
    assert set(high.train[1].tolist()) == {5, 6, 7, 8, 9}
    # both subsets come from one draw normalised over all ten digits
    full = torch.cat([low.train[0], high.train[0]])
    assert abs(float(full.mean())) < 0.1 and abs(float(full.std()) - 1) < 0.1
    again = mnist1d([5, 6, 7, 8, 9], seed=3)
    torch.testing.assert_close(again.train[0], high.train[0])   # data_seed, not run seed


# --- through assay: pretrain, then adapt --------------------------------------------------------

def _exp(classes, methods, steps):
    return {"dataset": {"name": "mnist1d", "n_train": 500, "n_val": 200, "classes": classes},
            "model": {"name": "mlp", "width": 32, "depth": 2},
            "methods": methods, "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": 64, "eval_every": steps}}


def _start_val_loss(exp, state):
    """Validation loss of the model a run starts from (after its adapter is applied)."""
    run = load(exp).run
    return build_context(run, init_state=state).evaluate()


def test_pretrain_then_adapt_with_pissa_through_assay():
    pre = execute(load(_exp([0, 1, 2, 3, 4], {"optimizer": {"name": "adamw", "lr": 3e-3}},
                            60)).run, keep_state=True)
    assert pre.status == "finished", pre.error
    opt = {"optimizer": {"name": "adamw", "lr": 3e-3, "weight_decay": 0.0}}
    exp = _exp([5, 6, 7, 8, 9], {**opt, "adapter": {"name": "pissa", "rank": 4}}, 40)
    base_start = _start_val_loss(_exp([5, 6, 7, 8, 9], opt, 40), pre.state_dict)
    pissa_start = _start_val_loss(exp, pre.state_dict)
    assert pissa_start["val/loss"] == pytest.approx(base_start["val/loss"], rel=1e-5)
    adapted = execute(load(exp).run, init_state=pre.state_dict, keep_state=True)
    assert adapted.status == "finished", adapted.error
    assert adapted.metrics["cost/trainable_params"] < adapted.metrics["cost/params"] / 4
    assert adapted.metrics["val/loss"] < 0.9 * base_start["val/loss"], adapted.metrics
    # the frozen residual never moves: it equals the pretrained weight minus its top-4 part
    w = pre.state_dict["hidden.1.weight"]
    A, B = principal_factors(w, 4, scale=16.0 / 4)
    torch.testing.assert_close(adapted.state_dict["hidden.1.base.weight"],
                               w - (16.0 / 4) * B @ A, atol=1e-5, rtol=1e-5)


# --- the claims' checks -------------------------------------------------------------------------

LRS = [3e-4, 1e-3, 3e-3, 1e-2, 3e-2]


def _arm(arm: str, best_lr: float, best_loss: float, acc: float = 0.8) -> dict[str, float]:
    """One sweep arm's numbers: the lr grid, lowest loss at ``best_lr``."""
    m = {f"{arm}/best/val/loss": best_loss}
    for n, lr in enumerate(LRS):
        m[f"{arm}/trials/{n}/methods.optimizer.lr"] = lr
        m[f"{arm}/trials/{n}/val/loss"] = best_loss if lr == best_lr else best_loss + 0.3
        m[f"{arm}/trials/{n}/val/acc"] = acc if lr == best_lr else acc - 0.1
    return m


def _seed(pissa: float, lora: float, pissa_long: float = 0.40, lora_long: float = 0.41,
          lora_lr: float = 1e-2, lora_acc: float = 0.8) -> dict[str, float]:
    return {**_arm("pissa", 3e-3, pissa), **_arm("lora", lora_lr, lora, lora_acc),
            **_arm("pissa-long", 3e-3, pissa_long), **_arm("lora-long", 3e-3, lora_long)}


def test_checks_decide_from_the_interval_over_seeds():
    good = [_seed(0.50, 0.60), _seed(0.52, 0.60, 0.39), _seed(0.49, 0.58, 0.40, 0.42)]
    assert decide([faster_than_lora(m) for m in good]).status == "PASS"
    assert decide([better_final(m) for m in good]).status == "PASS"
    close = [_seed(0.59, 0.60), _seed(0.595, 0.60), _seed(0.585, 0.60)]    # only ~2% lower
    assert decide([faster_than_lora(m) for m in close]).status == "FAIL"
    worse = [_seed(0.5, 0.6, 0.44, 0.41), _seed(0.5, 0.6, 0.45, 0.42)]
    assert decide([better_final(m) for m in worse]).status == "FAIL"
    mixed = [_seed(0.50, 0.60), _seed(0.60, 0.60)]
    assert decide([faster_than_lora(m) for m in mixed]).status == "INCONCLUSIVE"


def test_guards():
    edge = [_seed(0.50, 0.60, lora_lr=3e-2)] * 3                 # LoRA's best at the top
    d = decide([faster_than_lora(m) for m in edge])
    assert d.status == "NOT-ESTABLISHED" and "lora" in d.reason
    chance = [_seed(0.50, 1.61, lora_acc=0.21)] * 3               # LoRA never learned
    d = decide([faster_than_lora(m) for m in chance])
    assert d.status == "INVALID" and "lora" in d.reason
    diverged = {k: v for k, v in _seed(0.5, 0.6).items() if not k.startswith("lora/trials/")}
    assert decide([faster_than_lora(diverged)] * 3).status == "INVALID"


def store(tmp_path, monkeypatch) -> str:
    """A throwaway MLflow store (sqlite) with its artifacts, both under ``tmp_path``."""
    return str(tmp_path / "runs")


@pytest.mark.slow
def test_negative_control_pissa_replaced_by_lora_is_not_faster(tmp_path, monkeypatch):
    """pissa:faster-than-lora with PiSSA's arm running LoRA: the loss ratio is 1, so the check
    must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("pissa:faster-than-lora", arms={"pissa": "lora"}, seeds=3,
                           tracking_uri=store(tmp_path, monkeypatch))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_pissa_that_never_steps_does_not_end_better(tmp_path, monkeypatch):
    """pissa:better-final with PiSSA's rate held near zero (a warm-up far longer than the
    run): PiSSA stays at the pretrained model while LoRA adapts, so the check must not PASS
    (smoke budget, 3 seeds). Replacing PiSSA by LoRA would pass a "no higher" claim."""
    out = negative_control("pissa:better-final", overrides={"pissa-long": {
        "methods.schedule": {"name": "warmup", "warmup_steps": 1_000_000}}},
        seeds=3, tracking_uri=store(tmp_path, monkeypatch))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
