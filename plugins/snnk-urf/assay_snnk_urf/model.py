"""An MLP with chosen hidden layers replaced by SNNK layers (Sehanobish et al., 2024).

A feedforward layer computes y_i = f(w_i^T x + b_i). An SNNK layer computes instead

    y = Psi(x) @ Phi^T + b,      Psi(x) = ReLU(G x) / sqrt(m),   G (m, n_in) fixed Gaussian,

with the trainable matrix Phi (n_out, m) started at Phi(W0) = ReLU(W0 G^T) / sqrt(m), the
weights' own random features, for the layer's initial W0 (the official code's ReLU-SNNK,
``NNK_Relu``). Psi(x) . Phi(w) is a Monte Carlo estimate of E_g[ReLU(g^T x) ReLU(g^T w)], the
arc-cosine kernel of x and w, so the layer keeps a ReLU unit's dependence on w^T x and |x| |w|
while the input enters only through m fixed features: the layer trains n_out (m + 1) numbers
instead of n_out (n_in + 1), fewer whenever m < n_in. No activation follows an SNNK layer (it
replaces f(Wx + b) as a whole).
"""
from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from assay import Data, Model, UserError
from torch import nn

from assay_snnk_urf.config import SNNKMLPConfig

from .method import PAPER


class SNNKLinear(nn.Module):
    """ReLU-SNNK layer: fixed Gaussian G, trainable Phi (started at Phi(W0)) and bias."""

    def __init__(self, n_in: int, n_out: int, m: int) -> None:
        super().__init__()
        base = nn.Linear(n_in, n_out)                      # W0, b0: a fresh layer's init
        self.register_buffer("G", torch.randn(m, n_in))
        self.phi = nn.Parameter(self.features(base.weight.detach()))
        self.bias = nn.Parameter(base.bias.detach().clone())

    def features(self, v: torch.Tensor) -> torch.Tensor:
        """ReLU(v G^T) / sqrt(m) for the rows of ``v``."""
        return F.relu(v @ self.G.T) / math.sqrt(self.G.shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x) @ self.phi.T + self.bias


class SNNKNet(nn.Module):
    def __init__(self, n_in: int, n_out: int, c: SNNKMLPConfig) -> None:
        super().__init__()
        dims = [n_in] + [c.width] * c.depth
        self.snnk = set(c.snnk_layers)
        self.hidden = nn.ModuleList(
            SNNKLinear(a, b, c.features) if i in self.snnk else nn.Linear(a, b)
            for i, (a, b) in enumerate(itertools.pairwise(dims)))
        self.readout = nn.Linear(c.width, n_out)
        self.hidden_width = c.width

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)
        for i, layer in enumerate(self.hidden):
            h = layer(h) if i in self.snnk else F.relu(layer(h))
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x))


class SNNKMLP(Model):
    """MLP on flattened inputs with ReLU-SNNK layers in place of chosen hidden layers."""

    name = "snnk-mlp"
    Config = SNNKMLPConfig
    paper = PAPER

    def build(self, data: Data) -> nn.Module:
        c = self.config
        if data.task == "lm":
            raise UserError("model 'snnk-mlp' does not take token sequences")
        bad = [i for i in c.snnk_layers if not 0 <= i < c.depth]  # type: ignore[attr-defined]
        if bad:
            raise UserError(f"snnk_layers {bad} are not hidden layers 0..{c.depth - 1}")  # type: ignore[attr-defined]
        return SNNKNet(math.prod(data.input_shape), data.n_outputs, c)  # type: ignore[arg-type]
