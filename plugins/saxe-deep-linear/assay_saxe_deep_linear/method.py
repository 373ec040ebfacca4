"""Orthogonal vs scaled Gaussian initialisation, and full-batch GD that times learning.

Initialisation (parameterization slot, ``saxe-deep-linear-init``): every weight matrix of the
model becomes either a random (semi-)orthogonal matrix times ``gain`` (all singular values
equal to ``gain``), or i.i.d. Gaussian with variance gain^2 / fan_in ("scaled random
Gaussian", which preserves norms only on average). arXiv:1312.6120, Sec. 4-5.

Timing (trainer slot, ``saxe-deep-linear-gd``): full-batch gradient descent; the learning
time is the number of updates after which the training loss first falls below
``L_min + tol * (L_zero - L_min)``, where L_min is the least-squares optimum over all linear
maps (what a deep linear net can at best represent) and L_zero the loss of predicting zero.
It is reported as ``saxe/steps_to_criterion`` (``total_steps + 1`` when never reached),
with ``saxe/reached`` (1 or 0), ``saxe/diverged`` (1 when the loss overflowed or grew 1e4-fold;
the run then ends early, without a final evaluation) and ``saxe/loss_min``.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from assay import Data, Parameterization, UserError
from assay.lib.init import init_weights
from assay.lib.trainers import FullBatchTrainer, Signal
from torch import nn

from assay_saxe_deep_linear.config import DeepLinearInitConfig, FullBatchGDConfig

from .model import PAPER

if TYPE_CHECKING:
    from assay import RunContext


class DeepLinearInit(Parameterization):
    """Re-initialise every Linear layer: random orthogonal or scaled Gaussian."""

    name = "saxe-deep-linear-init"
    Config = DeepLinearInitConfig
    paper = PAPER

    def apply(self, model: nn.Module, data: Data) -> list[dict[str, Any]]:
        init_weights(model, self.config.init, self.config.gain)
        return [{"params": [p for p in model.parameters() if p.requires_grad]}]


DIVERGED = 1e4   # a loss this many times the initial one counts as diverged


def least_squares_loss(x: torch.Tensor, y: torch.Tensor) -> float:
    """The lowest mean squared error any linear map (no bias) reaches on (x, y)."""
    w = torch.linalg.lstsq(x.double(), y.double()).solution
    # 8 significant digits: LAPACK's last bits vary with the thread count, runs must repeat
    return float(f"{float(F.mse_loss(x.double() @ w, y.double())):.8g}")


class FullBatchGD(FullBatchTrainer):
    """Full-batch GD with the run's optimizer; records the steps to the loss criterion.
    Every update goes through ``ctx.optimizer_step``, so a method composed with it (pruning,
    gradient noise) runs its hooks; a data-selection method's subset is the full batch."""

    name = "saxe-deep-linear-gd"
    Config = FullBatchGDConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "dataset": {"name": "saxe-deep-linear-teacher", "in_dim": 8, "out_dim": 4,
                    "singular_values": [2.0, 1.0], "n_train": 64, "n_val": 64},
        "model": {"name": "saxe-deep-linear", "width": 8, "depth": 3},
        "methods": {"trainer": {"name": "saxe-deep-linear-gd", "stop_at_criterion": False},
                    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0}}}

    flatten = True

    def begin(self, ctx: RunContext, x: torch.Tensor, y: torch.Tensor) -> None:
        if ctx.data.task != "regression":
            raise UserError("methods.trainer: saxe-deep-linear-gd times a squared-error "
                            "regression; use a regression dataset (e.g. saxe-deep-linear-teacher)")
        self.loss_min = least_squares_loss(x, y)
        self.target = self.loss_min + self.config.tol * (float(y.pow(2).mean()) - self.loss_min)
        self.reached: int | None = None
        self.diverged, self.first = False, None

    def observe(self, ctx: RunContext, step: int, loss: float) -> Signal:
        """The loss after ``step`` updates: the first step at the criterion is the learning
        time; an overflow or a 1e4-fold growth is divergence (the run ends, unreported)."""
        self.first = loss if self.first is None else self.first
        if not math.isfinite(loss) or loss > DIVERGED * max(self.first, 1e-12):
            self.diverged = True                  # too large a learning rate: never reached
            return "halt"
        if self.reached is None and loss <= self.target:
            self.reached = step
        return "stop" if self.reached is not None and self.config.stop_at_criterion else None

    def finish(self, ctx: RunContext) -> None:
        total = ctx.total_steps
        ctx.final_metrics.update({
            "saxe/steps_to_criterion": float(self.reached if self.reached is not None
                                             else total + 1),
            "saxe/reached": float(self.reached is not None),
            "saxe/diverged": float(self.diverged), "saxe/loss_min": self.loss_min})
