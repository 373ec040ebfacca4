"""SSO: the expensive gradient is taken in target space, then amortised over many cheap
parameter updates (Lavington, Vaswani, Babanezhad, Schmidt and Le Roux, ICML 2023).

The targets are the model's outputs z = f(theta) (the logits of a classifier). One *oracle
call* is the gradient of the batch loss with respect to the targets, at the current targets
z_t. SSO builds from it a surrogate of the batch loss in theta,

    h_t(theta) = (1/b) sum_i [ <g_i, f_i(theta) - z_t,i> + ||f_i(theta) - z_t,i||^2 / (2 eta) ],
    g_i = d loss_i / d z_i at z_t,i,

whose minimiser over the targets is one SGD step in target space, z_t,i - eta g_i; minimising
it over theta projects that step onto the targets the model can produce. h_t is minimised
approximately with ``inner_steps`` (m) gradient steps in theta, none of which needs the oracle:
only forward and backward passes through f. Each inner step's size comes from an Armijo
backtracking line search on h_t (``inner: armijo``, restarted from ``max_inner_lr`` at every
oracle call, as in the official code), or is the optimizer's own rate (``inner: fixed``).

At theta_t the surrogate's gradient is the loss gradient (the proximal term's gradient is zero
there), so one inner step at a fixed rate is exactly an SGD step: ``inner_steps: 1, inner:
fixed`` is the SGD baseline, counted in the same oracle calls (``tests/test_sso.py`` checks
both the update and this identity by hand).

The run's ``train.steps`` is the oracle budget. After every call the trainer measures the full
training loss (a measurement, not part of the algorithm) and records the first call at which
it reaches ``target_loss`` (``oracle/calls_to_target``; the budget plus one when it never
does, with ``oracle/reached`` 0).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Paper, Trainer, UserError

from assay_sso.config import SSOConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="Target-based Surrogates for Stochastic Optimization", arxiv="2302.02607",
              year=2023)


class SSO(Trainer):
    """Stochastic surrogate optimization: projected SGD in target space."""

    name = "sso"
    Config = SSOConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"trainer": {"name": "sso", "inner_steps": 3},
                    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0}}}

    def train(self, ctx: RunContext) -> None:
        self.check_setup(ctx)
        reached, running, count = 0, 0.0, 0
        for call in range(1, ctx.total_steps + 1):
            x, y = ctx.batch()
            z, g, loss = self.oracle(ctx, x, y)
            for _ in range(self.config.inner_steps):
                self.inner_step(ctx, x, z, g)
            running, count = running + loss, count + 1
            if not reached and ctx.evaluate("train")["train/loss"] <= self.config.target_loss:
                reached = call
            if call % ctx.eval_every == 0 or call == ctx.total_steps:
                ctx.last_train_loss, running, count = running / count, 0.0, 0
                ctx.evaluate_and_report(call, {"oracle/calls": float(call)})
        self.record(ctx, reached)

    def check_setup(self, ctx: RunContext) -> None:
        if "loss" in ctx.methods:
            raise UserError("methods.trainer: sso takes the task's own loss in target space; "
                            "it cannot be combined with a loss method")
        if self.config.inner == "armijo" and not plain_sgd(ctx.optimizer):
            raise UserError("methods.trainer: sso's Armijo inner steps set the rate of a plain "
                            "gradient step; use optimizer sgd with momentum 0 and no weight "
                            "decay (or inner: fixed)")

    @staticmethod
    def oracle(ctx: RunContext, x: torch.Tensor, y: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, float]:
        """The one expensive call: targets z_t, per-example gradients g_i = d loss_i / d z_i,
        and the batch loss."""
        with torch.no_grad():
            z = ctx.model(x)
        z_var = z.clone().requires_grad_(True)
        loss = ctx.default_loss(z_var, y)          # the batch mean: scale back to per example
        (g,) = torch.autograd.grad(loss, z_var)
        value = float(loss.detach())
        if not math.isfinite(value):
            from assay import NonFiniteLoss

            raise NonFiniteLoss(f"train loss became {value}")
        return z, g * z.shape[0], value

    def inner_step(self, ctx: RunContext, x: torch.Tensor, z: torch.Tensor,
                   g: torch.Tensor) -> None:
        """One parameter update on the surrogate of batch ``x``, through
        ``ctx.optimizer_step``."""

        def h_of() -> torch.Tensor:
            return surrogate(ctx.model(x), z, g, self.config.eta)

        if self.config.inner == "armijo":
            set_rate(ctx, self.armijo_rate(ctx, h_of(), h_of))
        ctx.optimizer_step(h_of())          # a fresh graph: the search moved the weights

    def armijo_rate(self, ctx: RunContext, h: torch.Tensor, h_of: Any) -> float:
        """The largest step max_inner_lr * backtrack^k with sufficient decrease of h."""
        c = self.config
        params = [p for group in ctx.optimizer.param_groups for p in group["params"]]
        grads = torch.autograd.grad(h, params)
        norm2 = float(sum((gr * gr).sum() for gr in grads))
        saved = [p.detach().clone() for p in params]
        rate, base = c.max_inner_lr, float(h.detach())
        with torch.no_grad():
            while rate > 1e-10:
                for p, s, gr in zip(params, saved, grads):
                    p.copy_(s - rate * gr)
                if float(h_of()) <= base - c.armijo_c * rate * norm2:
                    break
                rate *= c.backtrack
            for p, s in zip(params, saved):
                p.copy_(s)
        return rate

    @staticmethod
    def record(ctx: RunContext, reached: int) -> None:
        budget = ctx.total_steps
        ctx.final_metrics.update({
            "oracle/calls_to_target": float(reached or budget + 1),
            "oracle/reached": float(bool(reached)),
            "oracle/budget": float(budget),
            "train/full_loss": ctx.evaluate("train")["train/loss"],
        })


def surrogate(out: torch.Tensor, z: torch.Tensor, g: torch.Tensor, eta: float) -> torch.Tensor:
    """h_t(theta) up to a constant: the linearised loss plus the proximal term, both averaged
    over the batch."""
    diff = out - z
    return ((g * diff).sum(-1) + diff.pow(2).sum(-1) / (2 * eta)).mean()


def plain_sgd(opt: torch.optim.Optimizer | None) -> bool:
    """True for torch SGD without momentum or weight decay: a step is exactly -rate * grad."""
    return isinstance(opt, torch.optim.SGD) and all(
        g.get("momentum", 0) == 0 and g.get("weight_decay", 0) == 0 for g in opt.param_groups)


def set_rate(ctx: RunContext, rate: float) -> None:
    for group in ctx.optimizer.param_groups:
        group["lr"] = rate
