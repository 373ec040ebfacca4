"""ConAdv (arXiv:2106.00221) as a trainer, and LAMB as an optimizer.

Adversarial training with FGSM needs two gradients in sequence at every step: the input
gradient that builds the perturbation, then the weight gradient at the perturbed batch.
Synchronous ("DisAdv") training takes both at the current weights ``theta_t``:

    delta_t   = eps * sign(grad_x L(theta_t; x_t, y_t))
    theta_t+1 = opt(theta_t, grad_theta [(1 - w) L(theta_t; x_t) + w L(theta_t; x_t + delta_t)])

ConAdv takes the input gradient at weights ``tau`` steps old, ``theta_{t - tau}`` (tau = 1):
that gradient does not wait for the current update, so on many workers it runs concurrently
with the previous step's weight gradient and a step costs what a vanilla step costs. The
weight update is unchanged. ``w`` mixes the clean and the adversarial loss: the paper's
ImageNet recipe trains on both clean and adversarial batches (w = 0.5); ``w = 1`` trains on
adversarial batches only. Mode ``vanilla`` is plain training (the large-batch baseline).

This single process runs the two gradients one after the other either way: the claims test
the *accuracy* of stale perturbations, not the wall-clock gain, which needs several workers.
``tests/test_conadv.py`` checks a step of each mode against the rule written out by hand.
"""
from __future__ import annotations

import collections
import math
from typing import Any, ClassVar

import torch
from assay import Config, Optimizer, Paper, RunContext, Trainer

from assay_conadv.config import ConAdvConfig, LambConfig

PAPER = Paper(title="Concurrent Adversarial Learning for Large-Batch Training",
              arxiv="2106.00221", year=2022)


def fgsm(model: torch.nn.Module, params: dict[str, torch.Tensor], loss_fn: Any,
         x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """``eps * sign(grad_x loss)`` of ``model`` evaluated at ``params`` (which may be stale
    copies of its weights); the model's own weights are neither used nor given gradients."""
    x_var = x.detach().clone().requires_grad_(True)
    out = torch.func.functional_call(model, params, (x_var,))
    (grad,) = torch.autograd.grad(loss_fn(out, y), x_var)
    return eps * grad.sign()


class ConAdv(Trainer):
    """The standard minibatch loop with FGSM perturbations from current or stale weights."""

    name = "conadv"
    Config = ConAdvConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"trainer": {"name": "conadv", "epsilon": 0.05},
                    "optimizer": {"name": "adamw", "lr": 1e-2}}}

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self._past: collections.deque[dict[str, torch.Tensor]] = collections.deque()

    def perturbation_weights(self, ctx: RunContext) -> dict[str, torch.Tensor]:
        """The weights the perturbation is built from: the current ones (sync), or those of
        ``staleness`` steps ago (the oldest kept; the initial weights until that many steps
        have passed)."""
        current = {**dict(ctx.model.named_parameters()), **dict(ctx.model.named_buffers())}
        if self.config.mode != "stale" or not self._past:
            return {k: v.detach() for k, v in current.items()}
        return {**{k: v.detach() for k, v in current.items()}, **self._past[0]}

    def remember(self, ctx: RunContext) -> None:
        """Keep a copy of the current weights (stale mode). After ``k`` updates the deque holds
        theta_{k - tau} .. theta_k, so step ``k + 1`` (which updates theta_k) builds its
        perturbation from theta_{k - tau}, the oldest."""
        if self.config.mode != "stale":
            return
        self._past.append({k: p.detach().clone() for k, p in ctx.model.named_parameters()})
        while len(self._past) > self.config.staleness + 1:
            self._past.popleft()

    def step_loss(self, ctx: RunContext, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        c = self.config
        if c.mode == "vanilla":
            return ctx.loss(ctx.model, x, y)
        delta = fgsm(ctx.model, self.perturbation_weights(ctx), ctx.default_loss, x, y,
                     c.epsilon)
        clean = ctx.loss(ctx.model, x, y) if c.adv_weight < 1 else 0.0
        adv = ctx.loss(ctx.model, x + delta, y)
        return (1 - c.adv_weight) * clean + c.adv_weight * adv

    def train(self, ctx: RunContext) -> None:
        self._past.clear()
        self.remember(ctx)                    # theta_0: the first steps' stale weights
        running, count = 0.0, 0
        for step in range(1, ctx.total_steps + 1):
            ctx.set_lr(step - 1)
            x, y = ctx.batch()
            loss = self.step_loss(ctx, x, y)
            value = float(loss.detach())
            if not math.isfinite(value):
                from assay import NonFiniteLoss

                raise NonFiniteLoss(f"train loss became {value} at step {step}")
            ctx.optimizer_step(loss, step)
            self.remember(ctx)                # theta_step: stale weights of step + 1 + tau
            running, count = running + value, count + 1
            if step % ctx.eval_every == 0 or step == ctx.total_steps:
                ctx.last_train_loss, running, count = running / count, 0.0, 0
                ctx.evaluate_and_report(step)


class Lamb(Optimizer):
    """LAMB (You et al., 2020), wrapping ``pytorch_optimizer.Lamb``: per tensor,
    ``u = m / (sqrt(v) + eps)`` and ``w <- w - lr * min(||w||, 10) / ||u|| * u``, so every
    step moves a tensor by ``lr`` times its norm. The moments' bias corrections are scalars
    per step that the trust ratio cancels; the library would still divide the step by
    ``1 - beta1^t`` unless ``adam_debias`` is set, which it is here (the paper's rule)."""

    name = "conadv-lamb"
    Config = LambConfig
    paper = Paper(title="Large Batch Optimization for Deep Learning: Training BERT in 76 "
                        "minutes", arxiv="1904.00962", year=2020)

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        from assay.lib.optim import scaled_groups
        from pytorch_optimizer import Lamb as _Lamb

        c = self.config
        return _Lamb(scaled_groups(param_groups, c.lr, c.weight_decay), lr=c.lr,
                     betas=(c.beta1, c.beta2), eps=c.eps, weight_decay=c.weight_decay,
                     weight_decouple=True, max_grad_norm=0.0, adam_debias=True)
