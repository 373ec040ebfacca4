"""SCoLe: train on a long stream of small tasks whose classes keep coming back (Lesort et al.,
2022).

Catastrophic-forgetting studies train on a few disjoint tasks, where every new task erases the
last. SCoLe (Scaling Continual Learning) instead draws a long stream: each task takes a few
classes uniformly at random (they recur at random intervals) and trains briefly on their
examples, with no replay and no continual-learning regulariser. The paper finds that plain SGD
then accumulates knowledge: accuracy over all classes keeps rising across the stream, despite
the dips each task causes on the classes it does not contain.

The ``scole`` trainer runs that stream on any classification dataset: ``train.steps //
steps_per_task`` tasks of ``classes_per_task`` classes, each task ``steps_per_task`` minibatches
drawn in shuffled passes over its examples (9 batches of 32 is one pass over a two-digit task of
the 8x8 digits). With ``mask`` (the paper's default) the loss sees only the current task's
logits, so the shared head's other rows get no gradient; evaluation always uses every class.
The all-class validation accuracy after chosen tasks is recorded as ``scole/acc/task_<k>``.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from assay import NonFiniteLoss, Paper, Trainer, UserError

from assay_scole.config import SCoLeConfig

from .streams import Task, recurring_class_tasks, task_batches

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="Challenging Common Assumptions about Catastrophic Forgetting",
              arxiv="2207.04543", year=2022)


def masked_cross_entropy(logits: torch.Tensor, y: torch.Tensor,
                         classes: tuple[int, ...]) -> torch.Tensor:
    """Cross-entropy over the task's classes only: the other logits are set to -inf, so they
    take no probability and their head rows get no gradient."""
    keep = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)
    keep[list(classes)] = True
    return F.cross_entropy(logits.masked_fill(~keep, -math.inf), y)


class SCoLe(Trainer):
    """Train on a stream of short tasks with randomly recurring classes."""

    name = "scole"
    Config = SCoLeConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"trainer": {"name": "scole", "classes_per_task": 2, "steps_per_task": 3}}}

    def train(self, ctx: RunContext) -> None:
        c = self.config
        if ctx.data.task != "classification":
            raise UserError(f"trainer 'scole' needs a classification dataset, not "
                            f"{ctx.data.task!r}")
        n_tasks = ctx.total_steps // c.steps_per_task
        if n_tasks < 1:
            raise UserError(f"train.steps ({ctx.total_steps}) is less than one task "
                            f"(methods.trainer.steps_per_task = {c.steps_per_task})")
        stream = recurring_class_tasks(ctx.data.train[1], n_tasks, c.classes_per_task,
                                       ctx.generator, ctx.train_idx)
        step, losses = 0, []
        for task in stream:
            for idx in task_batches(task.idx, ctx.run.train.batch_size, c.steps_per_task,
                                    ctx.generator):
                ctx.set_lr(step)
                step += 1
                losses.append(self.step(ctx, task, idx, step))
            if self.reports(task, step, n_tasks, ctx.eval_every, c.steps_per_task):
                ctx.last_train_loss, losses = sum(losses) / len(losses), []
                ctx.evaluate_and_report(step, {"scole/task": float(task.index)})
                self.record(ctx, task, n_tasks)
        ctx.final_metrics.update({"scole/tasks": float(n_tasks),
                                  "scole/steps_per_task": float(c.steps_per_task)})

    def step(self, ctx: RunContext, task: Task, idx: torch.Tensor, step: int) -> float:
        x, y = ctx.data.train[0][idx].to(ctx.device), ctx.data.train[1][idx].to(ctx.device)
        loss = (masked_cross_entropy(ctx.model(x), y, task.classes) if self.config.mask
                else ctx.loss(ctx.model, x, y))
        value = float(loss.detach())
        if not math.isfinite(value):
            raise NonFiniteLoss(f"train loss became {value} at step {step} (task {task.index})")
        ctx.optimizer_step(loss, step)
        return value

    def reports(self, task: Task, step: int, n_tasks: int, eval_every: int,
                steps_per_task: int) -> bool:
        """Evaluate at task ends only: after a recorded task, the last one, and the first task
        end after each multiple of ``eval_every`` steps."""
        crossed = step // eval_every > (step - steps_per_task) // eval_every
        return task.index in self.config.record_tasks or task.index == n_tasks or crossed

    def record(self, ctx: RunContext, task: Task, n_tasks: int) -> None:
        if task.index in self.config.record_tasks or task.index == n_tasks:
            ctx.final_metrics[f"scole/acc/task_{task.index}"] = ctx.history[-1][1]["val/acc"]
