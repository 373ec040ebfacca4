"""AdaGrad-Norm with batch sizes chosen by the norm test: AdAdaGradNorm (Lau, Liu and Kolar,
2024).

AdaGrad-Norm (optimizer ``adagrad-norm``) keeps one scalar for the whole model,

    b_k^2 = b_{k-1}^2 + ||g_k||^2,        theta_{k+1} = theta_k - lr * g_k / b_k,

with g_k the batch gradient and b_0 given, so its step shrinks as squared gradient norms
accumulate.

The norm test (Byrd, Chin, Nocedal and Wu, 2012), which the paper carries over to adaptive
methods, asks whether batch B_k's gradient is accurate enough relative to its size: with
g_i the per-example gradients and g their mean over the |B_k| examples,

    Var_i(g_i) / |B_k|  <=  eta^2 ||g||^2,   Var_i(g_i) = sum_i ||g_i - g||^2 / (|B_k| - 1).

When it fails, the next batch is made just large enough for the estimated variance to pass,
|B_{k+1}| = ceil(Var_i(g_i) / (eta^2 ||g||^2)), and the batch never shrinks (``max`` with
the current size; capped at ``max_batch``). The step itself is taken with batch B_k either
way. The variance is estimated from at most ``variance_sample`` of the batch's examples (so
the test costs the same at every batch size) and ||g||^2 from all of them. Trainer
``adadagrad`` runs this schedule (``adaptive: false`` keeps the first batch size, the
fixed-batch baseline), drawing each batch with ``ctx.batch(n)``, and stops at ``train.steps`` steps or when ``sample_budget`` examples have been processed, so that
a growing batch means fewer steps over the same data. It records the step count, the samples
processed and the batch size at the end (``adabatch/...``).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Optimizer, Paper, Trainer, UserError

from assay_adadagrad.config import AdaGradNormConfig, AdaptiveBatchConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="AdAdaGrad: Adaptive Batch Size Schemes for Adaptive Gradient Methods",
              arxiv="2402.11215", year=2024)


# --- AdaGrad-Norm ------------------------------------------------------------------------------


class _AdaGradNorm(torch.optim.Optimizer):
    """The update above; the accumulator b^2 sums over every parameter of every group."""

    def __init__(self, params: Any, lr: float, b0: float) -> None:
        super().__init__(params, {"lr": lr, "b0": b0})

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        live = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        if not live:
            return loss
        state = self.state[self.param_groups[0]["params"][0]]
        b0 = self.param_groups[0]["b0"]
        b2 = state.get("b2", torch.tensor(b0 * b0, dtype=torch.float64))
        b2 = b2 + sum(p.grad.double().pow(2).sum() for p in live)
        state["b2"] = b2
        b = float(b2.sqrt())
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-group["lr"] / b)
        return loss


class AdaGradNorm(Optimizer):
    """AdaGrad-Norm: the step size divided by the root of all squared gradient norms so far."""

    name = "adagrad-norm"
    Config = AdaGradNormConfig
    paper = PAPER

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        from assay.lib.optim import scaled_groups

        c = self.config
        return _AdaGradNorm(scaled_groups(param_groups, c.lr, 0.0), lr=c.lr, b0=c.b0)


# --- the norm test -----------------------------------------------------------------------------

def example_variance(model: torch.nn.Module, loss_fn: Callable[..., torch.Tensor],
                     x: torch.Tensor, y: torch.Tensor, chunk: int = 256) -> float:
    """The sample variance of the per-example gradients over (x, y): sum_i ||g_i - gbar||^2
    / (n - 1), computed in chunks so that the per-example gradients are never all held at
    once."""
    from assay.lib.hessian import per_example_grads

    total, sq = None, 0.0
    for i in range(0, len(x), chunk):
        grads = per_example_grads(model, loss_fn, x[i:i + chunk], y[i:i + chunk])
        flat = torch.cat([g.flatten(1) for g in grads.values()], 1).double()   # (n, P)
        sq += float(flat.pow(2).sum())
        part = flat.sum(0)
        total = part if total is None else total + part
    assert total is not None
    n = len(x)
    return (sq - float(total.pow(2).sum()) / n) / (n - 1)


def mean_grad_sq(model: torch.nn.Module, loss: torch.Tensor) -> float:
    """||g||^2 of the batch-mean gradient (the graph is kept for the step itself)."""
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, retain_graph=True)
    return float(sum(g.double().pow(2).sum() for g in grads))


def next_batch(size: int, variance: float, mean_sq: float, eta: float, cap: int) -> int:
    """The norm test on a batch of ``size`` with per-example gradient variance ``variance``
    and mean-gradient norm^2 ``mean_sq``: the size itself when it passes, else the size at
    which that variance would pass (never smaller than ``size``, at most ``cap``)."""
    if variance / size <= eta ** 2 * mean_sq:
        return size
    if mean_sq <= 0:
        return cap
    return min(cap, max(size, math.ceil(variance / (eta ** 2 * mean_sq))))


# --- the trainer -------------------------------------------------------------------------------


class AdaptiveBatch(Trainer):
    """AdAdaGradNorm's schedule: batch sizes that grow when the norm test fails."""

    name = "adadagrad"
    Config = AdaptiveBatchConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"trainer": {"name": "adadagrad", "eta": 0.5}}}

    def train(self, ctx: RunContext) -> None:
        from assay import NonFiniteLoss

        c = self.config
        size = ctx.run.train.batch_size
        if c.adaptive and size < 2:
            raise UserError("methods.trainer: the norm test needs train.batch_size >= 2")
        step, samples, grew, running, count = 0, 0, 0, 0.0, 0
        while step < ctx.total_steps and (c.sample_budget is None or samples < c.sample_budget):
            ctx.set_lr(step)
            x, y = ctx.batch(size)
            loss = ctx.loss(ctx.model, x, y)
            new = self.test(ctx, x, y, loss, step)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise NonFiniteLoss(f"train loss became {value} at step {step + 1}")
            ctx.optimizer_step(loss, step + 1)
            step, samples, running, count = step + 1, samples + size, running + value, count + 1
            grew, size = grew + (new > size), new
            if step % ctx.eval_every == 0:
                ctx.last_train_loss, running, count = running / count, 0.0, 0
                ctx.evaluate_and_report(step, {"adabatch/batch": float(size)})
        if count:                                  # the last step, unless just reported
            ctx.last_train_loss = running / count
            ctx.evaluate_and_report(step, {"adabatch/batch": float(size)})
        ctx.final_metrics.update({"adabatch/steps": float(step), "adabatch/samples":
                                  float(samples), "adabatch/final_batch": float(size),
                                  "adabatch/increases": float(grew)})

    def test(self, ctx: RunContext, x: torch.Tensor, y: torch.Tensor, loss: torch.Tensor,
             step: int) -> int:
        """The next batch size after a step with batch (x, y) and its loss. The variance
        comes from the first ``variance_sample`` examples of the (already random) batch."""
        c, size = self.config, len(x)
        if not c.adaptive or step % c.test_every:
            return size
        k = size if c.variance_sample is None else min(size, c.variance_sample)
        variance = example_variance(ctx.model, ctx.default_loss, x[:k], y[:k], c.chunk)
        return next_batch(size, variance, mean_grad_sq(ctx.model, loss), c.eta, c.max_batch)
