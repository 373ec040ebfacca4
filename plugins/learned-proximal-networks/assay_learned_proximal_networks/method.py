"""Proximal matching (arXiv:2310.14344, Sec. 3.2), the loss that makes an LPN learn the MAP
denoiser, and the squared loss it is compared with (which learns the MMSE denoiser).

Proximal matching replaces the squared error by

    l_PM(f(y), x; gamma) = 1 - exp(-||f(y) - x||^2 / (d gamma^2))

a Gaussian-shaped "hit or miss" loss: as gamma -> 0 its expected value is minimised by the
mode of p(x | y) (the MAP estimate, the proximal operator of -sigma^2 log p_x), not by the
mean. gamma is annealed geometrically from ``gamma_start`` to ``gamma_end`` over training, as
the paper anneals it. ``form: mse`` is the plain squared error (the baseline); ``form: l1`` the
absolute error (the posterior median).

After training the method measures the learned denoiser on an evenly spaced grid of y in
[-grid_max, grid_max] (1-D data): its largest distance to the MAP soft-threshold
(``lpn/dev_map``) and to the MMSE denoiser (``lpn/dev_mmse``), the correlation of the recovered
regulariser R(f(y)) with |f(y)| (``lpn/reg_corr``), and the smallest slope of f on the grid
(``lpn/min_slope``: >= 0, since f is monotone by construction).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from assay import Loss, UserError

from assay_learned_proximal_networks.config import ProximalMatchingConfig

from .data import PAPER, mmse_denoiser, soft_threshold

if TYPE_CHECKING:
    from assay import Data, RunContext
    from torch import nn


def proximal_matching(pred: torch.Tensor, x: torch.Tensor, gamma: float) -> torch.Tensor:
    """Mean over the batch of 1 - exp(-||pred - x||^2 / (d gamma^2))."""
    d = pred[0].numel()
    sq = (pred - x).flatten(1).pow(2).sum(-1)
    return (1 - torch.exp(-sq / (d * gamma**2))).mean()


def gamma_at(step: int, total: int, start: float, end: float) -> float:
    """Geometric annealing: ``start`` at step 0, ``end`` at step ``total``."""
    return start * (end / start) ** (min(step, total) / max(total, 1))


def denoiser_metrics(model: nn.Module, scale: float, sigma: float, grid_max: float,
                     points: int) -> dict[str, float]:
    """The learned denoiser against the MAP and MMSE denoisers of the Laplace prior."""
    y = np.linspace(-grid_max, grid_max, points)
    yt = torch.tensor(y, dtype=torch.float32).unsqueeze(1)
    was_training = model.training
    model.eval()
    x, r = model.regulariser(yt)
    model.train(was_training)
    f = x[:, 0].double().numpy()
    reg = r.double().numpy()
    ax = np.abs(f)
    corr = float(np.corrcoef(reg, ax)[0, 1]) if ax.std() > 0 and reg.std() > 0 else math.nan
    return {
        "lpn/dev_map": float(np.abs(f - soft_threshold(y, sigma**2 / scale)).max()),
        "lpn/dev_mmse": float(np.abs(f - mmse_denoiser(y, scale, sigma)).max()),
        "lpn/reg_corr": corr,
        "lpn/min_slope": float(np.diff(f).min() / (y[1] - y[0])),
    }


class ProximalMatching(Loss):
    """Proximal matching loss for learned proximal networks (or its mse / l1 baselines)."""

    name = "lpn-proximal-matching"
    Config = ProximalMatchingConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "dataset": {"name": "lpn-laplace", "n_train": 512, "n_val": 128},
        "model": {"name": "lpn", "width": 16, "depth": 2},
        "methods": {"loss": {"name": "lpn-proximal-matching", "form": "pm",
                             "gamma_start": 2.0, "gamma_end": 1.0},
                    "optimizer": {"name": "adamw", "lr": 1e-2}}}

    def __init__(self, config: ProximalMatchingConfig | None = None) -> None:
        super().__init__(config)
        self.step, self.total = 0, 1

    def setup(self, ctx: RunContext) -> None:
        self.step, self.total = 0, ctx.total_steps

    def after_step(self, ctx: RunContext, step: int) -> None:
        self.step = step

    @property
    def gamma(self) -> float:
        c = self.config
        return gamma_at(self.step, self.total, c.gamma_start, c.gamma_end)

    def compute(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                data: Data) -> torch.Tensor:
        if data.task != "regression":
            raise UserError("loss 'lpn-proximal-matching' needs a denoising (regression) "
                            "dataset")
        pred = model(x)
        if self.config.form == "mse":
            return (pred - y).pow(2).mean()
        if self.config.form == "l1":
            return (pred - y).abs().mean()
        return proximal_matching(pred, y, self.gamma)

    def after_train(self, ctx: RunContext) -> None:
        info = ctx.data.info
        if "sigma" not in info or ctx.data.input_shape != (1,):
            return                                   # the measures need 1-D Laplace data
        c = self.config
        ctx.final_metrics.update(denoiser_metrics(ctx.model, info["scale"], info["sigma"],
                                                  c.grid_max, c.grid_points))
        ctx.final_metrics["lpn/gamma_end"] = self.gamma
