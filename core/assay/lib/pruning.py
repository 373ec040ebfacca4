"""Weight masks: the small toolkit every unstructured-pruning plugin shares (public).

A mask set is a plain ``dict`` from parameter name (as in ``model.named_parameters()``) to a
boolean tensor of the parameter's shape: ``True`` keeps the weight, ``False`` prunes it.
Public (``assay.lib.pruning``; first written for agp-gradual-pruning, shared by every
pruning plugin):

- :func:`prunable` picks the weights pruning acts on (Linear and Conv kernels);
- :func:`topk_mask` / :func:`masks_from_scores` keep the highest-scoring entries per layer;
- :func:`magnitude_masks` prunes the smallest ``|w|``, per layer or over all layers at once;
- :func:`apply_masks` zeroes pruned weights in place;
- :func:`sparsity`, :func:`layer_sparsity`, :func:`count_nonzero` report the result, and
  :func:`sparsity_metrics` gives the ``sparsity/*`` numbers a run puts in its final metrics.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from torch import nn

Masks = dict[str, torch.Tensor]
Scope = Literal["layer", "global"]

PRUNABLE_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, nn.modules.conv._ConvNd)


def prunable(model: nn.Module, include_readout: bool = True) -> dict[str, nn.Parameter]:
    """The weight tensors of every Linear / Conv layer of ``model``, by parameter name.

    Biases, norms and embeddings are left dense. ``include_readout=False`` also leaves the
    model's ``readout`` layer (core models expose one) dense.
    """
    skip = getattr(model, "readout", None) if not include_readout else None
    out: dict[str, nn.Parameter] = {}
    for mod_name, module in model.named_modules():
        if isinstance(module, PRUNABLE_TYPES) and module is not skip:
            out[f"{mod_name}.weight" if mod_name else "weight"] = module.weight
    return out


def topk_mask(score: torch.Tensor, density: float) -> torch.Tensor:
    """Keep the ``round(density * numel)`` highest-scoring entries (ties: lower index)."""
    n = score.numel()
    k = min(n, max(0, round(density * n)))
    mask = torch.zeros(n, dtype=torch.bool, device=score.device)
    if k:
        # a stable descending sort makes the choice among equal scores deterministic
        order = torch.sort(score.detach().flatten(), descending=True, stable=True).indices
        mask[order[:k]] = True
    return mask.view_as(score)


def masks_from_scores(scores: Mapping[str, torch.Tensor],
                      densities: Mapping[str, float]) -> Masks:
    """Per layer, keep the top ``densities[name]`` share of ``scores[name]``."""
    return {name: topk_mask(s, densities[name]) for name, s in scores.items()}


def magnitude_masks(params: Mapping[str, torch.Tensor], sparsity: float,
                    scope: Scope = "layer") -> Masks:
    """Prune the smallest-magnitude share ``sparsity`` of the weights.

    ``layer``: every tensor is pruned to ``sparsity`` on its own (Zhu & Gupta's setting).
    ``global``: one threshold over all tensors, so layers end at different sparsities.
    """
    if scope == "layer":
        return {name: topk_mask(p.detach().abs(), 1.0 - sparsity) for name, p in params.items()}
    flat = torch.cat([p.detach().abs().flatten() for p in params.values()])
    keep = topk_mask(flat, 1.0 - sparsity)
    masks, start = {}, 0
    for name, p in params.items():
        masks[name] = keep[start:start + p.numel()].view_as(p)
        start += p.numel()
    return masks


@torch.no_grad()
def apply_masks(params: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor]) -> None:
    """Zero the pruned entries of every masked parameter, in place."""
    for name, mask in masks.items():
        params[name].mul_(mask.to(params[name].dtype))


def sparsity(params: Mapping[str, torch.Tensor]) -> float:
    """Share of exactly-zero entries over all given tensors (weights or masks)."""
    total = sum(p.numel() for p in params.values())
    zeros = sum(int((p == 0).sum()) for p in params.values())
    return zeros / max(1, total)


def layer_sparsity(params: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Share of exactly-zero entries per tensor."""
    return {name: float((p == 0).float().mean()) for name, p in params.items()}


def count_nonzero(model: nn.Module) -> int:
    """Nonzero entries over all parameters of ``model`` (biases and dense layers included)."""
    return sum(int((p != 0).sum()) for p in model.parameters())


def sparsity_metrics(model: nn.Module, params: Mapping[str, torch.Tensor],
                     target: float) -> dict[str, float]:
    """The end-of-run numbers every pruning plugin reports the same way."""
    return {"sparsity/actual": sparsity(params), "sparsity/target": target,
            "sparsity/nonzero_params": float(count_nonzero(model))}
