from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.lib.pruning import magnitude_masks, prunable
from assay.testing import MethodContract, build_context, execute, load_yaml, negative_control
from assay_m_fac.claims import ihvp_exact, obs_beats_magnitude
from assay_m_fac.inverse import StaticInverseFisher, dense_fisher
from assay_m_fac.method import (
    DiagonalInverseFisher,
    MFACPruning,
    MFACPruningConfig,
    exactness,
    flat,
)

# --- the static algorithm against the dense inverse ---------------------------------------------


@pytest.mark.parametrize("m,d,damp", [(1, 5, 0.5), (8, 30, 1e-2), (64, 300, 1e-5)])
def test_static_inverse_matches_the_dense_inverse(m, d, damp):
    gen = torch.Generator().manual_seed(m)
    g = torch.randn(m, d, dtype=torch.float64, generator=gen)
    inv = StaticInverseFisher(g, damp)
    dense = torch.linalg.inv(dense_fisher(g, damp))      # itself off by ~cond * 1e-16
    x = torch.randn(d, dtype=torch.float64, generator=gen)
    for ours, want in ((inv.mul(x), dense @ x), (inv.diag(), torch.diagonal(dense))):
        assert float((ours - want).norm() / want.norm()) < 1e-7


def test_one_gradient_is_sherman_morrison_by_hand():
    # F = l I + g g^T (m = 1): F^{-1} x = x / l - g (g.x) / (l (l + g.g))
    g, lam = torch.tensor([[1.0, 2.0, -1.0]], dtype=torch.float64), 0.5
    x = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    want = x / lam - g[0] * (g[0] @ x) / (lam * (lam + g[0] @ g[0]))
    torch.testing.assert_close(StaticInverseFisher(g, lam).mul(x), want)


def test_diagonal_fisher_and_the_exactness_measure():
    g = torch.randn(16, 40, dtype=torch.float64)
    diag = DiagonalInverseFisher(g, 0.1)
    torch.testing.assert_close(diag.diag(), 1 / (0.1 + (g ** 2).mean(0)))
    assert exactness(StaticInverseFisher(g, 0.1), g, 0.1) < 1e-10
    assert exactness(diag, g, 0.1) > 1e-2                 # no cross terms: far off
    bent = StaticInverseFisher(g, 0.1)
    bent.a[2] *= 1.01
    assert exactness(bent, g, 0.1) > 1e-4


# --- the pruning rounds ---------------------------------------------------------------------------


def _exp(pruning: dict, steps: int = 30) -> dict:
    return {"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 16, "depth": 1},
            "methods": {"pruning": {"name": "m-fac", **pruning},
                        "optimizer": {"name": "adamw", "lr": 1e-2}},
            "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": 64, "eval_every": 10}}


class FixedGradients(MFACPruning):
    """Uses given gradients instead of drawing them (to compare with a dense OBS step)."""

    def gradients(self, ctx, params):
        return self.fixed


def _trained(pruning: dict):
    exp = _exp(pruning)
    ctx = build_context(load(exp).run)
    ctx.optimizer = ctx.build("method", exp["methods"]["optimizer"]).build(ctx.param_groups)
    ctx.run_steps(10)
    return ctx, prunable(ctx.model)


def test_identity_curvature_is_global_magnitude_pruning():
    ctx, params = _trained({"curvature": "identity"})
    want = magnitude_masks({n: p.detach().clone() for n, p in params.items()}, 0.5, "global")
    MFACPruning(MFACPruningConfig(curvature="identity", sparsity=0.5,
                                  recomputations=1)).prune_now(ctx)
    for name, p in params.items():
        assert torch.equal(p.detach() != 0, want[name])


