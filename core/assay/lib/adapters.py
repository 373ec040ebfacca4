"""LoRA (Hu et al., 2021): trainable low-rank updates on frozen Linear layers.

A wrapped layer computes ``y = base(x) + scale * B @ A @ dropout(x)`` with ``A`` of shape
(rank, in), ``B`` of shape (out, rank) and ``scale = alpha / rank``; every parameter of the
model other than the adapters' ``A`` and ``B`` is frozen (biases included).

Reuse by other PEFT methods (PiSSA, LoRA-GA, ...), which change only the initialisation:

- subclass :class:`LoRALinear` and override ``init_adapter`` (called once, at construction),
  or build plain layers and assign factors afterwards with ``LoRALinear.set_factors``;
- subclass :class:`LoRA` and set ``layer_class`` (and ``name``, ``paper``, ``Config``), or
  call :func:`inject` yourself from ``apply``.

``set_factors(A, B)`` moves ``scale * B @ A`` out of the frozen weight, so a model whose
adapters start non-zero still computes exactly what the base model computed.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from assay.errors import UserError
from assay.kinds import Adapter, Data, Paper
from assay.lib.configs import LoRAConfig


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update ``scale * B @ A``."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__()
        self.base = base
        self.rank = max(1, min(rank, base.in_features, base.out_features))  # beyond full rank
        self.scale = alpha / self.rank                                       # adds nothing
        w = base.weight
        self.lora_A = nn.Parameter(torch.zeros(self.rank, base.in_features, dtype=w.dtype,
                                               device=w.device))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, self.rank, dtype=w.dtype,
                                               device=w.device))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        for p in base.parameters():
            p.requires_grad_(False)
        with torch.no_grad():
            self.init_adapter()

    def init_adapter(self) -> None:
        """LoRA's own start: A like a fresh nn.Linear weight (Kaiming-uniform), B = 0, so the
        product is zero. Override to start elsewhere (runs under ``torch.no_grad``)."""
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B)

    @torch.no_grad()
    def set_factors(self, A: torch.Tensor, B: torch.Tensor, keep_output: bool = True) -> None:
        """Set ``A`` (rank, in) and ``B`` (out, rank); with ``keep_output`` subtract
        ``scale * B @ A`` from the frozen base weight so the layer's output is unchanged."""
        if A.shape != self.lora_A.shape or B.shape != self.lora_B.shape:
            raise ValueError(f"factors {tuple(A.shape)}, {tuple(B.shape)} do not fit "
                             f"{tuple(self.lora_A.shape)}, {tuple(self.lora_B.shape)}")
        if keep_output:
            self.base.weight -= (self.scale * B @ A).to(self.base.weight.dtype)
        self.lora_A.copy_(A)
        self.lora_B.copy_(B)

    @property
    def weight(self) -> torch.Tensor:
        """The frozen base weight (the residual, once an init has moved a part of it out)."""
        return self.base.weight

    @property
    def bias(self) -> torch.Tensor | None:
        return self.base.bias

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def delta_weight(self) -> torch.Tensor:
        return self.scale * self.lora_B @ self.lora_A                  # (out, in)

    def merged_weight(self) -> torch.Tensor:
        """The weight a plain Linear would need to compute the same function."""
        return self.base.weight + self.delta_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = F.linear(F.linear(self.dropout(x), self.lora_A), self.lora_B)  # (..., out)
        return self.base(x) + self.scale * update

    def extra_repr(self) -> str:
        return f"rank={self.rank}, scale={self.scale:g}"


def linear_layers(model: nn.Module, target: str) -> list[tuple[str, nn.Linear]]:
    """``(qualified name, layer)`` of every ``nn.Linear`` whose name fully matches the regular
    expression ``target`` (names as in ``model.named_modules()``, e.g. ``hidden.0``)."""
    pattern = re.compile(target)
    wrapped = {f"{name}.base" for name in adapters(model)}          # never wrap twice
    return [(name, m) for name, m in model.named_modules()
            if type(m) is nn.Linear and name and name not in wrapped and pattern.fullmatch(name)]


def inject(model: nn.Module, target: str,
           make: Callable[[str, nn.Linear], LoRALinear]) -> dict[str, LoRALinear]:
    """Freeze ``model`` and replace each targeted Linear, in place, by ``make(name, layer)``.
    Returns the new layers by name; raises UserError when ``target`` matches no Linear."""
    found = linear_layers(model, target)
    if not found:
        names = [n for n, m in model.named_modules() if type(m) is nn.Linear and n]
        raise UserError(f"adapter target {target!r} matches no Linear layer; the model's "
                        f"Linear layers are: {', '.join(names) or 'none'}")
    for p in model.parameters():
        p.requires_grad_(False)
    layers: dict[str, LoRALinear] = {}
    for name, linear in found:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        layers[name] = make(name, linear)
        setattr(parent, attr, layers[name])          # works for ModuleList/Sequential too
    return layers


def adapters(model: nn.Module) -> dict[str, LoRALinear]:
    """The LoRA layers of ``model`` by name."""
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


class LoRA(Adapter):
    """Low-rank adapters on the model's Linear layers; everything else frozen."""

    name = "lora"
    Config = LoRAConfig
    paper = Paper(title="LoRA: Low-Rank Adaptation of Large Language Models",
                  arxiv="2106.09685", year=2021)
    layer_class: ClassVar[type[LoRALinear]] = LoRALinear

    def apply(self, model: nn.Module, data: Data) -> nn.Module:
        c: Any = self.config
        inject(model, c.target, lambda name, linear: self.layer_class(linear, c.rank, c.alpha,
                                                                      c.dropout))
        return model


ADAPTERS = [LoRA]
