"""The paper's two-layer ReLU network: f(x) = sum_j a_j relu(<w_j, x>) with the output
weights a_j fixed at +-1/sqrt(m) (half each) and first-layer weights w_j ~ N(0, init_std^2 I).

The module returns the two logits (-f/2, f/2): cross-entropy on them equals the paper's
logistic loss log(1 + exp(-y f)) with y = +-1, and their argmax is sign(f).
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from assay import Data, Model, Paper, UserError
from torch import nn

from assay_xor_benign_grokking.config import TwoLayerReLUConfig

PAPER = Paper(title="Benign Overfitting and Grokking in ReLU Networks for XOR Cluster Data",
              arxiv="2310.02541", year=2023)


class TwoLayerReLUNet(nn.Module):
    def __init__(self, n_in: int, c: TwoLayerReLUConfig) -> None:
        super().__init__()
        self.hidden = nn.Linear(n_in, c.width, bias=False)
        nn.init.normal_(self.hidden.weight, std=c.init_std)
        signs = torch.ones(c.width)
        signs[c.width // 2:] = -1.0
        a = signs / math.sqrt(c.width)
        if c.train_output:
            self.a = nn.Parameter(a)
        else:
            self.register_buffer("a", a)
        self.hidden_width = c.width

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.hidden(x.flatten(1))) @ self.a      # (B,) the paper's f(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.score(x)
        return torch.stack([-f / 2, f / 2], dim=1)                  # (B, 2) logits


class TwoLayerReLU(Model):
    """Two-layer ReLU network with fixed +-1/sqrt(m) output weights and small init."""

    name = "xor-benign-grokking-net"
    Config = TwoLayerReLUConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "dataset": {"name": "xor-benign-grokking", "n_train": 128, "n_val": 64, "dim": 50,
                    "mean_norm": 5.0, "label_noise": 0.0},
        "model": {"name": "xor-benign-grokking-net", "width": 16, "init_std": 0.01}}

    def build(self, data: Data) -> nn.Module:
        if data.task != "classification" or data.n_outputs != 2:
            raise UserError("model 'xor-benign-grokking-net' is a binary classifier: it needs a "
                            "classification dataset with 2 classes")
        if self.config.width % 2:
            raise UserError(f"model.width={self.config.width} must be even (half the output "
                            "weights are +1/sqrt(m), half -1/sqrt(m))")
        return TwoLayerReLUNet(math.prod(data.input_shape), self.config)
