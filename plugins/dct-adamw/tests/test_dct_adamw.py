from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, build_context, execute, load_yaml, negative_control
from assay_dct_adamw.claims import faster_projection, matches_galore, near_adamw
from assay_dct_adamw.method import (
    DCTAdamW,
    DCTAdamWConfig,
    ProjectionBench,
    dct_basis,
    dct_columns,
)
from assay_fira.claims import CHANCE

# --- the projection and the step against the paper's rule, by hand ----------------------------


def test_dct_basis_is_scipys_orthonormal_dct_ii():
    from scipy.fft import dct

    q = dct_basis(12, torch.float64)
    torch.testing.assert_close(q.T @ q, torch.eye(12, dtype=torch.float64))
    # scipy's matrix maps x to its DCT coefficients: rows are the basis vectors, our columns
    torch.testing.assert_close(q, torch.from_numpy(dct(np.eye(12), norm="ortho", axis=0)).T)


@pytest.mark.parametrize("side", ["left", "right"])
def test_selection_finds_the_basis_vectors_a_gradient_is_made_of(side):
    q = dct_basis(10)
    gen = torch.Generator().manual_seed(0)
    coef = torch.randn(3, 7, generator=gen)
    g = q[:, [2, 5, 9]] @ coef if side == "left" else (q[:, [2, 5, 9]] @ coef).T
    p = dct_columns(g, 3, side)
    cols = p if side == "left" else p.T
    picked = {int(i) for i in (q.T @ cols).abs().argmax(dim=0)}
    assert picked == {2, 5, 9}
    back = p @ (p.T @ g) if side == "left" else (g @ p.T) @ p
    torch.testing.assert_close(back, g, rtol=1e-5, atol=1e-5)   # a rank-3 view loses nothing


def test_selection_keeps_the_most_energy_of_any_subset():
    gen = torch.Generator().manual_seed(1)
    g = torch.randn(8, 20, generator=gen)                          # left: m = 8 < n = 20
    q = dct_basis(8)
    kept = (dct_columns(g, 3, "left").T @ g).norm()
    for _ in range(50):
        idx = torch.randperm(8, generator=gen)[:3]
        assert kept >= (q[:, idx].T @ g).norm() - 1e-6


LR, B1, B2, EPS, RANK = 0.1, 0.9, 0.999, 1e-8, 2


def reference(w, grads, gap):
    """GaLore's step with DCT selection, written out (right projection, m >= n): every
    ``gap`` steps P = Q[:, top_r]^T by column energy of G Q; R = G P^T; Adam on R with the
    bias correction folded into the step size; W <- W - lr_t (m / (sqrt(v) + eps)) P."""
    w = w.clone()
    q = dct_basis(w.shape[1])
    mom = vel = p = None
    for t, g in enumerate(grads, start=1):
        if p is None or t % gap == 0:
            p = q[:, torch.topk((g @ q).norm(dim=0), RANK).indices].T
        r = g @ p.T
        mom = B1 * (mom if mom is not None else 0) + (1 - B1) * r
        vel = B2 * (vel if vel is not None else 0) + (1 - B2) * r * r
        lr_t = LR * (1 - B2 ** t) ** 0.5 / (1 - B1 ** t)
        w = w - lr_t * (mom / (vel.sqrt() + EPS)) @ p
    return w


def test_dct_adamw_steps_match_the_rule_written_out_by_hand():
    gen = torch.Generator().manual_seed(2)
    w0 = torch.randn(7, 5, generator=gen)
    grads = [torch.randn(7, 5, generator=gen) for _ in range(5)]
    grads[3] = grads[3] * 10 + 3.0                    # a changed gradient: a refresh must act
    w = torch.nn.Parameter(w0.clone())
    cfg = DCTAdamWConfig(lr=LR, rank=RANK, beta1=B1, beta2=B2, eps=EPS, update_proj_gap=3,
                         target="matrices")
    opt = DCTAdamW(cfg).build([{"params": [w]}])
    for g in grads:
        w.grad = g.clone()
        opt.step()
    torch.testing.assert_close(w.detach(), reference(w0, grads, gap=3), rtol=1e-4, atol=1e-5)
    assert opt.state[w]["projector"].indices_refreshed == 2      # steps 1 and 3
    assert opt.state[w]["exp_avg"].shape == (7, RANK)


def test_transformer_layers_get_dct_projectors_and_low_rank_state():
    loaded = load({"dataset": {"name": "bytes", "seq_len": 16},
                   "model": {"name": "transformer", "width": 32, "depth": 1, "n_heads": 2},
                   "methods": {"optimizer": {"name": "dct-adamw", "lr": 3e-3, "rank": 4}},
                   "backend": {"name": "cpu", "threads": 1},
                   "train": {"steps": 3, "batch_size": 4, "eval_every": 3}})
    ctx = build_context(loaded.run)
    method = ctx.methods["optimizer"]
    method.setup(ctx)
    opt = method.build(ctx.param_groups)
    x, y = ctx.batch()
    ctx.loss(ctx.model, x, y).backward()
    opt.step()
    qkv = ctx.model.blocks[0].qkv.weight                              # 96 x 32: right side
    assert type(opt.state[qkv]["projector"]).__name__ == "DCTProjector"
    assert opt.state[qkv]["exp_avg"].shape == (96, 4)
    assert opt.state[ctx.model.readout.weight]["exp_avg"].shape == (256, 32)


