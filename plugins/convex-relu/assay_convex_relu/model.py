"""The network both trainings fit: f(x) = sum_j alpha_j relu(u_j . [x, 1]), one output.

The first layer's bias is the weight on a constant input (``hidden.bias``), so the hidden
weights of neuron j are u_j = (hidden.weight[j], hidden.bias[j]): this is the "data matrix
with a column of ones" of the convex formulation. The output layer has no bias, as in the
paper's network (a bias there would be a neuron outside the convex program).
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from assay import Data, Model, UserError
from torch import nn

from assay_convex_relu.config import TwoLayerReLUConfig

from .data import PAPER


class TwoLayerReLUNet(nn.Module):
    def __init__(self, n_in: int, width: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(n_in, width)
        self.readout = nn.Linear(width, 1, bias=False)
        self.hidden_width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(torch.relu(self.hidden(x.flatten(1))))

    def weight_norm_sq(self) -> torch.Tensor:
        """||U||_F^2 + ||alpha||^2, the weight decay of the regularised objective (the
        first-layer bias is a weight like any other: it multiplies the constant input)."""
        return (self.hidden.weight.pow(2).sum() + self.hidden.bias.pow(2).sum()
                + self.readout.weight.pow(2).sum())

    @torch.no_grad()
    def reset(self, generator: torch.Generator) -> None:
        """A fresh PyTorch-default initialisation drawn from ``generator`` (a restart)."""
        for layer in (self.hidden, self.readout):
            bound = 1 / math.sqrt(layer.in_features)
            layer.weight.uniform_(-bound, bound, generator=generator)
        bound = 1 / math.sqrt(self.hidden.in_features)
        self.hidden.bias.uniform_(-bound, bound, generator=generator)


class TwoLayerReLU(Model):
    """Two-layer ReLU net with a scalar output and no output bias."""

    name = "convex-relu-net"
    Config = TwoLayerReLUConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "dataset": {"name": "convex-relu-spirals", "n_train": 64, "n_val": 64},
        "model": {"name": "convex-relu-net", "width": 32}}

    def build(self, data: Data) -> nn.Module:
        if data.task != "regression" or data.n_outputs != 1:
            raise UserError("model 'convex-relu-net' has one output: it needs a regression "
                            "dataset with one target")
        return TwoLayerReLUNet(math.prod(data.input_shape), self.config.width)
