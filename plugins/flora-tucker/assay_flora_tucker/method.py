"""FLoRA (Si et al., 2025) on convolution kernels, and LoRA on the reshaped kernel.

A conv kernel W has shape (out, in, k_1, ..., k_m). Both adapters keep W frozen and learn an
update dW of the same shape; the layer convolves with W + dW.

- FLoRA (arXiv:2405.14739, Sec. 3, Eq. 5-6) keeps the update's N modes apart with a Tucker
  decomposition: a small core G of shape (r_out, r_in, r_1, ..., r_m) and one factor per mode,

      dW = s * G x_1 U_out x_2 U_in x_3 U_1 ... x_N U_m,      U_j in R^{dim_j x r_j},

  where x_j is the mode-j product. As the official code, G starts at zero and each U_j
  Kaiming-normal (a = sqrt(3)), so dW = 0 at the start and G receives the first gradients.
- LoRA on the reshaped kernel (the "compress to two dimensions" baseline the paper argues
  against, as peft's LoRA for Conv layers): dW = (alpha / r) * reshape(B @ A) with A of shape
  (r, in * k_1 * ... * k_m) Kaiming-uniform and B of shape (out, r) zero.

Everything but the adapters is frozen, except the readout (the task head), trained in every
arm so that new classes can be named.
"""
from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from assay import Adapter, Data, Paper, UserError
from torch import nn

from assay_flora_tucker.config import ConvAdapterConfig, FLoRAConfig, KernelLoRAConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="FLoRA: Low-Rank Core Space for N-dimension", arxiv="2405.14739", year=2024)
LORA = Paper(title="LoRA: Low-Rank Adaptation of Large Language Models", arxiv="2106.09685",
             year=2021)
CONVS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def mode_product(tensor: torch.Tensor, matrix: torch.Tensor, mode: int) -> torch.Tensor:
    """tensor x_mode matrix: contract ``tensor``'s axis ``mode`` (size r) with ``matrix``
    (d, r); the result has d in that axis."""
    return torch.movedim(torch.tensordot(matrix, tensor, dims=([1], [mode])), 0, mode)


def tucker(core: torch.Tensor, factors: list[torch.Tensor]) -> torch.Tensor:
    """G x_1 U_1 x_2 U_2 ... x_N U_N."""
    for mode, factor in enumerate(factors):
        core = mode_product(core, factor, mode)
    return core


class DeltaConv(nn.Module):
    """A frozen ConvNd that convolves with ``weight + delta()``; subclasses define delta."""

    def __init__(self, base: nn.modules.conv._ConvNd) -> None:
        super().__init__()
        if base.padding_mode != "zeros":
            raise UserError("flora-tucker adapters support zero-padded convolutions only")
        self.base = base
        base.requires_grad_(False)

    def delta(self) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.base
        return CONVS[b.weight.dim() - 2](x, b.weight + self.delta(), b.bias, b.stride,
                                         b.padding, b.dilation, b.groups)


class TuckerConv(DeltaConv):
    """dW = scale * G x_1 U_out x_2 U_in x_3 U_k1 ...: FLoRA's Tucker-core update."""

    def __init__(self, base: nn.modules.conv._ConvNd, ranks: list[int], scale: float) -> None:
        super().__init__(base)
        shape = tuple(base.weight.shape)
        if len(ranks) != len(shape):
            raise UserError(f"flora: {len(ranks)} ranks for a kernel with {len(shape)} modes "
                            f"{shape}; give one rank per mode (out, in, kernel...)")
        ranks = [min(r, d) for r, d in zip(ranks, shape)]
        self.scale = scale
        self.core = nn.Parameter(torch.zeros(*ranks))
        self.factors = nn.ParameterList()
        for d, r in zip(shape, ranks):
            u = torch.empty(d, r)
            nn.init.kaiming_normal_(u, a=math.sqrt(3))
            self.factors.append(nn.Parameter(u))

    def delta(self) -> torch.Tensor:
        return self.scale * tucker(self.core, list(self.factors))


class ReshapedLoRAConv(DeltaConv):
    """dW = (alpha / r) * reshape(B @ A, W.shape): LoRA on the kernel as an (out, rest) matrix."""

    def __init__(self, base: nn.modules.conv._ConvNd, rank: int, alpha: float) -> None:
        super().__init__(base)
        out, rest = base.weight.shape[0], base.weight[0].numel()
        rank = max(1, min(rank, out, rest))
        self.scale = alpha / rank
        self.lora_A = nn.Parameter(torch.empty(rank, rest))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = nn.Parameter(torch.zeros(out, rank))

    def delta(self) -> torch.Tensor:
        return self.scale * (self.lora_B @ self.lora_A).reshape(self.base.weight.shape)


def conv_layers(model: nn.Module, target: str) -> list[tuple[str, nn.modules.conv._ConvNd]]:
    """(name, layer) of every Conv1d/2d/3d whose name fully matches ``target``."""
    pattern = re.compile(target)
    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) and pattern.fullmatch(n)]


class ConvAdapter(Adapter):
    """Freeze the model, wrap each targeted conv layer, train the adapters (and readout)."""

    contract_experiment: ClassVar[dict[str, Any]] = {
        "model": {"name": "cnn", "channels": 8, "depth": 2, "kernel_size": 3}}

    def wrap(self, conv: nn.modules.conv._ConvNd) -> DeltaConv:
        raise NotImplementedError

    def apply(self, model: nn.Module, data: Data) -> nn.Module:
        c: Any = self.config
        found = conv_layers(model, c.target)
        if not found:
            names = [n for n, m in model.named_modules() if isinstance(m, nn.modules.conv._ConvNd)]
            raise UserError(f"adapter target {c.target!r} matches no conv layer; the model's "
                            f"conv layers are: {', '.join(names) or 'none'}")
        model.requires_grad_(False)
        self.wrapped: list[DeltaConv] = []
        for name, conv in found:
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            self.wrapped.append(self.wrap(conv))
            setattr(parent, attr, self.wrapped[-1])
        if c.train_readout:
            model.get_submodule("readout").requires_grad_(True)
        return model

    def adapter_params(self) -> int:
        """Trainable numbers the adapters add (the readout excluded)."""
        return sum(p.numel() for w in self.wrapped for p in w.parameters() if p.requires_grad)

    def setup(self, ctx: RunContext) -> None:
        ctx.final_metrics["adapter/params"] = float(self.adapter_params())


class FLoRA(ConvAdapter):
    """FLoRA: Tucker-core updates of conv kernels."""

    name = "flora"
    Config = FLoRAConfig
    paper = PAPER

    def wrap(self, conv: nn.modules.conv._ConvNd) -> DeltaConv:
        return TuckerConv(conv, list(self.config.ranks), self.config.scale)  # type: ignore[attr-defined]


class KernelLoRA(ConvAdapter):
    """LoRA on each conv kernel reshaped to a matrix."""

    name = "kernel-lora"
    Config = KernelLoRAConfig
    paper = LORA

    def wrap(self, conv: nn.modules.conv._ConvNd) -> DeltaConv:
        c: Any = self.config
        return ReshapedLoRAConv(conv, c.rank, c.alpha)
