"""The paper's pruning baselines at the same memory: one global mask drawn at initialisation.

The paper compares RPS with "moderately informed" pruning at initialisation (its MAG and SNIP,
run through the Synaptic-Flow code): one score per weight at init, one global threshold keeping
the top ``density`` share of all linear weights, and the sparse net trained from scratch with
the mask fixed.

- ``magnitude``: score ``|w|`` (MAG).
- ``snip``: score ``|w * dL/dw|`` on one training batch at init (Lee et al., 2019).

Masks and the ``sparsity/*`` numbers come from ``assay.lib.pruning`` (its global magnitude
mask applied to the score tensors). Biases stay dense, as in the RPS arms.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Paper, Pruning
from assay.lib.pruning import apply_masks, magnitude_masks, prunable, sparsity_metrics

from assay_stable_rps.config import PruneAtInitConfig

from .method import SMALL

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="In defense of parameter sharing for model-compression (ICLR 2024): "
                    "pruning-at-initialisation baselines (MAG; SNIP, arXiv:1810.02340)",
              arxiv="2310.11611", year=2023)


def snip_scores(ctx: RunContext, params: dict[str, torch.nn.Parameter],
                batch_size: int) -> dict[str, torch.Tensor]:
    """``|w * dL/dw|`` on one training batch (drawn from a generator of its own)."""
    x, y = ctx.batch(batch_size)
    ctx.model.zero_grad()
    ctx.loss(ctx.model, x, y).backward()
    scores = {n: (p.detach() * p.grad).abs() for n, p in params.items()}
    ctx.model.zero_grad()
    return scores


class PruneAtInit(Pruning):
    """Global magnitude (MAG) or SNIP pruning at initialisation, mask fixed during training."""

    name = "prune-at-init"
    Config = PruneAtInitConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        **SMALL, "methods": {"pruning": {"name": "prune-at-init", "density": 0.25}}}

    def setup(self, ctx: RunContext) -> None:
        c = self.config
        self.params = prunable(ctx.model, include_readout=True)
        scores = (snip_scores(ctx, self.params, c.snip_batch) if c.criterion == "snip"
                  else {n: p.detach() for n, p in self.params.items()})
        self.masks = magnitude_masks(scores, 1.0 - c.density, scope="global")
        apply_masks(self.params, self.masks)

    def prune(self, ctx: RunContext, step: int) -> None:
        apply_masks(self.params, self.masks)
        if step % ctx.eval_every == 0 or step == ctx.total_steps:
            ctx.final_metrics.update(
                sparsity_metrics(ctx.model, self.params, 1.0 - self.config.density))
