"""Full-batch gradient descent (the paper trains by GD, not SGD), evaluated densely at the
start so the first steps are visible, with end-of-run grokking numbers from the history.

End-of-run metrics (``ctx.final_metrics``), steps counted from 1; a step that never happens
is reported as ``total_steps + 1``:

- ``grok/fit_step``: first evaluated step with 100% training accuracy (noisy labels included);
- ``grok/val_acc_at_fit``: validation accuracy at that step;
- ``grok/val_acc_at_step1``: validation accuracy after the first step (NaN unless evaluated);
- ``grok/generalize_step``: first evaluated step with val/acc >= ``generalize_acc``;
- ``grok/min_train_acc_after_fit``: lowest training accuracy from the fit step on;
- ``grok/final_train_acc``, ``grok/final_val_acc``.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from assay.lib.trainers import FullBatchTrainer

from assay_xor_benign_grokking.config import FullBatchGDConfig

from .model import PAPER

if TYPE_CHECKING:
    from assay import RunContext


def grok_metrics(history: list[tuple[int, dict[str, float]]], total_steps: int,
                 generalize_acc: float) -> dict[str, float]:
    never = float(total_steps + 1)
    fit = next(((s, m) for s, m in history if m["train/acc"] >= 1.0), None)
    gen = next((s for s, m in history if m["val/acc"] >= generalize_acc), None)
    after = [m["train/acc"] for s, m in history if fit is not None and s >= fit[0]]
    first = next((m["val/acc"] for s, m in history if s == 1), math.nan)
    return {"grok/fit_step": float(fit[0]) if fit else never,
            "grok/val_acc_at_fit": fit[1]["val/acc"] if fit else math.nan,
            "grok/val_acc_at_step1": first,
            "grok/generalize_step": float(gen) if gen is not None else never,
            "grok/min_train_acc_after_fit": min(after) if after else 0.0,
            "grok/final_train_acc": history[-1][1]["train/acc"] if history else math.nan,
            "grok/final_val_acc": history[-1][1]["val/acc"] if history else math.nan}


class FullBatchGD(FullBatchTrainer):
    """Full-batch training with the run's optimizer (use ``sgd`` with momentum 0 for GD).
    Every step goes through ``ctx.optimizer_step``, so a method composed with it (pruning,
    gradient noise) runs its hooks; a data-selection method's subset is the full batch."""

    name = "xor-benign-grokking-gd"
    Config = FullBatchGDConfig
    paper = PAPER

    def report_at(self, ctx: RunContext, step: int) -> bool:
        return 1 <= step <= self.config.dense_eval_steps or (step > 0 and
                                                             step % ctx.eval_every == 0)

    def extra_metrics(self, ctx: RunContext, step: int) -> dict[str, float]:
        return ctx.evaluate("train")

    def finish(self, ctx: RunContext) -> None:
        ctx.final_metrics.update(grok_metrics(ctx.history, ctx.total_steps,
                                              self.config.generalize_acc))