def test_digits_mlp_trains_with_dct_adamw():
    run = {"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 48, "depth": 2},
           "methods": {"optimizer": {"name": "dct-adamw", "lr": 1e-2, "rank": 6}},
           "backend": {"name": "cpu", "threads": 1},
           "train": {"steps": 60, "batch_size": 32, "eval_every": 20}}
    result = execute(load(run).run)
    assert result.status == "finished", result.error
    assert result.metrics["val/loss"] < 0.6 * result.history[0][1]["val/loss"]


def test_bench_times_both_refreshes():
    run = {"dataset": {"name": "synthetic-classification", "n_train": 64, "n_val": 32,
                       "dim": 4, "n_classes": 2},
           "model": {"name": "linear"},
           "methods": {"trainer": {"name": "dct-projection-bench", "dim": 64, "rank": 4,
                                   "repeats": 3}},
           "backend": {"name": "cpu", "threads": 1},
           "train": {"steps": 1, "batch_size": 16, "eval_every": 1}}
    result = execute(load(run).run)
    assert result.status == "finished", result.error
    assert result.metrics["cost/svd_refresh_ms"] > 0 and result.metrics["cost/dct_refresh_ms"] > 0


class TestDCTAdamWContract(MethodContract):
    @pytest.fixture(params=[DCTAdamW, ProjectionBench])
    def component(self, request):
        return request.param


def test_loss_arms_differ_only_in_the_optimizer():
    raws = {a: load_yaml(resources.files("assay_dct_adamw").joinpath(f"configs/{a}_bytes.yaml"))
            for a in ("adamw", "galore", "dct")}
    opts = {a: raw["methods"].pop("optimizer") for a, raw in raws.items()}
    assert opts["dct"] == {**opts["galore"], "name": "dct-adamw"}
    for raw in raws.values():
        raw.pop("name")
        load(raw)
    assert raws["adamw"] == raws["galore"] == raws["dct"]


# --- the checks ----------------------------------------------------------------------------------

GRID = [3e-3, 1e-2, 3e-2, 1e-1, 3e-1]


def _seed(dct: float, galore: float = 0.80, adamw: float = 0.78, edge: str = "",
          svd_ms: float = 60.0, dct_ms: float = 8.0) -> dict[str, float]:
    m = {"bench/cost/svd_refresh_ms": svd_ms, "bench/cost/dct_refresh_ms": dct_ms}
    for arm, loss in (("dct", dct), ("galore", galore), ("adamw", adamw)):
        best_lr = GRID[-1] if arm == edge else GRID[2]
        m[f"{arm}/best/val/loss"], m[f"{arm}/best/methods.optimizer.lr"] = loss, best_lr
        for n, x in enumerate(GRID):
            m[f"{arm}/trials/{n}/methods.optimizer.lr"] = x
            m[f"{arm}/trials/{n}/val/loss"] = loss if x == best_lr else loss + 0.1
    return m


def _status(check, seeds):
    return decide([check(m) for m in seeds]).status


def test_checks_decide_from_the_interval_over_seeds():
    good = [_seed(0.801), _seed(0.805), _seed(0.799)]
    assert _status(matches_galore, good) == "PASS" and _status(near_adamw, good) == "PASS"
    worse = [_seed(0.85), _seed(0.86), _seed(0.84)]
    assert _status(matches_galore, worse) == "FAIL" and _status(near_adamw, worse) == "FAIL"
    straddle = [_seed(0.80), _seed(0.84), _seed(0.815)]
    assert _status(matches_galore, straddle) == "INCONCLUSIVE"


def test_loss_check_guards():
    d = decide([matches_galore(_seed(0.8, edge="galore"))] * 3)
    assert d.status == "NOT-ESTABLISHED" and "galore" in d.reason
    assert _status(matches_galore, [_seed(0.8, edge="adamw")] * 3) == "PASS"
    d = decide([near_adamw(_seed(0.8, adamw=CHANCE))] * 3)
    assert d.status == "INVALID" and "adamw" in d.reason


def test_speed_check():
    assert _status(faster_projection, [_seed(0.8, dct_ms=t) for t in (8, 9, 10)]) == "PASS"
    assert _status(faster_projection, [_seed(0.8, dct_ms=t) for t in (55, 60, 65)]) == "FAIL"
    missing = {k: v for k, v in _seed(0.8).items() if not k.startswith("bench/")}
    assert decide([faster_projection(missing)] * 3).status == "INVALID"


# --- negative controls (smoke budget, 3 seeds) ---------------------------------------------------

ONE_STEP = {"train.steps": 1, "train.eval_every": 1}


@pytest.mark.slow
@pytest.mark.parametrize("claim", ["dct-adamw:matches-galore", "dct-adamw:near-adamw"])
def test_negative_control_dct_cut_to_one_step_does_not_pass(claim, tmp_path):
    """DCT-AdamW trained for one step stays near the uniform loss while its baseline learns
    (replacing it by its baseline would tie, which the non-strict ratio passes)."""
    out = negative_control(claim, overrides={"dct": ONE_STEP}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_svd_timed_against_itself_is_not_3x_faster(tmp_path):
    out = negative_control("dct-adamw:faster-projection",
                           overrides={"bench": {"methods.trainer.contender": "svd"}}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
