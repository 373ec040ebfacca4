"""A diagonal linear RNN whose transition may be negative (Grazzi et al., 2025).

Each layer runs, per channel and independently of the other channels,

    h_t = a(x_t) * h_{t-1} + b(x_t),        h_0 = 0

with the transition ``a`` computed from the current input only (as in Mamba's selective
state): ``a = sigmoid(z)`` in [0, 1] (``eigen_range: positive``, today's LRNNs) or
``a = 2 * sigmoid(z) - 1`` in [-1, 1] (``eigen_range: negative``, the paper's change). The
recurrence is linear in h, so the whole sequence is one associative scan; here a
Hillis-Steele scan (log2 T steps) or a plain loop. With a negative ``a`` a single channel can
flip its sign on every 1-bit and so carry parity; with ``a >= 0`` it cannot.

Inputs are token ids. A pad token (``Data.info["pad_token"]``) is an identity step (a = 1,
b = 0), so left-padded sequences of any length share one batch. Classification reads the
last position; language modelling reads every position.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from assay import Data, Model, Paper, UserError
from torch import nn

from assay_negative_eigen_lrnn.config import LRNNConfig

PAPER = Paper(title="Unlocking State-Tracking in Linear RNNs Through Negative Eigenvalues",
              arxiv="2411.12537", year=2025)


def linear_scan(a: torch.Tensor, b: torch.Tensor, parallel: bool = True) -> torch.Tensor:
    """All states h_1..h_T of h_t = a_t * h_{t-1} + b_t, h_0 = 0; a, b: (B, T, H)."""
    if not parallel:
        h, states = torch.zeros_like(b[:, 0]), []
        for t in range(b.shape[1]):
            h = a[:, t] * h + b[:, t]
            states.append(h)
        return torch.stack(states, 1)
    # Step k composes each position with the one 2^k earlier; composing (a1, b1) then
    # (a2, b2) gives (a2 * a1, a2 * b1 + b2). Positions before the start are the identity.
    shift, length = 1, b.shape[1]
    while shift < length:
        a_prev = F.pad(a[:, :-shift], (0, 0, shift, 0), value=1.0)
        b_prev = F.pad(b[:, :-shift], (0, 0, shift, 0), value=0.0)
        a, b = a * a_prev, a * b_prev + b
        shift *= 2
    return b


def transition(z: torch.Tensor, eigen_range: str) -> torch.Tensor:
    """Map gate pre-activations to the transition: [0, 1] or [-1, 1]."""
    gate = torch.sigmoid(z)
    return gate if eigen_range == "positive" else 2 * gate - 1


class LRNNLayer(nn.Module):
    """Diagonal LRNN mixing over time, then a position-wise MLP, each with a residual."""

    def __init__(self, width: int, eigen_range: str, parallel: bool) -> None:
        super().__init__()
        self.eigen_range, self.parallel = eigen_range, parallel
        self.norm_in = nn.LayerNorm(width)
        self.gate = nn.Linear(width, width)             # z_t -> a_t
        self.value = nn.Linear(width, width)            # b_t
        self.norm_h = nn.LayerNorm(width)               # scale-free read of the state
        self.out = nn.Linear(width, width)
        self.norm_mlp = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(),
                                 nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        u = self.norm_in(x)                              # (B, T, width)
        a, b = transition(self.gate(u), self.eigen_range), self.value(u)
        if pad is not None:                              # identity step on padding
            a = torch.where(pad[..., None], torch.ones_like(a), a)
            b = torch.where(pad[..., None], torch.zeros_like(b), b)
        h = linear_scan(a, b, self.parallel)             # (B, T, width)
        x = x + self.out(self.norm_h(h))
        return x + self.mlp(self.norm_mlp(x))


class LRNNNet(nn.Module):
    def __init__(self, vocab: int, n_out: int, per_position: bool, pad_token: int | None,
                 c: LRNNConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, c.width)
        self.layers = nn.ModuleList(LRNNLayer(c.width, c.eigen_range, c.scan == "parallel")
                                    for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.width)
        self.readout = nn.Linear(c.width, n_out)
        self.hidden_width = c.width
        self.per_position, self.pad_token = per_position, pad_token

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        pad = idx == self.pad_token if self.pad_token is not None else None
        if pad is not None and not self.per_position:
            # leading columns that are padding in every row change nothing (identity steps
            # from h_0 = 0, no other mixing over time): drop them, exactly
            start = min(int(pad.all(0).long().cumprod(0).sum()), idx.shape[1] - 1)
            idx, pad = idx[:, start:], pad[:, start:]
        h = self.embed(idx)                              # (B, T, width)
        for layer in self.layers:
            h = layer(h, pad)
        h = self.norm(h)
        return h if self.per_position else h[:, -1]      # (B, T, width) or (B, width)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(idx))


class NegativeEigenLRNN(Model):
    """Diagonal linear RNN with input-dependent transitions in [0, 1] or [-1, 1]."""

    name = "negative-eigen-lrnn"
    Config = LRNNConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "dataset": {"name": "negative-eigen-lrnn-parity", "min_length": 2, "train_length": 6,
                    "val_length": 6, "n_train": 512, "n_val": 128},
        "model": {"name": "negative-eigen-lrnn", "width": 16},
        "methods": {"optimizer": {"name": "adamw", "lr": 1e-2}},
    }

    def build(self, data: Data) -> nn.Module:
        if data.train[0].is_floating_point():
            raise UserError("model 'negative-eigen-lrnn' reads token ids; this dataset has "
                            "real-valued inputs")
        if data.task == "lm":
            vocab, per_position = data.n_outputs, True
        elif data.task == "classification" and "vocab_size" in data.info:
            vocab, per_position = int(data.info["vocab_size"]), False
        else:
            raise UserError("model 'negative-eigen-lrnn' needs a language-modelling dataset or "
                            "a sequence classification dataset with info['vocab_size']")
        return LRNNNet(vocab, data.n_outputs, per_position, data.info.get("pad_token"),
                       self.config)