def test_one_obs_removal_matches_the_dense_formula():
    """Pruning one weight q: w - w_q F^{-1} e_q / [F^{-1}]_qq, q the lowest w^2 / [F^{-1}]_qq."""
    ctx, params = _trained({})
    w = flat(params).double()
    d = w.numel()
    g = torch.randn(8, d, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 0.1
    dense = torch.linalg.inv(dense_fisher(g, 1e-3))
    q = int(torch.argmin(w ** 2 / torch.diagonal(dense)))
    want = w - w[q] * dense[:, q] / dense[q, q]
    spy = FixedGradients(MFACPruningConfig(damp=1e-3))
    spy.fixed = g
    mask = spy.prune_round(ctx, params, torch.ones(d, dtype=torch.bool), 1, first=False)
    assert int((~mask).sum()) == 1 and not bool(mask[q])
    torch.testing.assert_close(flat(params).double(), want.float().double(), atol=1e-6, rtol=1e-5)


def test_a_run_prunes_after_its_last_step_and_records_what_it_did():
    result = execute(load(_exp({"sparsity": 0.6, "n_grads": 8, "grad_batch": 4,
                                "recomputations": 3, "check_exact": True})).run)
    assert result.status == "finished", result.error
    m = result.metrics
    assert m["sparsity/actual"] == pytest.approx(0.6, abs=2e-3)
    assert m["mfac/ihvp_rel_err"] < 1e-8
    assert {"prune/dense_acc", "prune/dense_loss", "prune/n_val"} <= set(m)
    assert m["val/acc"] != m["prune/dense_acc"]              # the final evaluation is pruned


def test_masks_hold_after_an_earlier_pruning_step():
    exp = _exp({"sparsity": 0.5, "n_grads": 4, "grad_batch": 2, "recomputations": 2,
                "at_step": 10})
    result = execute(load(exp).run, keep_state=True)
    assert result.status == "finished", result.error
    weights = [v for k, v in result.state_dict.items() if k.endswith("weight")]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
    assert zeros == pytest.approx(0.5, abs=2e-3)


class TestMFACPruningContract(MethodContract):
    @pytest.fixture
    def component(self):
        return MFACPruning


@pytest.mark.parametrize("arm", ["configs/mfac_digits.yaml", "configs/magnitude_digits.yaml",
                                 "configs/diagonal_digits.yaml"])
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files("assay_m_fac").joinpath(arm))).run
    assert run.methods["pruning"]["sparsity"] == 0.8 and run.train.steps == 1000
    assert 64 * 64 + 64 * 10 <= 5000                         # P small enough for the check


# --- the checks on made-up numbers -------------------------------------------------------------


def test_exactness_check_decides_and_guards():
    exact = [{"mfac/mfac/ihvp_rel_err": e} for e in (1e-12, 3e-12, 2e-12)]
    assert decide([ihvp_exact(m) for m in exact]).status == "PASS"
    off = [{"mfac/mfac/ihvp_rel_err": e} for e in (0.3, 0.5, 0.4)]
    assert decide([ihvp_exact(m) for m in off]).status == "FAIL"
    assert decide([ihvp_exact({})] * 3).status == "INVALID"


def _seed(mfac: float, magnitude: float = 0.83, dense: float = 0.98,
          dense_mag: float | None = None) -> dict[str, float]:
    return {"mfac/val/acc": mfac, "magnitude/val/acc": magnitude, "diagonal/val/acc": 0.9,
            "mfac/prune/dense_acc": dense, "magnitude/prune/dense_acc": dense_mag or dense,
            "mfac/prune/n_val": 359.0, "mfac/sparsity/actual": 0.8}


def test_pruning_check_decides_from_the_interval_over_seeds():
    better = [_seed(0.94), _seed(0.93), _seed(0.95)]
    assert decide([obs_beats_magnitude(m) for m in better]).status == "PASS"
    same = [_seed(0.83), _seed(0.84), _seed(0.82)]
    assert decide([obs_beats_magnitude(m) for m in same]).status == "FAIL"
    mixed = [_seed(0.95), _seed(0.84), _seed(0.89)]
    assert decide([obs_beats_magnitude(m) for m in mixed]).status == "INCONCLUSIVE"


def test_pruning_check_guards():
    assert decide([obs_beats_magnitude(_seed(0.9, dense=0.11))] * 3).status == "INVALID"
    other = decide([obs_beats_magnitude(_seed(0.9, dense_mag=0.97))] * 3)
    assert other.status == "INVALID" and "different dense" in other.reason
    assert math.isfinite(obs_beats_magnitude(_seed(0.9)).numbers["diag_gain_pts"])


@pytest.mark.slow
def test_negative_control_diagonal_curvature_is_not_exact(tmp_path):
    """ihvp-exact with the diagonal Fisher in place of M-FAC: its products miss every cross
    term, so the check must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("m-fac:ihvp-exact",
                           overrides={"mfac": {"methods.pruning.curvature": "diagonal"}},
                           seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_magnitude_in_place_of_mfac_does_not_pass(tmp_path):
    """obs-beats-magnitude with the M-FAC arm pruning by magnitude: the gain is 0, so the
    check must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("m-fac:obs-beats-magnitude", arms={"mfac": "magnitude"}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
