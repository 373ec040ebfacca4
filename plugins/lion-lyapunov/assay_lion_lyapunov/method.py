"""Lion-K, the constraint it enforces, and a probe that measures it.

Lion-K (arXiv:2310.05898) replaces Lion's sign() by the (sub)gradient of a convex function K.
For gradient g, momentum m and weights x (learning rate eps, decoupled weight decay lam):

    c = beta1 * m + (1 - beta1) * g
    x = x - eps * (grad_K(c) + lam * x)
    m = beta2 * m + (1 - beta2) * g

The paper shows, with a Lyapunov function, that this minimises f(x) + K*(lam x) / lam: the
iterates first decay into the set where K*(lam x) is finite, then descend f inside it.

- K = l1 norm: grad_K = sign, which is Lion itself; the set is the box ||x||_inf <= 1/lam.
  This case *is* ``assay_lion.Lion`` (the lion plugin's optimizer), reused here.
- K = l2 norm of each parameter tensor: grad_K(c) = c / ||c||; the set is every tensor's l2
  ball ||x_T||_2 <= 1/lam.

``lion-lyapunov-probe`` (a parameterization) starts the weights outside that set, tracks the
constraint's norm during training, and, for a linear model, solves the box-constrained problem
with L-BFGS-B so that the run's final loss can be compared with the true constrained optimum.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from assay import Model, Optimizer, Paper, Parameterization, UserError
from torch import nn

from assay_lion_lyapunov.config import LinearConfig, LionKConfig, ProbeConfig

if TYPE_CHECKING:
    from assay import Data, RunContext

PAPER = Paper(title="Lion Secretly Solves Constrained Optimization: As Lyapunov Predicts",
              arxiv="2310.05898", year=2023)


# --- the optimizer ---------------------------------------------------------------------------

class LionL2(torch.optim.Optimizer):
    """Lion-K with K = sum over tensors of ||.||_2: each tensor moves by eps * c / ||c||."""

    def __init__(self, params: Any, lr: float, betas: tuple[float, float],
                 weight_decay: float) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None if closure is None else closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                m = self.state[p].setdefault("exp_avg", torch.zeros_like(p))
                c = beta1 * m + (1 - beta1) * p.grad
                norm = float(c.norm())
                p.mul_(1 - group["lr"] * group["weight_decay"])
                if norm > 0:
                    p.add_(c, alpha=-group["lr"] / norm)
                m.mul_(beta2).add_(p.grad, alpha=1 - beta2)
        return loss


class LionK(Optimizer):
    """Lion-K: Lion (K = l1) or its per-tensor l2 sibling, with decoupled weight decay."""

    name = "lion-lyapunov"
    Config = LionKConfig
    paper = PAPER

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        from assay.lib.optim import scaled_groups

        c = self.config
        if c.kappa == "l1":
            from assay_lion.method import Lion, LionConfig

            return Lion(LionConfig(lr=c.lr, beta1=c.beta1, beta2=c.beta2,
                                   weight_decay=c.weight_decay)).build(param_groups)
        return LionL2(scaled_groups(param_groups, c.lr, c.weight_decay), lr=c.lr,
                      betas=(c.beta1, c.beta2), weight_decay=c.weight_decay)


# --- the probe -------------------------------------------------------------------------------

def constraint_norm(params: list[torch.Tensor], norm: str) -> float:
    """max |x| over all entries ('linf'), or the largest per-tensor l2 norm ('l2')."""
    if norm == "linf":
        return max(float(p.detach().abs().max()) for p in params)
    return max(float(p.detach().norm()) for p in params)


class ConstraintProbe(Parameterization):
    """Starts the weights outside the constraint set and reports where they end up."""

    name = "lion-lyapunov-probe"
    Config = ProbeConfig
    paper = PAPER

    def apply(self, model: nn.Module, data: Data) -> list[dict[str, Any]]:
        c = self.config
        params = [p for p in model.parameters() if p.requires_grad]
        if c.init_scale > 0:
            radius = c.init_scale * c.bound
            with torch.no_grad():
                for p in params:
                    if c.norm == "linf":   # uniform, rescaled so the largest entry is at radius
                        p.uniform_(-1, 1).mul_(radius / float(p.abs().max()))
                    else:                  # gaussian direction with norm exactly radius
                        p.normal_().mul_(radius / float(p.norm()))
        self.start = constraint_norm(params, c.norm)
        self.late = 0.0
        return [{"params": params}]

    def after_step(self, ctx: RunContext, step: int) -> None:
        params = [p for p in ctx.model.parameters() if p.requires_grad]
        if step > ctx.total_steps // 2:     # "stays inside": the max over the second half
            self.late = max(self.late, constraint_norm(params, self.config.norm))
        if step == ctx.total_steps:
            ctx.final_metrics.update(self.report(ctx, params))

    def report(self, ctx: RunContext, params: list[torch.Tensor]) -> dict[str, float]:
        c = self.config
        out = {"weights/bound": c.bound, "weights/start": self.start,
               "weights/late_max": self.late,
               "weights/max_abs": constraint_norm(params, "linf"),
               "weights/max_l2": constraint_norm(params, "l2"),
               "ref/train_loss": ctx.evaluate("train")["train/loss"]}
        layer = _only_linear(ctx.model)
        if c.reference and c.norm == "linf" and layer is not None \
                and ctx.data.task == "classification":
            from ._reference import box_optimum

            x, y = ctx.data.train
            out["ref/optimum_loss"] = box_optimum(x, y, layer, c.bound)
            out["ref/unconstrained_loss"] = box_optimum(x, y, layer, math.inf)
        return out


def _only_linear(model: nn.Module) -> nn.Linear | None:
    """The model's single Linear layer when that is all it has (a convex problem), else None."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    n_params = sum(1 for _ in model.parameters())
    if len(linears) == 1 and n_params == len(list(linears[0].parameters())):
        return linears[0]
    return None


# --- a linear model, so that the problem is convex -------------------------------------------


class LinearNet(nn.Module):
    def __init__(self, n_in: int, n_out: int, bias: bool) -> None:
        super().__init__()
        self.readout = nn.Linear(n_in, n_out, bias=bias)
        self.hidden_width = n_in

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)                          # (B, n_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x))        # (B, n_out)


class LinearModel(Model):
    """Multinomial logistic regression (classification) or least squares (regression) on
    flattened inputs: a convex problem with a computable constrained optimum."""

    name = "lion-lyapunov-linear"
    Config = LinearConfig
    paper = PAPER

    def build(self, data: Data) -> nn.Module:
        if data.task == "lm":
            raise UserError("model 'lion-lyapunov-linear' does not take token sequences")
        return LinearNet(math.prod(data.input_shape), data.n_outputs, self.config.bias)
