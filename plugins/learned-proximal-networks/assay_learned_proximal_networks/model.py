"""A learned proximal network: the gradient of an input-convex network (arXiv:2310.14344,
Sec. 3).

psi(y) is convex in y: each layer is z_{k+1} = softplus(W_k z_k + A_k y + b_k) with W_k >= 0,
and the output is w . z_K + alpha/2 ||y||^2 with w >= 0 (softplus is convex and
nondecreasing, so a nonnegative combination of convex functions stays convex). The network's
output is f(y) = grad psi(y), computed by autograd: the gradient of a convex function is the
proximal operator of some function R (Gribonval and Nikolova), whatever the weights, and is
monotone. The nonnegative weights are W = softplus(raw) (the paper clips raw weights after
each step instead; both keep psi convex at every step).
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from assay import Data, Model, UserError
from torch import nn

from assay_learned_proximal_networks.config import LPNConfig

from .data import PAPER


class ICNN(nn.Module):
    def __init__(self, n_in: int, c: LPNConfig) -> None:
        super().__init__()
        self.beta, self.alpha = c.beta, c.alpha
        self.inputs = nn.ModuleList([nn.Linear(n_in, c.width) for _ in range(c.depth)])
        start = math.log(math.expm1(1 / c.width))         # softplus(start) = 1 / width
        self.raw = nn.ParameterList([nn.Parameter(start + 0.1 * torch.randn(c.width, c.width))
                                     for _ in range(c.depth - 1)])
        self.raw_out = nn.Parameter(start + 0.1 * torch.randn(c.width))

    def psi(self, y: torch.Tensor) -> torch.Tensor:
        """The convex potential, one value per row of y."""
        z = F.softplus(self.inputs[0](y), beta=self.beta)
        for raw, lin in zip(self.raw, self.inputs[1:]):
            z = F.softplus(z @ F.softplus(raw).T + lin(y), beta=self.beta)
        return z @ F.softplus(self.raw_out) + self.alpha / 2 * y.pow(2).sum(-1)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """f(y) = grad psi(y), differentiable in the weights when gradients are on."""
        keep_graph = torch.is_grad_enabled()
        shape = y.shape
        with torch.enable_grad():
            y = y.flatten(1).detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.psi(y).sum(), y, create_graph=keep_graph)
        return grad.reshape(shape)

    def regulariser(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, R(x)) at x = f(y): the function whose proximal operator f is, up to a
        constant, R(f(y)) = <y, f(y)> - ||f(y)||^2 / 2 - psi(y) (Gribonval and Nikolova)."""
        x = self(y).detach()
        with torch.no_grad():
            r = (y * x).sum(-1) - x.pow(2).sum(-1) / 2 - self.psi(y)
        return x, r


class LPN(Model):
    """Learned proximal network: the input-gradient of an input-convex net."""

    name = "lpn"
    Config = LPNConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "dataset": {"name": "lpn-laplace", "n_train": 512, "n_val": 128},
        "model": {"name": "lpn", "width": 16, "depth": 2}}

    def build(self, data: Data) -> nn.Module:
        if data.task != "regression" or data.n_outputs != math.prod(data.input_shape):
            raise UserError("model 'lpn' maps an input to a denoised input: it needs a "
                            "regression dataset whose targets have the inputs' size")
        return ICNN(math.prod(data.input_shape), self.config)
