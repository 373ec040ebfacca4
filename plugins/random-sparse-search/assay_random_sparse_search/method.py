"""Random node masks, the candidates of Random Search over sparse sub-networks (Farahani, 2024).

A candidate keeps a random ``1 - node_sparsity`` share of every hidden layer's units (drawn
from ``mask_seed``, independently of the run's seed, so one initialisation can be paired with
many masks) and removes the rest: their incoming weights and bias and their outgoing weights
are zero from the start and held at zero after every step. Random Search draws many such masks
on the same initialisation, scores each by its validation loss after a short training
(``screen_at`` steps; ``search/screen_score``, the validation loss or error by ``screen_by``)
and keeps the best; a sweep over
``mask_seed`` with every trial trained to the end gives both the screening scores and every
candidate's final accuracy, so the selected mask can be compared with the average one.
"""
from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Paper, Pruning, UserError
from torch import nn

from assay_random_sparse_search.config import RandomNodeMaskConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="Random Search as a Baseline for Sparse Neural Network Architecture Search",
              arxiv="2403.08265", year=2024)


def hidden_chain(model: nn.Module) -> list[nn.Linear]:
    """The Linear layers of an MLP in order (hidden layers, then the readout)."""
    hidden, readout = getattr(model, "hidden", None), getattr(model, "readout", None)
    if hidden is None or not isinstance(readout, nn.Linear):
        raise UserError("random-node-mask needs the builtin 'mlp' model (hidden + readout)")
    return [*hidden, readout]


def node_masks(widths: list[int], sparsity: float, seed: int) -> list[torch.Tensor]:
    """For each hidden layer, a boolean mask keeping round((1 - sparsity) * width) units
    (at least one), chosen uniformly at random by ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for w in widths:
        keep = torch.zeros(w, dtype=torch.bool)
        keep[torch.randperm(w, generator=gen)[:max(1, round((1 - sparsity) * w))]] = True
        out.append(keep)
    return out


@torch.no_grad()
def apply_node_masks(layers: list[nn.Linear], masks: list[torch.Tensor]) -> None:
    """Zero every removed unit's incoming row and bias and its outgoing column."""
    for layer, nxt, keep in zip(layers, layers[1:], masks):
        layer.weight[~keep] = 0.0
        if layer.bias is not None:
            layer.bias[~keep] = 0.0
        nxt.weight[:, ~keep] = 0.0


class RandomNodeMask(Pruning):
    """Remove a random share of every hidden layer's units from initialisation."""

    name = "random-node-mask"
    Config = RandomNodeMaskConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"pruning": {"name": "random-node-mask", "node_sparsity": 0.5,
                                "screen_at": 10}}}

    def setup(self, ctx: RunContext) -> None:
        c = self.config
        self.layers = hidden_chain(ctx.model)
        widths = [layer.out_features for layer in self.layers[:-1]]
        self.masks = [m.to(ctx.device) for m in node_masks(widths, c.node_sparsity, c.mask_seed)]
        apply_node_masks(self.layers, self.masks)
        kept = [int(m.sum()) for m in self.masks]
        ctx.final_metrics.update({"search/kept_units": float(sum(kept)),
                                  "search/active_weights": float(active_weights(
                                      self.layers, self.masks))})

    def prune(self, ctx: RunContext, step: int) -> None:
        apply_node_masks(self.layers, self.masks)
        if step == self.config.screen_at:
            val = ctx.evaluate()
            loss, acc = val["val/loss"], val.get("val/acc", float("nan"))
            score = loss if self.config.screen_by == "val_loss" else 1 - acc
            ctx.final_metrics.update({"search/screen_val_loss": loss,
                                      "search/screen_val_acc": acc,
                                      "search/screen_score": score})


def active_weights(layers: list[nn.Linear], masks: list[torch.Tensor]) -> int:
    """Weights between kept units (inputs and outputs always kept)."""
    sizes = [layers[0].in_features] + [int(m.sum()) for m in masks] + [layers[-1].out_features]
    return sum(a * b for a, b in pairwise(sizes))
