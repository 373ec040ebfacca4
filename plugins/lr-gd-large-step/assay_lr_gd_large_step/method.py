"""Logistic regression by full-batch gradient descent, watched for separation and compared
with the batch perceptron.

For a linear classifier w on examples (a_i, y_i), y_i in {-1, +1}, the logistic loss is
f(w) = mean_i log(1 + exp(-y_i a_i.w)) and GD takes w_{t+1} = w_t - gamma grad f(w_t), with

    -grad f(w) = mean_i sigmoid(-y_i a_i.w) y_i a_i.

As gamma grows, w_t scales with gamma and each weight sigmoid(-m_i) tends to 1 for a
misclassified point (m_i < 0), 0 for a correct one and 1/2 on the hyperplane, so w_t / gamma
follows the *batch perceptron* p_{t+1} = p_t + mean_i H(-y_i a_i.p_t) y_i a_i (H the step
function with H(0) = 1/2), started at p_0 = 0 (arXiv:2412.08424, Sec. 3). *Normalized LR+GD*
divides the step by the current loss: w_{t+1} = w_t - (gamma / f(w_t)) grad f(w_t) (our
reading of the paper's method).

Components: the loss ``lr-gd-margin-loss`` (logistic, or squared (1 - y f)^2 for a control)
and the trainer ``lr-gd``. The trainer's end-of-run numbers (``lrgd/...``), steps counted
from 0 (the start, w_0):

- ``iters_to_separate``: first t with every training point strictly on its side
  (``total_steps + 1`` when never), ``separated`` (1 or 0);
- ``loss_at_separation``: f at that iterate; ``mean_loss_before``: the mean of f over the
  iterates before it (t = 0 .. iters - 1);
- ``min_cos_perceptron``: the smallest cosine between w_t and p_t over t = 1 .. min(K, last);
- ``perceptron_iters``: the batch perceptron's own first separating t (``total_steps + 1``
  when never);
- ``diverged``: 1 when the loss overflowed (the run then ends early).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from assay import Data, Loss, UserError
from assay.lib.trainers import FullBatchTrainer, Signal
from torch import nn

from assay_lr_gd_large_step.config import LrGdConfig, MarginLossConfig

from .dataset import PAPER

if TYPE_CHECKING:
    from assay import RunContext

SMALL = {"dataset": {"name": "lr-gd-separable", "n_train": 64, "n_val": 64, "in_dim": 5},
         "model": {"name": "linear", "bias": False, "init": "zeros"}}


def margins(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """y_i f(x_i) for every example, flat."""
    return y.reshape(-1) * model(x).reshape(-1)


class MarginLoss(Loss):
    """The loss of a scalar score f(x) against labels y in {-1, +1}."""

    name = "lr-gd-margin-loss"
    Config = MarginLossConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        **SMALL, "methods": {"loss": {"name": "lr-gd-margin-loss"},
                             "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0}}}

    def compute(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                data: Data) -> torch.Tensor:
        if data.task != "regression" or data.n_outputs != 1:
            raise UserError("loss 'lr-gd-margin-loss' scores one output against +-1 labels; "
                            "use a dataset like lr-gd-separable")
        m = margins(model, x, y)
        if self.config.form == "logistic":
            return F.softplus(-m).mean()
        return (1 - m).pow(2).mean()


def batch_perceptron(a: np.ndarray, y: np.ndarray, steps: int) -> np.ndarray:
    """Iterates p_0 = 0, ..., p_steps of the batch perceptron (module docstring), float64."""
    p = np.zeros(a.shape[1])
    out = [p]
    for _ in range(steps):
        m = y * (a @ p)
        weight = (m < 0) + 0.5 * (m == 0)
        p = p + (weight * y) @ a / len(y)
        out.append(p)
    return np.stack(out)


def first_separating(a: np.ndarray, y: np.ndarray, iterates: np.ndarray) -> int | None:
    """The first t whose iterate puts every point strictly on its side, or None."""
    ok = ((y[:, None] * (a @ iterates.T)) > 0).all(axis=0)
    return int(np.argmax(ok)) if ok.any() else None


def cosines(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity."""
    return (u * v).sum(1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))


