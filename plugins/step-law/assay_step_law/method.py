"""The Step Law training recipe: a fixed token budget and the paper's learning-rate shape.

To ask "which batch size is best for D tokens" the number of steps must follow the batch size
(steps = D / tokens per batch), which a fixed ``train.steps`` cannot do. This trainer takes the
token budget D instead and runs the standard supervised step for as many steps as that
buys. Its learning rate warms up linearly and then decays along a cosine to an absolute floor
``final_lr`` (the paper keeps the final rate fixed instead of a fraction of the peak, so that
the peak rate being searched does not also move the end of the schedule). A ``schedule``
method in the experiment replaces that shape (it is then given the derived step count).

At the end of a run it records N (non-embedding parameters), D (tokens trained) and the
published law's prediction for that (N, D) under ``step_law/*``.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from assay import Paper, Trainer

from assay_step_law.config import StepLawConfig

from .formula import non_embedding_params, optimal_batch_tokens, optimal_lr

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="Predictable Scale: Part I -- Optimal Hyperparameter Scaling Law in "
                    "Large Language Model Pretraining", arxiv="2503.04715", year=2025)


class StepLaw(Trainer):
    """Fixed-token-budget training with the paper's learning-rate shape."""

    name = "step-law"
    Config = StepLawConfig
    paper = PAPER

    def n_steps(self, ctx: RunContext) -> int:
        x = ctx.data.train[0]
        per_example = int(x.shape[1]) if ctx.data.task == "lm" else 1
        return max(1, round(self.config.tokens / (ctx.run.train.batch_size * per_example)))

    def lr_factor(self, step: int, n_steps: int, peak: float) -> float:
        """Multiplier of a group's peak rate at ``step`` (0-based) of ``n_steps``."""
        warm = int(self.config.warmup_fraction * n_steps)
        if step < warm:
            return (step + 1) / (warm + 1)
        floor = min(self.config.final_lr, peak) / peak if peak > 0 else 1.0
        progress = (step - warm) / max(1, n_steps - 1 - warm)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    def train(self, ctx: RunContext) -> None:
        model, opt = ctx.model, ctx.optimizer
        assert opt is not None
        schedule = ctx.methods.get("schedule")
        n_steps = self.n_steps(ctx)
        peaks = [g["lr"] for g in opt.param_groups]

        def set_lr(step: int) -> None:
            for group, peak in zip(opt.param_groups, peaks):
                group["lr"] = peak * (schedule.factor(step, n_steps)  # type: ignore[attr-defined]
                                      if schedule else self.lr_factor(step, n_steps, peak))

        ctx.run_steps(n_steps, set_lr)
        x = ctx.data.train[0]
        per_example = int(x.shape[1]) if ctx.data.task == "lm" else 1
        n, d = non_embedding_params(model), n_steps * ctx.run.train.batch_size * per_example
        ctx.final_metrics.update({
            "step_law/N": float(n), "step_law/D": float(d), "step_law/steps": float(n_steps),
            "step_law/batch_tokens": float(ctx.run.train.batch_size * per_example),
            "step_law/lr_pred": optimal_lr(n, d) if n > 0 else math.nan,
            "step_law/batch_tokens_pred": optimal_batch_tokens(d)})
