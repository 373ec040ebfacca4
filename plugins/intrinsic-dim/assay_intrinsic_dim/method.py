"""Subspace training: theta = theta_0 + P z with a fixed random projection P (D x d).

Every parameter tensor of the model keeps its initial value theta_0 (frozen) and receives
the offset P_i z, where P_i is its block of rows of P and z (d numbers, starting at zero) is
the only trainable tensor. The columns of P are random Gaussian directions normalised to unit
length (arXiv:1804.08838, Sec. 2), so a unit step in one coordinate of z moves theta by one
unit. The offset is attached with ``torch.nn.utils.parametrize``: the model keeps its type,
its forward and its state dict layout; only what it computes from its weights changes.
"""
from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import nn
from torch.nn.utils import parametrize

from assay import Config, Data, Parameterization, Paper, UserError

PAPER = Paper(title="Measuring the Intrinsic Dimension of Objective Landscapes",
              arxiv="1804.08838", year=2018)

MAX_ENTRIES = 300_000_000   # dense P above this (1.2 GB in float32) is refused


class IntrinsicDimConfig(Config):
    """Paper: https://arxiv.org/abs/1804.08838 - train only z in theta = theta_0 + P z."""

    dim: int = Field(100, ge=1, le=1_000_000,
                     description="Subspace dimension d (number of trainable numbers)")
    normalize: bool = Field(True, description="Scale each column of P to unit length "
                                              "(False: entries N(0, 1/D))")


class Subspace(nn.Module):
    """Holds the shared trainable coordinates ``z`` (d,)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.z = nn.Parameter(torch.zeros(dim))


class SubspaceOffset(nn.Module):
    """Parametrization of one tensor: ``original + (P_i @ z).view(shape)``."""

    def __init__(self, block: torch.Tensor, subspace: Subspace) -> None:
        super().__init__()
        self.register_buffer("block", block)   # (numel_i, d), rows of P for this tensor
        self.subspace = subspace

    def forward(self, original: torch.Tensor) -> torch.Tensor:
        return original + (self.block @ self.subspace.z).view_as(original)


def random_projection(n_params: int, dim: int, normalize: bool = True,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """A dense (n_params, dim) Gaussian projection, columns of unit length if ``normalize``."""
    p = torch.randn(n_params, dim, generator=generator)
    if normalize:
        return p / p.norm(dim=0, keepdim=True)
    return p / n_params ** 0.5


def attach_subspace(model: nn.Module, dim: int, normalize: bool = True,
                    generator: torch.Generator | None = None) -> Subspace:
    """Freeze every parameter of ``model`` at its value and make it theta_0 + P z."""
    named = [(mod, pname, p) for mod in model.modules()
             for pname, p in list(mod.named_parameters(recurse=False))]
    n_params = sum(p.numel() for _, _, p in named)
    if n_params * dim > MAX_ENTRIES:
        raise UserError(f"methods.parameterization.dim={dim}: a dense projection for "
                        f"{n_params} parameters needs {n_params * dim:.2e} entries "
                        f"(limit {MAX_ENTRIES:.0e}); use a smaller dim or model")
    proj = random_projection(n_params, dim, normalize, generator)
    subspace = Subspace(dim)
    start = 0
    for mod, pname, p in named:
        block = proj[start:start + p.numel()].clone()
        start += p.numel()
        parametrize.register_parametrization(mod, pname, SubspaceOffset(block, subspace))
        mod.parametrizations[pname].original.requires_grad_(False)
    return subspace


class IntrinsicDim(Parameterization):
    """Random-subspace training: only the d coordinates ``z`` are trained."""

    name = "intrinsic-dim"
    Config = IntrinsicDimConfig
    paper = PAPER

    def apply(self, model: nn.Module, data: Data) -> list[dict[str, Any]]:
        subspace = attach_subspace(model, self.config.dim, self.config.normalize)
        return [{"params": [subspace.z]}]
