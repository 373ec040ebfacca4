"""Random pruning at initialisation with ERK layer-wise densities.

Liu et al. (arXiv:2202.02643) draw one random mask per layer before training and keep it
fixed: the network trains sparse from scratch. What matters is how much density each layer
gets. Erdős–Rényi-Kernel (ERK) gives a layer with weight shape (n_out, n_in, *kernel)

    density_l = eps * (n_out + n_in + sum(kernel)) / (n_out * n_in * prod(kernel))

so small layers (the first and the last) stay denser than big square ones. ``eps`` is chosen
so that the kept weights over all layers equal the global target; a layer whose density would
exceed 1 is made dense and ``eps`` is solved again for the rest (see :func:`layer_densities`).
ER is the same without the kernel terms; uniform gives every layer the global density.

The masks and the ``sparsity/*`` metrics come from the AGP plugin's shared helpers.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Paper, Pruning
from assay.lib.pruning import (
    apply_masks,
    masks_from_scores,
    prunable,
    sparsity_metrics,
)

from assay_random_pruning_erk.config import Distribution, RandomPruningConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="The Unreasonable Effectiveness of Random Pruning: Return of the Most "
                    "Naive Baseline for Sparse Training", arxiv="2202.02643", year=2022)


def raw_score(shape: Sequence[int], distribution: Distribution) -> float:
    """The unscaled density of one layer: ERK / ER ratio, or 1 for uniform."""
    if distribution == "uniform":
        return 1.0
    dims = list(shape) if distribution == "erk" else list(shape[:2])
    return sum(dims) / math.prod(dims)


def layer_densities(shapes: Mapping[str, Sequence[int]], density: float,
                    distribution: Distribution = "erk") -> dict[str, float]:
    """Per-layer densities whose size-weighted mean is ``density``, each at most 1.

    Layers whose scaled density would pass 1 are made dense, one at a time (largest raw
    score first), and the scale ``eps`` is solved again over the remaining layers.
    """
    sizes = {name: math.prod(shape) for name, shape in shapes.items()}
    raw = {name: raw_score(shape, distribution) for name, shape in shapes.items()}
    target = density * sum(sizes.values())
    dense: set[str] = set()
    while True:
        free = [n for n in shapes if n not in dense]
        budget = target - sum(sizes[n] for n in dense)
        denom = sum(raw[n] * sizes[n] for n in free)
        eps = budget / denom if denom else 0.0
        over = [n for n in free if eps * raw[n] > 1.0]
        if not over:
            break
        dense.add(max(over, key=lambda n: raw[n]))
    return {n: 1.0 if n in dense else eps * raw[n] for n in shapes}


class RandomPruning(Pruning):
    """Random masks at initialisation with ERK (or ER / uniform) layer densities."""

    name = "random-pruning-erk"
    Config = RandomPruningConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"pruning": {"name": "random-pruning-erk", "sparsity": 0.5}}}

    def setup(self, ctx: RunContext) -> None:
        c = self.config
        self.params = prunable(ctx.model, c.include_readout)
        self.densities = layer_densities({n: tuple(p.shape) for n, p in self.params.items()},
                                         1.0 - c.sparsity, c.distribution)
        # a generator of its own: drawing masks must not shift the run's batch order
        gen = torch.Generator().manual_seed(1_000_003 * ctx.run.seed + c.mask_seed)
        scores = {n: torch.rand(p.shape, generator=gen).to(p.device)
                  for n, p in self.params.items()}
        self.masks = masks_from_scores(scores, self.densities)
        apply_masks(self.params, self.masks)

    def prune(self, ctx: RunContext, step: int) -> None:
        apply_masks(self.params, self.masks)      # fixed mask: pruned weights stay zero
        if step % ctx.eval_every == 0 or step == ctx.total_steps:
            ctx.final_metrics.update(
                sparsity_metrics(ctx.model, self.params, self.config.sparsity))
