"""Fixed-epoch training with the paper's batch-size rule for the learning rate.

Granziol et al. bound the largest usable learning rate by the top eigenvalue of the
mini-batch Hessian, which shrinks towards the full-batch value as the batch grows; for SGD
that bound grows linearly in the batch size B, for Adam-type optimizers (whose step is
normalised by the gradient's second moment) like sqrt(B). In practice: tune the rate once at
a reference batch B_ref, then use

    lr(B) = lr(B_ref) * (B / B_ref) ** p,   p = 1 (rule "linear", SGD) or 1/2 ("sqrt", Adam)

Comparing batch sizes is only fair on the same data, so this trainer fixes the number of
epochs (steps = epochs * n_train / B) instead of ``train.steps``. The learning rate is constant
unless the experiment has a ``schedule`` method (which then gets the derived step count).
At the end it evaluates the loss on the whole training set (``train_full/loss``), the
optimisation objective the paper's bound is about.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from assay import Paper, Trainer

from assay_lr_batch_law.config import LrBatchLawConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="Learning Rates as a Function of Batch Size: A Random Matrix Theory "
                    "Approach to Neural Network Training", arxiv="2006.09092", year=2022)

EXPONENT = {"none": 0.0, "linear": 1.0, "sqrt": 0.5}


def scaled_lr(lr: float, batch: int, reference: int, rule: str) -> float:
    """The paper's rule: lr at ``batch`` from lr tuned at ``reference``."""
    return lr * (batch / reference) ** EXPONENT[rule]


class LrBatchLaw(Trainer):
    """Fixed-epoch training with the linear (SGD) / square-root (Adam) batch-size rule."""

    name = "lr-batch-law"
    Config = LrBatchLawConfig
    paper = PAPER

    def n_steps(self, ctx: RunContext) -> int:
        return max(1, round(self.config.epochs * ctx.data.n_train / ctx.run.train.batch_size))

    def train(self, ctx: RunContext) -> None:
        c, opt = self.config, ctx.optimizer
        assert opt is not None
        batch = ctx.run.train.batch_size
        schedule = ctx.methods.get("schedule")
        n_steps = self.n_steps(ctx)
        peaks = [scaled_lr(g["lr"], batch, c.reference_batch, c.rule) for g in opt.param_groups]

        def set_lr(step: int) -> None:
            factor = schedule.factor(step, n_steps) if schedule else 1.0  # type: ignore[attr-defined]
            for group, peak in zip(opt.param_groups, peaks):
                group["lr"] = peak * factor

        ctx.run_steps(n_steps, set_lr)
        full = ctx.evaluate("train")
        ctx.final_metrics.update({
            "train_full/loss": full["train/loss"], "lr_batch/steps": float(n_steps),
            "lr_batch/lr": peaks[0], "lr_batch/examples": float(n_steps * batch)})
        if "train/acc" in full:
            ctx.final_metrics["train_full/acc"] = full["train/acc"]