class LrGd(FullBatchTrainer):
    """Full-batch GD on a bias-free linear classifier (``linear`` with ``bias: false``): use
    ``sgd`` with momentum 0, whose rate is the step size gamma."""

    name = "lr-gd"
    Config = LrGdConfig
    paper = PAPER
    flatten = True
    contract_experiment: ClassVar[dict[str, Any]] = {
        **SMALL, "methods": {"trainer": {"name": "lr-gd", "stop_at_separation": False},
                             "loss": {"name": "lr-gd-margin-loss"},
                             "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0}}}

    def begin(self, ctx: RunContext, x: torch.Tensor, y: torch.Tensor) -> None:
        readout = getattr(ctx.model, "readout", None)
        if (ctx.data.task != "regression" or ctx.data.n_outputs != 1
                or not isinstance(readout, nn.Linear) or readout.bias is not None
                or readout.in_features != x.shape[1]):
            raise UserError("methods.trainer: lr-gd trains a bias-free linear classifier on "
                            "+-1 labels; use model {name: linear, bias: false} and a dataset "
                            "like lr-gd-separable")
        self.x, self.y = x, y.reshape(-1)
        self.weights: list[torch.Tensor] = []            # w_1 .. w_K
        self.before: list[float] = []                    # f(w_t) before separation
        self.separated_at: int | None = None
        self.loss_at_separation, self.loss_now, self.diverged = math.nan, math.nan, False

    def observe(self, ctx: RunContext, step: int, loss: float) -> Signal:
        if not math.isfinite(loss):
            self.diverged = True
            return "halt"
        self.loss_now = loss
        weight = ctx.model.readout.weight
        if 1 <= step <= self.config.compare_steps:
            self.weights.append(weight.detach().double().reshape(-1).clone())
        if self.separated_at is None:
            with torch.no_grad():
                separated = bool((margins(ctx.model, self.x, self.y) > 0).all())
            if separated:
                self.separated_at, self.loss_at_separation = step, loss
            else:
                self.before.append(loss)
        stop = self.separated_at is not None and self.config.stop_at_separation
        return "stop" if stop else None

    def before_step(self, ctx: RunContext, step: int) -> None:
        """Normalized LR+GD: this step's rate is gamma / f(w_t) (the schedule resets it)."""
        if self.config.normalized:
            assert ctx.optimizer is not None
            for group in ctx.optimizer.param_groups:
                group["lr"] = group["lr"] / self.loss_now

    def extra_metrics(self, ctx: RunContext, step: int) -> dict[str, float]:
        out = {}
        with torch.no_grad():
            for split, (x, y) in (("train", (self.x, self.y)), ("val", ctx.data.val)):
                m = margins(ctx.model, x.to(ctx.device).flatten(1), y.to(ctx.device))
                out[f"{split}/err"] = float((m <= 0).float().mean())
                out[f"{split}/logistic"] = float(F.softplus(-m).mean())
        return out

    def finish(self, ctx: RunContext) -> None:
        never = float(ctx.total_steps + 1)
        a, y = self.x.double().cpu().numpy(), self.y.double().cpu().numpy()
        reference = batch_perceptron(a, y, max(ctx.total_steps, self.config.compare_steps))
        perceptron_at = first_separating(a, y, reference)
        k = len(self.weights)
        cos = (cosines(torch.stack(self.weights).numpy(), reference[1:k + 1]) if k
               else np.array([math.nan]))
        ctx.final_metrics.update({
            "lrgd/iters_to_separate": (float(self.separated_at) if self.separated_at is not None
                                       else never),
            "lrgd/separated": float(self.separated_at is not None),
            "lrgd/loss_at_separation": self.loss_at_separation,
            "lrgd/mean_loss_before": float(np.mean(self.before)) if self.before else math.nan,
            "lrgd/min_cos_perceptron": float(np.min(cos)),
            "lrgd/perceptron_iters": float(perceptron_at) if perceptron_at is not None else never,
            "lrgd/diverged": float(self.diverged)})
