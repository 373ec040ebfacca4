"""Trainers plugins share (public): full-batch gradient descent.

``FullBatchTrainer`` trains on the whole training set (or a data method's subset) at every
step, with the run's optimizer and schedule, taking each step through
``ctx.optimizer_step`` so that every other method's hooks run. Step ``s`` (0 to
``total_steps``) first computes the full-batch loss of the model after ``s`` updates, so the
loss that is observed is the loss that is then differentiated: one forward pass per step.
A subclass chooses when to report (:meth:`report_at`), what to add to a report
(:meth:`extra_metrics`) and when to stop (:meth:`observe`), and measures what it needs in
:meth:`begin` and :meth:`finish`.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import torch

from assay.kinds import Trainer

if TYPE_CHECKING:
    from assay.kinds import RunContext

__all__ = ["FullBatchTrainer", "Signal"]

Signal = Literal["stop", "halt"] | None
"""What :meth:`FullBatchTrainer.observe` answers: None continues, ``"stop"`` reports this
step and ends the run, ``"halt"`` ends it at once without a report (e.g. a loss that
overflowed, whose evaluation would fail the run)."""


class FullBatchTrainer(Trainer):
    """Full-batch training; see the module docstring. Subclasses set ``name``/``Config``."""

    flatten: bool = False            # flatten inputs to (N, features) before training

    def full_batch(self, ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole training set (the data method's subset when one ran), on the device."""
        idx = ctx.train_idx if ctx.train_idx is not None else slice(None)
        x, y = (t[idx].to(ctx.device) for t in ctx.data.train)
        return (x.flatten(1) if self.flatten else x), y

    def begin(self, ctx: RunContext, x: torch.Tensor, y: torch.Tensor) -> None:
        """Called once with the full batch before the first step."""

    def observe(self, ctx: RunContext, step: int, loss: float) -> Signal:
        """The full-batch training loss after ``step`` updates; may stop the run."""
        return None

    def report_at(self, ctx: RunContext, step: int) -> bool:
        """Report after ``step`` updates (the last step is always reported)."""
        return step > 0 and step % ctx.eval_every == 0

    def extra_metrics(self, ctx: RunContext, step: int) -> Mapping[str, float]:
        """Numbers reported beside the validation metrics (e.g. ``ctx.evaluate("train")``)."""
        return {}

    def finish(self, ctx: RunContext) -> None:
        """Called once after the last step (also after a halt): end-of-run numbers go into
        ``ctx.final_metrics``."""

    def train(self, ctx: RunContext) -> None:
        x, y = self.full_batch(ctx)
        self.begin(ctx, x, y)
        total = ctx.total_steps
        for step in range(total + 1):
            loss = ctx.loss(ctx.model, x, y)
            value = float(loss.detach())
            signal = self.observe(ctx, step, value)
            if signal == "halt":
                break
            stop = signal == "stop" or step == total
            if stop or self.report_at(ctx, step):
                ctx.last_train_loss = value
                ctx.evaluate_and_report(step, self.extra_metrics(ctx, step))
            if stop:
                break
            ctx.set_lr(step)
            ctx.optimizer_step(loss, step + 1)
        self.finish(ctx)
