"""Coherent gradients: how aligned per-example gradients are, and a step that ignores the
directions only a few examples support (Chatterjee & Zielinski, 2022).

The theory: a gradient step is the sum of per-example gradients, so it moves most along the
directions many examples share. On real data those directions exist and training generalises;
on random labels every example pulls its own way and is fitted one by one (memorised). Two
instruments follow from it:

- **m-coherence.** For the per-example gradients g_1..g_m of a sample,

      alpha_m = m * ||mean_i g_i||^2 / mean_i ||g_i||^2,

  the number of the m examples that, on average, a small step along one example's gradient
  also helps: 1 when the gradients are orthogonal, m when they are identical, 0 when they
  cancel.
- **Median of means (M3).** Split each minibatch into k groups (k = 3 in the paper), take
  each group's mean gradient, and step along their coordinate-wise median. A direction that
  only a few examples support moves one group's mean, not the median, so memorisation is
  suppressed while directions most examples share pass through.

The ``coherent-gradients`` trainer takes plain minibatch steps (``groups: 1``) or M3 steps
(``groups: 3``), measures alpha_m on a fixed sample of training examples during the first
steps, and, when the data flags flipped labels (``Data.info["flipped"]``, the builtin digits'
``label_noise``), records how many of them the model fits at the end (memorisation).
"""
from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import NonFiniteLoss, Paper, Trainer, UserError
from assay.lib.hessian import per_example_grads

from assay_coherent_gradients.config import CoherentGradientsConfig

if TYPE_CHECKING:
    from assay import RunContext
    from torch import nn

PAPER = Paper(title="On the Generalization Mystery in Deep Learning", arxiv="2203.10036",
              year=2022)


def m_coherence(grads: torch.Tensor) -> float:
    """alpha_m of the rows of ``grads`` (m, P): m ||mean||^2 / mean ||g_i||^2."""
    g = grads.to(torch.float64)
    mean_sq_norm = float(g.pow(2).sum(dim=1).mean())
    if not mean_sq_norm > 0:
        return math.nan
    return g.shape[0] * float(g.mean(dim=0).pow(2).sum()) / mean_sq_norm


def median_of_means(group_grads: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """Coordinate-wise median over groups of each parameter's group-mean gradient
    (``group_grads[j][i]``: group j, parameter i). With an odd number of groups the median is
    one group's value in every coordinate."""
    return [torch.stack(per_group).median(dim=0).values for per_group in zip(*group_grads)]


class CoherentGradients(Trainer):
    """Minibatch SGD or median-of-means (M3) steps, with m-coherence and memorisation
    measured on the way."""

    name = "coherent-gradients"
    Config = CoherentGradientsConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"trainer": {"name": "coherent-gradients", "groups": 3,
                                "coherence_every": 10, "coherence_m": 16}}}

    def train(self, ctx: RunContext) -> None:
        c = self.config
        if ctx.run.train.batch_size < c.groups:
            raise UserError(f"methods.trainer.groups ({c.groups}) exceeds train.batch_size "
                            f"({ctx.run.train.batch_size}): every group needs an example")
        sample = self.coherence_sample(ctx)
        alphas: dict[int, float] = {}
        running, count = 0.0, 0
        for step in range(ctx.total_steps + 1):
            if self.measures(step, ctx.total_steps):
                alphas[step] = self.coherence(ctx, *sample)
            if step == ctx.total_steps:
                break
            ctx.set_lr(step)
            running += self.step(ctx, step + 1)
            count += 1
            if (step + 1) % ctx.eval_every == 0 or step + 1 == ctx.total_steps:
                ctx.last_train_loss, running, count = running / count, 0.0, 0
                ctx.evaluate_and_report(step + 1)
        self.record_coherence(ctx, alphas)

    def measures(self, step: int, total: int) -> bool:
        c = self.config
        return c.coherence_every > 0 and step <= min(c.coherence_until, total) \
            and step % c.coherence_every == 0

    def step(self, ctx: RunContext, step: int) -> float:
        """One plain or M3 step through ``ctx.optimizer_step``; returns the batch loss."""
        x, y = ctx.batch()
        if self.config.groups == 1:
            loss = ctx.loss(ctx.model, x, y)
            value = float(loss.detach())
            check_finite(value, step)
            ctx.optimizer_step(loss, step)
            return value
        params = [p for p in ctx.model.parameters() if p.requires_grad]
        losses, per_group = [], []
        for xg, yg in zip(x.tensor_split(self.config.groups), y.tensor_split(self.config.groups)):
            loss = ctx.loss(ctx.model, xg, yg)
            losses.append(float(loss.detach()))
            per_group.append(torch.autograd.grad(loss, params))
        value = statistics.fmean(losses)
        check_finite(value, step)
        # a loss whose gradient is exactly the median: every other method's hooks still run
        target = median_of_means(per_group)
        ctx.optimizer_step(sum((p * g).sum() for p, g in zip(params, target)), step)
        return value

    def coherence_sample(self, ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor]:
        """A fixed random sample of m training examples (its own generator, so measuring
        does not change the batches the run draws)."""
        x, y = ctx.data.train
        gen = torch.Generator().manual_seed(ctx.run.seed + 104_729)
        idx = torch.randperm(len(x), generator=gen)[:self.config.coherence_m]
        return x[idx].to(ctx.device), y[idx].to(ctx.device)

    @staticmethod
    def coherence(ctx: RunContext, x: torch.Tensor, y: torch.Tensor) -> float:
        grads = per_example_grads(ctx.model, ctx.default_loss, x, y)
        return m_coherence(torch.cat([g.reshape(len(x), -1) for g in grads.values()], dim=1))

    def record_coherence(self, ctx: RunContext, alphas: dict[int, float]) -> None:
        if not alphas:
            return
        record = ctx.final_metrics
        record.update({f"coherence/alpha_m/{s}": a for s, a in alphas.items()})
        record["coherence/mean"] = statistics.fmean(alphas.values())
        record["coherence/m"] = float(min(self.config.coherence_m, ctx.data.n_train))

    def after_train(self, ctx: RunContext) -> None:
        flipped = ctx.data.info.get("flipped")
        if flipped is not None:
            ctx.final_metrics.update(memorisation(ctx.model, *ctx.data.train, flipped,
                                                  ctx.device))


def check_finite(value: float, step: int) -> None:
    if not math.isfinite(value):
        raise NonFiniteLoss(f"train loss became {value} at step {step}")


@torch.no_grad()
def memorisation(model: nn.Module, x: torch.Tensor, y: torch.Tensor, flipped: torch.Tensor,
                 device: torch.device) -> dict[str, float]:
    """Training accuracy on the flipped examples (against their wrong labels: how many are
    memorised) and on the others, with the model in eval mode."""
    was_training = model.training
    model.eval()
    hit = torch.cat([model(x[i:i + 1024].to(device)).argmax(-1).cpu() == y[i:i + 1024]
                     for i in range(0, len(x), 1024)])
    model.train(was_training)
    flipped = flipped.bool()
    return {"memo/flipped_fit": float(hit[flipped].double().mean()) if flipped.any() else math.nan,
            "memo/clean_fit": float(hit[~flipped].double().mean()),
            "memo/n_flipped": float(flipped.sum())}
