"""A linear student learning a noisy linear teacher by full-batch gradient descent, with its
test error followed at every step.

Setting (arXiv:1710.03667, Sec. 2): N inputs, P = alpha N training examples x ~ N(0, I),
targets y = w_bar . x + noise with ||w_bar|| = 1 and noise variance 1 (signal-to-noise 1),
and a student w trained on the mean squared error. With isotropic inputs the test error is
||w - w_bar||^2 + noise variance. GD fits every direction of the input covariance at a rate
set by its eigenvalue; at alpha = 1 the smallest eigenvalues approach zero, so late in
training the student fits noise along them (the overtraining peak). Directions the data do
not span (alpha < 1) receive no gradient at all: whatever the initial weights hold there
stays (the frozen subspace), which is why the size of the initial weights matters.

Components:
- ``advani-saxe-init`` (parameterization): every Linear weight i.i.d. N(0, scale^2 / fan_in),
  so a weight vector has norm about ``scale`` (the teacher's norm is 1);
  ``assay.lib.init.init_weights``.
- ``advani-saxe-gd`` (trainer, ``assay.lib.trainers.FullBatchTrainer``): full-batch GD with
  the run's optimizer, the validation (test) error measured after every step. End-of-run
  numbers: ``as/test_final`` (after the last step), ``as/test_early_stopped`` (the lowest over
  every step, from the start: oracle early stopping), ``as/best_step``, ``as/train_final``,
  ``as/alpha`` (training examples over inputs) and ``as/init_norm`` (||w_0||).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from assay import Data, Paper, Parameterization, UserError
from assay.lib.init import init_weights
from assay.lib.trainers import FullBatchTrainer, Signal
from torch import nn

from assay_advani_saxe_highdim.config import CurveGDConfig, ScaledInitConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="High-dimensional dynamics of generalization error in neural networks",
              arxiv="1710.03667", year=2017)

SMALL = {"dataset": {"name": "linear-teacher", "in_dim": 16, "out_dim": 1,
                     "singular_values": [1.0], "noise": 0.5, "whiten": False, "n_train": 24,
                     "n_val": 64},
         "model": {"name": "linear", "bias": False}}


class ScaledInit(Parameterization):
    """Gaussian initialisation whose weight vectors have norm about ``scale``."""

    name = "advani-saxe-init"
    Config = ScaledInitConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        **SMALL, "methods": {"parameterization": {"name": "advani-saxe-init", "scale": 0.1},
                             "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.0}}}

    def apply(self, model: nn.Module, data: Data) -> list[dict[str, Any]]:
        init_weights(model, "gaussian", gain=self.config.scale)
        return [{"params": [p for p in model.parameters() if p.requires_grad]}]


class CurveGD(FullBatchTrainer):
    """Full-batch GD (use ``sgd`` with momentum 0) with the test error at every step."""

    name = "advani-saxe-gd"
    Config = CurveGDConfig
    paper = PAPER
    flatten = True
    contract_experiment: ClassVar[dict[str, Any]] = {
        **SMALL, "methods": {"trainer": {"name": "advani-saxe-gd"},
                             "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.0}}}

    def begin(self, ctx: RunContext, x: torch.Tensor, y: torch.Tensor) -> None:
        if ctx.data.task != "regression":
            raise UserError("methods.trainer: advani-saxe-gd follows a squared test error; use "
                            "a regression dataset (e.g. linear-teacher)")
        self.x_val, self.y_val = (t.to(ctx.device) for t in ctx.data.val)
        self.x_val = self.x_val.flatten(1)
        self.alpha = x.shape[0] / x.shape[1]
        self.init_norm = math.sqrt(sum(float(p.detach().pow(2).sum())
                                       for p in ctx.model.parameters()))
        self.curve: list[float] = []
        self.train_loss = math.nan

    def test_error(self, ctx: RunContext) -> float:
        with torch.no_grad():
            return float(F.mse_loss(ctx.model(self.x_val), self.y_val))

    def observe(self, ctx: RunContext, step: int, loss: float) -> Signal:
        if not math.isfinite(loss) and self.config.stop_on_divergence:
            return "halt"
        self.train_loss = loss
        self.curve.append(self.test_error(ctx))
        return None

    def finish(self, ctx: RunContext) -> None:
        finite = [e if math.isfinite(e) else math.inf for e in self.curve]
        best = min(range(len(finite)), key=finite.__getitem__) if finite else 0
        diverged = len(self.curve) < ctx.total_steps + 1
        ctx.final_metrics.update({
            "as/test_final": math.nan if diverged else self.curve[-1],
            "as/test_early_stopped": finite[best] if finite else math.nan,
            "as/best_step": float(best),
            "as/train_final": math.nan if diverged else self.train_loss,
            "as/alpha": self.alpha, "as/init_norm": self.init_norm})
