"""Compacter (Karimi Mahabadi et al., 2021) and the Houlsby bottleneck adapter it builds on.

A bottleneck adapter follows a frozen layer's output z (width d) and adds a small residual:

    z' = z + up(act(down(z))),      down: d -> k,  up: k -> d        (Houlsby et al., 2019)

so a layer trains 2dk + k + d numbers. Compacter keeps that shape but makes ``down`` and ``up``
parameterized hypercomplex multiplication (PHM) layers (arXiv:2106.04647, Sec. 3, Eq. 3-5):

    W = sum_{i=1..n} A_i (x) B_i,      A_i in R^{n x n},  B_i = s_i t_i^T in R^{(in/n) x (out/n)}

with ``(x)`` the Kronecker product. The "slow" weights A_i are shared by every adapter layer
of the model (one set for the down projections, one for the up projections, as the official
code's ``shared_phm_rule``); the "fast" weights s_i, t_i are per layer and rank one. A
projection then trains n (in/n + out/n) = in + out numbers plus its bias, instead of in * out.

Everything else in the model is frozen except the readout (the classification head), which is
trained in every arm, as adapter papers train the task head.

Both adapters start exactly at the pretrained model: ``up`` starts at zero (Houlsby: its
weight; Compacter: its fast factors t_i), so z' = z at step 0 and the first gradients reach
``up`` through a non-zero ``down``.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from assay import Adapter, Data, Paper, UserError
from assay.lib.adapters import linear_layers
from torch import nn

from assay_compacter.config import BottleneckConfig, CompacterConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="Compacter: Efficient Low-Rank Hypercomplex Adapter Layers",
              arxiv="2106.04647", year=2021)
HOULSBY = Paper(title="Parameter-Efficient Transfer Learning for NLP", arxiv="1902.00751",
                year=2019)
ACTS = {"gelu": F.gelu, "relu": F.relu}


def kron_sum(rule: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:
    """sum_i rule[i] (x) fast[i] for rule (n, n, n) and fast (n, p, q): a (n p, n q) matrix."""
    n, p, q = fast.shape
    return torch.einsum("iac,ibd->abcd", rule, fast).reshape(n * p, n * q)


class PHMLinear(nn.Module):
    """y = x @ W + b with W = sum_i A_i (x) (s_i t_i^T): ``A`` shared (passed in), ``s`` (n,
    in/n, r) and ``t`` (n, r, out/n) this layer's own."""

    def __init__(self, n_in: int, n_out: int, rule: nn.Parameter, rank: int,
                 zero: bool) -> None:
        super().__init__()
        n = rule.shape[0]
        if n_in % n or n_out % n:
            raise UserError(f"compacter: n = {n} must divide both {n_in} and {n_out}")
        self.rule = rule
        # LeCun-normal scale for W: var(A) = 1/n, var(s) var(t) r = 1/in, summed over n terms
        std = (n_in * rank) ** -0.25
        self.s = nn.Parameter(torch.randn(n, n_in // n, rank) * std)
        self.t = nn.Parameter(torch.zeros(n, rank, n_out // n) if zero
                              else torch.randn(n, rank, n_out // n) * std)
        self.bias = nn.Parameter(torch.zeros(n_out))

    def weight(self) -> torch.Tensor:
        """The (in, out) matrix this layer applies."""
        return kron_sum(self.rule, self.s @ self.t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight() + self.bias


class Adapted(nn.Module):
    """A frozen Linear followed by a residual bottleneck: base(x) + up(act(down(base(x))))."""

    def __init__(self, base: nn.Linear, down: nn.Module, up: nn.Module, act: str) -> None:
        super().__init__()
        self.base, self.down, self.up, self.act = base, down, up, ACTS[act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.base(x)
        return z + self.up(self.act(self.down(z)))


class BottleneckAdapter(Adapter):
    """Houlsby adapter: dense down/up projections (up starts at zero)."""

    name = "houlsby-adapter"
    Config = BottleneckConfig
    paper = HOULSBY

    def projections(self, d: int) -> tuple[nn.Module, nn.Module]:
        down, up = nn.Linear(d, self.config.bottleneck), nn.Linear(self.config.bottleneck, d)
        nn.init.zeros_(up.weight)
        nn.init.zeros_(up.bias)
        return down, up

    def apply(self, model: nn.Module, data: Data) -> nn.Module:
        c: Any = self.config
        found = linear_layers(model, c.target)
        if not found:
            raise UserError(f"adapter target {c.target!r} matches no Linear layer")
        for p in model.parameters():
            p.requires_grad_(False)
        self.parts: list[nn.Module] = []
        for name, linear in found:
            down, up = self.projections(linear.out_features)
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, attr, Adapted(linear, down, up, c.activation))
            self.parts += [down, up]
        if c.train_readout:
            model.get_submodule("readout").requires_grad_(True)
        return model

    def adapter_params(self) -> int:
        """Trainable numbers the adapters add (shared tensors once; the readout excluded)."""
        seen = {id(p): p for m in self.parts for p in m.parameters()}
        return sum(p.numel() for p in seen.values())

    def setup(self, ctx: RunContext) -> None:
        ctx.final_metrics["adapter/params"] = float(self.adapter_params())


class Compacter(BottleneckAdapter):
    """Compacter: PHM down/up projections with shared slow weights, rank-r fast weights."""

    name = "compacter"
    Config = CompacterConfig
    paper = PAPER

    def apply(self, model: nn.Module, data: Data) -> nn.Module:
        n = self.config.n  # type: ignore[attr-defined]
        # one shared slow rule for every down projection and one for every up projection
        self.rules = [nn.Parameter(torch.randn(n, n, n) / math.sqrt(n)) for _ in range(2)]
        return super().apply(model, data)

    def projections(self, d: int) -> tuple[nn.Module, nn.Module]:
        c = self.config
        return (PHMLinear(d, c.bottleneck, self.rules[0], c.rank, zero=False),
                PHMLinear(c.bottleneck, d, self.rules[1], c.rank, zero=True))
