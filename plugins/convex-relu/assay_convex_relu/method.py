"""Global training of a two-layer ReLU net by its sampled convex program, against restarts of
Adam on the same regularised objective (arXiv:2201.01965, Sec. 2-3; Pilanci and Ergen 2020).

The objective of the net f(x) = sum_j alpha_j relu(u_j . z), z = [x, 1], on n points:

    J(U, alpha) = 1/(2n) ||f(X) - y||^2 + beta/2 sum_j (||u_j||^2 + alpha_j^2)

Every hyperplane u splits the points by an activation pattern D = diag(1[Z u >= 0]). For a
set of patterns D_1..D_P the convex program

    min_{v_i, w_i}  1/(2n) ||sum_i D_i Z (v_i - w_i) - y||^2 + beta sum_i (||v_i|| + ||w_i||)
    s.t.            (2 D_i - I) Z v_i >= 0,  (2 D_i - I) Z w_i >= 0

has the same value as the net it maps to: each nonzero v_i is a neuron u = v_i / sqrt(||v_i||)
with alpha = sqrt(||v_i||) (w_i: alpha = -sqrt(||w_i||)); the constraints keep the neuron's
pattern D_i, and the rescaling makes its weight decay equal to beta ||v_i||. With every
pattern the program's value is the global minimum of J over nets of any width >= m*; the
paper's approximation samples P patterns from Gaussian hyperplanes u ~ N(0, I), an upper
bound that tightens as P grows. ``mode: convex`` solves that program with cvxpy and loads the
net; ``mode: nonconvex`` is the baseline: the run's optimizer (Adam, no weight decay: beta is
in J) on J itself, full batch, ``restarts`` fresh initialisations, keeping the lowest J seen.
"""
from __future__ import annotations

import copy
import math
import time
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from assay import Trainer, UserError

from assay_convex_relu.config import ConvexReLUConfig

from .data import PAPER

if TYPE_CHECKING:
    from assay import RunContext
    from torch import nn


def design(x: torch.Tensor) -> np.ndarray:
    """Z = [x, 1] in float64: the bias of a neuron is its weight on the constant column."""
    z = x.flatten(1).double().numpy()
    return np.hstack([z, np.ones((len(z), 1))])


def objective(net: nn.Module, x: torch.Tensor, y: torch.Tensor, beta: float) -> torch.Tensor:
    """J: half the mean squared error plus beta/2 times the squared weights."""
    residual = net(x).reshape(-1) - y.reshape(-1)
    return residual.pow(2).sum() / (2 * len(residual)) + beta / 2 * net.weight_norm_sq()


def sample_patterns(z: np.ndarray, count: int, seed: int) -> np.ndarray:
    """The distinct activation patterns 1[Z u >= 0] of ``count`` Gaussian hyperplanes u,
    as the columns of an (n, P') 0/1 matrix (P' <= count), all-zero pattern dropped."""
    rng = np.random.default_rng([2201, seed])
    d = (z @ rng.standard_normal((z.shape[1], count)) >= 0).astype(np.float64)
    d = np.unique(d, axis=1)
    return d[:, d.any(axis=0)]


