"""NTK parameterisation, the empirical neural tangent kernel, and full-batch GD that measures
how far the trained network strays from its linearisation at initialisation.

NTK parameterisation (arXiv:1806.07572, Sec. 2): every trained number is N(0, 1) and each
Linear layer computes (1/sqrt(fan_in)) W x + beta b, so the tangent kernel
Theta(x, x') = sum_p df(x)/dp df(x')/dp has a finite limit as the width grows, and training by
GD moves each weight by O(1/sqrt(width)): the kernel barely changes and the network follows
the kernel gradient of its initial kernel (Theorems 1-2). The scale is attached with
``torch.nn.utils.parametrize``. ``output_scale`` (alpha) multiplies the output and divides
every learning rate by alpha^2, so that the function moves at the same initial speed while
the weights move 1/alpha times as far (Chizat, Oyallon & Bach's lazy-training knob);
``mean_field`` multiplies alpha by sqrt(base_width / width), the mean-field scaling of the
readout under which features keep moving at any width. Both are for controls.

The empirical kernel is computed with torch.func (``assay.lib.hessian.per_example_grads``:
one gradient of the scalar output per example, contracted layer by layer).

Trainer ``ntk-gd`` (full-batch GD with ``sgd`` at momentum 0 on the mean squared error).
End-of-run numbers:
- ``ntk/kernel_change``: ||Theta_T - Theta_0||_F / ||Theta_0||_F on the training inputs;
- ``ntk/lin_rel_err``: on the test inputs, ||f_T - f_lin|| / ||f_lin - f_0||, where f_lin is
  GD on the network linearised at initialisation, run for the same steps at the same rates
  (exactly: r <- (I - 2 eta Theta_0 / n) r on the training residuals), and f_T - f_0 is the
  change the network learned; ``ntk/krr_rel_err``: the same against kernel regression with
  Theta_0 (the linearisation trained to convergence);
- ``ntk/steps`` (updates taken), ``ntk/reached`` (1 when the training error fell below
  ``tol``), ``ntk/train_mse``, ``ntk/test_mse``, ``ntk/test_mse_lin``, ``ntk/width``.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from assay import Data, Parameterization, UserError
from assay.lib.hessian import per_example_grads
from assay.lib.trainers import FullBatchTrainer, Signal
from torch import nn
from torch.nn.utils import parametrize

from assay_ntk.config import KernelWatchGDConfig, NTKParamConfig

from .dataset import PAPER

if TYPE_CHECKING:
    from assay import RunContext

SMALL = {"dataset": {"name": "ntk-digits-parity", "n_train": 32, "n_val": 32},
         "model": {"name": "mlp", "width": 32, "depth": 2}}


class Scale(nn.Module):
    """Parametrization: the stored tensor times a fixed number."""

    def __init__(self, mult: float) -> None:
        super().__init__()
        self.mult = mult

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return raw * self.mult


def ntk_parametrize(model: nn.Module, beta: float, alpha: float) -> None:
    """Re-draw every Linear's weight and bias N(0, 1) and make the layer compute
    (1/sqrt(fan_in)) W x + beta b; the readout (``model.readout``) is multiplied by alpha."""
    readout = getattr(model, "readout", None)
    for module in model.modules():
        if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Embedding):
            raise UserError("parameterization 'ntk' handles Linear layers only (mlp, linear)")
        if isinstance(module, nn.Linear):
            out = alpha if module is readout else 1.0
            nn.init.normal_(module.weight)
            parametrize.register_parametrization(
                module, "weight", Scale(out / math.sqrt(module.in_features)))
            if module.bias is not None:
                nn.init.normal_(module.bias)
                parametrize.register_parametrization(module, "bias", Scale(out * beta))


class NTKParam(Parameterization):
    """NTK parameterisation (with the output-scale and mean-field knobs of the controls)."""

    name = "ntk"
    Config = NTKParamConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        **SMALL, "methods": {"parameterization": {"name": "ntk"},
                             "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0}}}

    def alpha(self, model: nn.Module) -> float:
        c = self.config
        width = getattr(model, "hidden_width", c.base_width)
        return c.output_scale * (math.sqrt(c.base_width / width) if c.mean_field else 1.0)

    def apply(self, model: nn.Module, data: Data) -> list[dict[str, Any]]:
        alpha = self.alpha(model)
        ntk_parametrize(model, self.config.beta, alpha)
        return [{"params": [p for p in model.parameters() if p.requires_grad],
                 "lr_mult": 1.0 / alpha ** 2}]


def empirical_ntk(model: nn.Module, x1: torch.Tensor, x2: torch.Tensor,
                  chunk: int = 32) -> np.ndarray:
    """Theta(x1, x2) = J(x1) J(x2)^T for a scalar-output model, float64 (n1, n2): per-example
    gradients by torch.func, contracted parameter by parameter, x1 in chunks (memory: the
    Jacobian of x2 plus one chunk of x1's)."""

    def jac(x: torch.Tensor) -> dict[str, torch.Tensor]:
        grads = per_example_grads(model, lambda out, _: out.sum(), x, torch.zeros(len(x), 1))
        return {k: g.reshape(len(x), -1) for k, g in grads.items()}

    right = jac(x2)
    blocks = []
    for i in range(0, len(x1), chunk):
        left = jac(x1[i:i + chunk])
        blocks.append(sum(left[k] @ right[k].T for k in right).double())
    return torch.cat(blocks).numpy()


def linearized(theta: np.ndarray, theta_test: np.ndarray, f0: np.ndarray, f0_test: np.ndarray,
               y: np.ndarray, rates: list[float]) -> np.ndarray:
    """Test outputs of GD on the linearised network: residuals r = f - y on the n training
    points follow r <- (I - c_t Theta) r with c_t = 2 eta_t / n (the gradient of the mean
    squared error), and the test outputs move by -c_t Theta_test r. Solved in the eigenbasis
    of Theta (float64)."""
    lam, vec = np.linalg.eigh(theta)
    r = vec.T @ (f0 - y)
    moved = np.zeros_like(r)
    for eta in rates:
        c = 2 * eta / len(y)
        moved += c * r
        r = r - c * lam * r
    return f0_test - theta_test @ (vec @ moved)


def kernel_regression(theta: np.ndarray, theta_test: np.ndarray, f0: np.ndarray,
                      f0_test: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The linearised network trained to convergence: f0* + Theta* Theta^-1 (y - f0)."""
    return f0_test + theta_test @ np.linalg.solve(theta, y - f0)


class KernelWatchGD(FullBatchTrainer):
    """Full-batch GD on a scalar regression; compares the trained network with its
    linearisation at initialisation (see the module docstring)."""

    name = "ntk-gd"
    Config = KernelWatchGDConfig
    paper = PAPER
    flatten = True
    contract_experiment: ClassVar[dict[str, Any]] = {
        **SMALL, "methods": {"parameterization": {"name": "ntk"},
                             "trainer": {"name": "ntk-gd", "stop_at_tol": False},
                             "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0}}}

    def begin(self, ctx: RunContext, x: torch.Tensor, y: torch.Tensor) -> None:
        self._check(ctx)
        self.x, self.y = x, y
        self.x_test = ctx.data.val[0].to(ctx.device).flatten(1)
        self.theta0 = empirical_ntk(ctx.model, x, x, self.config.chunk)
        self.theta0_test = empirical_ntk(ctx.model, self.x_test, x, self.config.chunk)
        self.f0, self.f0_test = self._outputs(ctx)
        self.rates: list[float] = []
        self.train_mse, self.reached, self.diverged = math.nan, False, False

    def _check(self, ctx: RunContext) -> None:
        opt = ctx.optimizer
        rates = {g["lr"] for g in opt.param_groups} if opt is not None else set()
        if (ctx.data.task != "regression" or ctx.data.n_outputs != 1 or "loss" in ctx.methods
                or not isinstance(opt, torch.optim.SGD) or len(rates) != 1
                or any(g["momentum"] or g["weight_decay"] for g in opt.param_groups)):
            raise UserError("methods.trainer: ntk-gd compares plain GD on the squared error of "
                            "one output with its linearisation; use a scalar regression "
                            "dataset, no loss method, and sgd with momentum 0, no weight decay "
                            "and one learning rate for every parameter")

    def _outputs(self, ctx: RunContext) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            return tuple(ctx.model(x).double().reshape(-1).cpu().numpy()  # type: ignore[return-value]
                         for x in (self.x, self.x_test))

    def observe(self, ctx: RunContext, step: int, loss: float) -> Signal:
        if not math.isfinite(loss):
            self.diverged = True
            return "halt"
        self.train_mse = loss
        self.reached = self.reached or loss < self.config.tol
        return "stop" if self.reached and self.config.stop_at_tol else None

    def before_step(self, ctx: RunContext, step: int) -> None:
        assert ctx.optimizer is not None
        self.rates.append(float(ctx.optimizer.param_groups[0]["lr"]))

    def finish(self, ctx: RunContext) -> None:
        width = float(getattr(ctx.model, "hidden_width", math.nan))
        if self.diverged:
            ctx.final_metrics.update({"ntk/kernel_change": math.nan, "ntk/lin_rel_err": math.nan,
                                      "ntk/steps": float(len(self.rates)), "ntk/width": width})
            return
        theta = empirical_ntk(ctx.model, self.x, self.x, self.config.chunk)
        change = np.linalg.norm(theta - self.theta0) / np.linalg.norm(self.theta0)
        y = self.y.double().reshape(-1).cpu().numpy()
        y_test = ctx.data.val[1].double().reshape(-1).numpy()
        f_train, f_test = self._outputs(ctx)
        lin = linearized(self.theta0, self.theta0_test, self.f0, self.f0_test, y, self.rates)
        krr = kernel_regression(self.theta0, self.theta0_test, self.f0, self.f0_test, y)
        ctx.final_metrics.update({
            "ntk/kernel_change": float(change),
            "ntk/lin_rel_err": rel(f_test, lin, self.f0_test),
            "ntk/krr_rel_err": rel(f_test, krr, self.f0_test),
            "ntk/steps": float(len(self.rates)), "ntk/reached": float(self.reached),
            "ntk/train_mse": float(np.mean((f_train - y) ** 2)),
            "ntk/test_mse": float(np.mean((f_test - y_test) ** 2)),
            "ntk/test_mse_lin": float(np.mean((lin - y_test) ** 2)), "ntk/width": width})


def rel(f: np.ndarray, target: np.ndarray, start: np.ndarray) -> float:
    """||f - target|| relative to how far ``target`` moved from ``start``."""
    return float(np.linalg.norm(f - target) / np.linalg.norm(target - start))


__all__ = ["KernelWatchGD", "NTKParam", "empirical_ntk", "kernel_regression", "linearized",
           "ntk_parametrize"]
