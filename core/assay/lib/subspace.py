"""Random-subspace training (public): theta = theta_0 + P z with a fixed random projection.

Every parameter tensor of a model keeps its current value theta_0 (frozen) and receives the
offset P_i z, where P_i is its block of rows of a dense D x d projection P and z (d numbers,
starting at zero) is the only trainable tensor. The columns of P are Gaussian directions of
unit length (Li et al., arXiv:1804.08838, Sec. 2), so a unit step in one coordinate of z moves
theta by one unit. The offset is attached with ``torch.nn.utils.parametrize``: the model keeps
its type, its forward and its parameter names; only what it computes from its weights changes.

Used from a parameterization (theta_0 = the random initialisation: intrinsic-dim) and from an
adapter (theta_0 = pretrained weights: intrinsic-dimension-ft).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from assay.errors import UserError

__all__ = ["MAX_ENTRIES", "Subspace", "SubspaceOffset", "attach_subspace", "random_projection"]

MAX_ENTRIES = 300_000_000   # dense P above this (1.2 GB in float32) is refused


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
    """A dense (n_params, dim) Gaussian projection, columns of unit length if ``normalize``
    (else entries N(0, 1/n_params))."""
    p = torch.randn(n_params, dim, generator=generator)
    if normalize:
        return p / p.norm(dim=0, keepdim=True)
    return p / n_params ** 0.5


def attach_subspace(model: nn.Module, dim: int, normalize: bool = True,
                    generator: torch.Generator | None = None) -> Subspace:
    """Freeze every parameter of ``model`` at its value and make it theta_0 + P z; returns
    the module holding z (the only tensor left to train)."""
    named = [(mod, pname, p) for mod in model.modules()
             for pname, p in list(mod.named_parameters(recurse=False))]
    n_params = sum(p.numel() for _, _, p in named)
    if n_params * dim > MAX_ENTRIES:
        raise UserError(f"subspace dim={dim}: a dense projection for {n_params} parameters "
                        f"needs {n_params * dim:.2e} entries (limit {MAX_ENTRIES:.0e}); use a "
                        f"smaller dim or model")
    proj = random_projection(n_params, dim, normalize, generator)
    subspace = Subspace(dim)
    start = 0
    for mod, pname, p in named:
        block = proj[start:start + p.numel()].clone()
        start += p.numel()
        parametrize.register_parametrization(mod, pname, SubspaceOffset(block, subspace))
        mod.parametrizations[pname].original.requires_grad_(False)
    return subspace