def solve_convex(z: np.ndarray, y: np.ndarray, d: np.ndarray, beta: float,
                 solver: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(V, W, value) of the sampled convex program (columns v_i, w_i of shape (d, P))."""
    import cvxpy as cp

    n, p = d.shape
    v, w = cp.Variable((z.shape[1], p)), cp.Variable((z.shape[1], p))
    fit = cp.sum(cp.multiply(d, z @ (v - w)), axis=1)
    cost = (cp.sum_squares(fit - y) / (2 * n)
            + beta * (cp.sum(cp.norm(v, 2, axis=0)) + cp.sum(cp.norm(w, 2, axis=0))))
    side = 2 * d - 1
    problem = cp.Problem(cp.Minimize(cost), [cp.multiply(side, z @ v) >= 0,
                                             cp.multiply(side, z @ w) >= 0])
    problem.solve(solver=solver)
    if problem.status not in ("optimal", "optimal_inaccurate") or v.value is None:
        raise RuntimeError(f"cvxpy ({solver}) ended with status {problem.status}")
    return v.value, w.value, float(problem.value)


def neurons(v: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The net of a convex solution: (U (k, d), alpha (k,)) for every nonzero v_i and w_i,
    u = v / sqrt(||v||), alpha = +-sqrt(||v||), largest |alpha| first."""
    cols = np.hstack([v, w])
    signs = np.r_[np.ones(v.shape[1]), -np.ones(w.shape[1])]
    norms = np.linalg.norm(cols, axis=0)
    keep = np.flatnonzero(norms > 0)
    keep = keep[np.argsort(-norms[keep])]
    scale = np.sqrt(norms[keep])
    return (cols[:, keep] / scale).T, signs[keep] * scale


@torch.no_grad()
def load_neurons(net: nn.Module, u: np.ndarray, alpha: np.ndarray) -> None:
    """Write the neurons into the net's first rows; the other neurons are zero."""
    if len(alpha) > net.hidden_width:
        raise UserError(f"model.width={net.hidden_width} is smaller than the convex "
                        f"solution's {len(alpha)} neurons: use width >= 2 x patterns")
    k = len(alpha)
    for p in net.parameters():
        p.zero_()
    ut = torch.from_numpy(u).to(net.hidden.weight.dtype)
    net.hidden.weight[:k] = ut[:, :-1]
    net.hidden.bias[:k] = ut[:, -1]
    net.readout.weight[0, :k] = torch.from_numpy(alpha).to(net.readout.weight.dtype)


class ConvexReLU(Trainer):
    """Sampled convex training of a two-layer ReLU net, or its restarted nonconvex baseline."""

    name = "convex-relu"
    Config = ConvexReLUConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "dataset": {"name": "convex-relu-spirals", "n_train": 32, "n_val": 64},
        "model": {"name": "convex-relu-net", "width": 64},
        "methods": {"trainer": {"name": "convex-relu", "patterns": 16}}}

    def train(self, ctx: RunContext) -> None:
        if not hasattr(ctx.model, "weight_norm_sq"):
            raise UserError("methods.trainer: convex-relu trains the model 'convex-relu-net'")
        idx = ctx.train_idx if ctx.train_idx is not None else slice(None)
        x, y = (t[idx] for t in ctx.data.train)
        if self.config.mode == "convex":
            self.convex(ctx, x, y)
        else:
            self.nonconvex(ctx, x, y)

    def convex(self, ctx: RunContext, x: torch.Tensor, y: torch.Tensor) -> None:
        c = self.config
        z = design(x)
        d = sample_patterns(z, c.patterns, ctx.run.seed)
        start = time.process_time()
        v, w, value = solve_convex(z, y.reshape(-1).double().numpy(), d, c.beta, c.solver)
        solve_s = time.process_time() - start
        u, alpha = neurons(v, w)
        # loading the solution is this trainer's one step: the other methods' hooks (e.g. a
        # pruning mask) run around it, as around any gradient step
        ctx.hooked_step(lambda: load_neurons(ctx.model, u, alpha), 1)
        j = self.report(ctx, x, y, 0)
        active = int((np.abs(alpha) > c.active_tol * np.abs(alpha).max()).sum()) if len(
            alpha) else 0
        ctx.final_metrics.update({
            "relu/objective": j, "relu/convex_value": value, "relu/patterns": float(d.shape[1]),
            "relu/active_neurons": float(active), "cost/convex_solve_cpu_s": solve_s})

    def nonconvex(self, ctx: RunContext, x: torch.Tensor, y: torch.Tensor) -> None:
        c, net = self.config, ctx.model
        per = ctx.total_steps // c.restarts
        if per < 1:
            raise UserError(f"methods.trainer: {c.restarts} restarts need train.steps >= "
                            f"{c.restarts}, got {ctx.total_steps}")
        x, y = x.to(ctx.device), y.to(ctx.device)
        gen = torch.Generator().manual_seed(ctx.run.seed)
        best, best_state, finals, step = math.inf, None, [], 0
        for _ in range(c.restarts):
            net.reset(gen)
            ctx.optimizer.state.clear()                   # a fresh Adam for every restart
            for s in range(per):
                ctx.set_lr(s)
                loss = objective(net, x, y, c.beta)
                value = float(loss.detach())
                if value < best:                          # the lowest J of any iterate
                    best, best_state = value, {k: t.clone() for k, t in
                                               net.state_dict().items()}
                step += 1
                ctx.optimizer_step(loss, step)
            finals.append(self.report(ctx, x, y, step))
            if finals[-1] < best:
                best, best_state = finals[-1], {k: t.clone() for k, t in
                                                net.state_dict().items()}
        if best_state is not None:
            net.load_state_dict(best_state)
        ctx.final_metrics.update({
            "relu/objective": self.objective(ctx, x, y),
            "relu/restart_median": float(np.median(finals)),
            "relu/restart_worst": float(max(finals))})

    def objective(self, ctx: RunContext, x: torch.Tensor, y: torch.Tensor) -> float:
        """J of the current net, in float64 (the comparison is in the 4th digit)."""
        net = copy.deepcopy(ctx.model).double()
        with torch.no_grad():
            return float(objective(net, x.double(), y.double(), self.config.beta))

    def report(self, ctx: RunContext, x: torch.Tensor, y: torch.Tensor, step: int) -> float:
        j = self.objective(ctx, x, y)
        ctx.last_train_loss = j
        ctx.evaluate_and_report(step, {"relu/objective_now": j})
        return j
