"""The run as a method sees it: ``RunContext`` (one per run, built on the worker), the
result of a run, and the two exceptions a run may end with.

``assay.RunContext`` (in ``assay.kinds``) is the documented protocol of this class; plugins
annotate with that and never construct one (``assay.testing.build_context`` does).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import nn

from assay._run.result import NonFiniteLoss, Pruned, RunResult  # noqa: F401 - re-exported
from assay.kinds import Backend, Component, Data, Method
from assay.lib.losses import default_loss
from assay.spec import RunSpec

if TYPE_CHECKING:
    from assay._plugins.registry import Registry


class Reporter(Protocol):
    def __call__(self, step: int, metrics: Mapping[str, float]) -> bool:
        """Receive one evaluation; return True when the run should stop (pruned)."""


@dataclass
class RunContext:
    """Everything a method may read or change during a run."""

    run: RunSpec
    data: Data
    model: nn.Module
    device: torch.device
    methods: dict[str, Method]
    backend: Backend
    reporter: Reporter
    registry: Registry
    generator: torch.Generator
    train_idx: torch.Tensor | None = None        # subset chosen by a data-selection method
    optimizer: torch.optim.Optimizer | None = None
    param_groups: list[dict[str, Any]] = field(default_factory=list)
    history: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    last_train_loss: float = math.nan
    final_metrics: dict[str, float] = field(default_factory=dict)  # methods may add end-of-run
                                                                   # numbers here (e.g. "hessian/outliers")

    steps_taken: int = 0                          # optimizer steps so far (optimizer_step counts)

    @property
    def total_steps(self) -> int:
        return self.run.train.steps

    @property
    def eval_every(self) -> int:
        return self.run.train.eval_every

    def batch(self, batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A random training batch (with replacement across steps, seeded)."""
        x, y = self.data.train
        pool = self.train_idx if self.train_idx is not None else None
        n = len(pool) if pool is not None else x.shape[0]
        idx = torch.randint(n, (batch_size or self.run.train.batch_size,), generator=self.generator)
        if pool is not None:
            idx = pool[idx]
        return x[idx].to(self.device), y[idx].to(self.device)

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss_method = self.methods.get("loss")
        with self.backend.autocast():
            if loss_method is not None:
                return loss_method.compute(model, x, y, self.data)  # type: ignore[attr-defined]
            return default_loss(model(x), y, self.data)

    @torch.no_grad()
    def evaluate(self, split: str = "val", chunk: int = 1024) -> dict[str, float]:
        x, y = self.data.val if split == "val" else self.data.train
        was_training = self.model.training
        self.model.eval()
        total, correct, n = 0.0, 0, 0
        for i in range(0, x.shape[0], chunk):
            xb, yb = x[i:i + chunk].to(self.device), y[i:i + chunk].to(self.device)
            with self.backend.autocast():
                out = self.model(xb)
            total += float(default_loss(out.float(), yb, self.data)) * xb.shape[0]
            if self.data.task != "regression":
                correct += int((out.argmax(-1) == yb).sum())
                n += yb.numel()
        self.model.train(was_training)
        metrics = {f"{split}/loss": total / x.shape[0]}
        if self.data.task != "regression":
            metrics[f"{split}/acc"] = correct / max(1, n)
        return metrics

    def evaluate_and_report(self, step: int, extra: Mapping[str, float] | None = None) -> None:
        """Evaluate, record, report; raises Pruned when the pruner says stop."""
        metrics = {"train/loss": self.last_train_loss, **self.evaluate(), **(extra or {})}
        if not math.isfinite(metrics["val/loss"]):
            raise NonFiniteLoss(f"val/loss became {metrics['val/loss']} at step {step}")
        self.history.append((step, metrics))
        self.registry.pm.hook.assay_step_end(run=self.run, step=step, metrics=metrics)  # type: ignore[attr-defined]
        if self.reporter(step, metrics) and step < self.total_steps:
            raise Pruned(f"pruned at step {step}")

    def set_lr(self, step: int) -> None:
        schedule = self.methods.get("schedule")
        factor = schedule.factor(step, self.total_steps) if schedule else 1.0  # type: ignore[attr-defined]
        assert self.optimizer is not None
        for group in self.optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
            group["lr"] = group["initial_lr"] * factor

    def default_loss(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The task's own loss: cross-entropy for classification and language modelling, mean
        squared error for regression."""
        return default_loss(output, y, self.data)

    def optimizer_step(self, loss: torch.Tensor, step: int | None = None) -> None:
        """One optimizer step from ``loss``: zero the gradients, backward, clip (the run's
        ``grad_clip``), every method's ``before_step``, the optimizer's step, every method's
        ``after_step``. A custom trainer calls this for each step, so that a pruning, noise or
        data method composed with it is never skipped. ``step`` counts from 1 (default: the
        number of steps taken so far plus one)."""
        opt = self.optimizer
        assert opt is not None, "optimizer_step before the optimizer exists (in setup?)"
        opt.zero_grad(set_to_none=True)
        loss.backward()
        clip = self.run.train.grad_clip
        if clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.hooked_step(opt.step, step)

    def hooked_step(self, update: Callable[[], Any], step: int | None = None) -> None:
        """Any update with every method's hooks around it, in ``optimizer_step``'s order:
        every ``before_step``, ``update()``, every ``after_step``. For trainers whose update
        is not a backward pass and an optimizer step (e.g. zeroth-order estimates)."""
        step = self.steps_taken + 1 if step is None else step
        base = Method.before_step
        for method in self.methods.values():
            if type(method).before_step is not base:
                method.before_step(self, step)
        update()
        for method in self.methods.values():
            method.after_step(self, step)
        self.steps_taken = step

    def run_steps(self, n_steps: int, set_lr: Callable[[int], None] | None = None) -> None:
        """``n_steps`` steps of the plain loop (batch, loss, ``optimizer_step``, evaluation
        every ``eval_every``); ``set_lr(step)`` (from 0) sets the rates first (default: the
        schedule's). For trainers that change only the step count or the learning-rate rule."""
        from assay._run.loop import run_steps

        run_steps(self, n_steps, set_lr or self.set_lr)

    def build(self, kind: str, ref: Mapping[str, Any] | str) -> Component:
        """A component from its config reference (``{name, **config}`` or a name), validated
        against this run's plugins: e.g. ``ctx.build("method", {"name": "sgd", "lr": 0.1})``."""
        from assay._experiment.resolve import instantiate, resolve_component

        ref = {"name": ref} if isinstance(ref, str) else ref
        return instantiate(self.registry, kind, resolve_component(self.registry, kind, ref, kind))
