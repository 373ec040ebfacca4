"""A deep linear network: ``depth`` bias-free weight matrices, no nonlinearity between them.

Its input-output map is the product W_depth ... W_1, yet gradient descent on the factors is a
nonlinear dynamical system (arXiv:1312.6120, Sec. 1-2).
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from assay import Data, Model, Paper, UserError
from torch import nn

from assay_saxe_deep_linear.config import DeepLinearConfig

PAPER = Paper(title="Exact solutions to the nonlinear dynamics of learning in deep linear "
                    "neural networks", arxiv="1312.6120", year=2014)


class DeepLinearNet(nn.Module):
    def __init__(self, n_in: int, n_out: int, c: DeepLinearConfig) -> None:
        super().__init__()
        dims = [n_in] + [c.width] * (c.depth - 1) + [n_out]
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(dims, dims[1:]))
        self.readout = self.layers[-1]
        self.hidden_width = c.width

    def end_to_end(self) -> torch.Tensor:
        """The composite map W_depth ... W_1, shape (n_out, n_in)."""
        w = self.layers[0].weight
        for layer in self.layers[1:]:
            w = layer.weight @ w
        return w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)
        for layer in self.layers:
            h = layer(h)
        return h


class DeepLinear(Model):
    """Deep linear network (regression)."""

    name = "saxe-deep-linear"
    Config = DeepLinearConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "dataset": {"name": "saxe-deep-linear-teacher", "in_dim": 8, "out_dim": 4,
                    "singular_values": [2.0, 1.0], "n_train": 64, "n_val": 64},
        "model": {"name": "saxe-deep-linear", "width": 8, "depth": 3}}

    def build(self, data: Data) -> nn.Module:
        if data.task != "regression":
            raise UserError("model 'saxe-deep-linear' is a linear regressor; use a regression "
                            "dataset (e.g. saxe-deep-linear-teacher)")
        return DeepLinearNet(math.prod(data.input_shape), data.n_outputs, self.config)
