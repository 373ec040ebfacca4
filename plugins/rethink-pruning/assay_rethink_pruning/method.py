"""Structured L1-norm pruning that physically shrinks a network, for the comparison of
Liu et al. (arXiv:1810.05270): fine-tune the pruned network, or train its architecture anew.

The usual pipeline trains a large model, removes its "unimportant" units and fine-tunes what
is left. Liu et al. show that, for structured pruning, training the pruned architecture from
a random initialisation (with the same compute) does as well: the inherited weights carry no
special value. This method is the "prune" step: at the start of a run it removes, in every
hidden layer, the units (MLP neurons or CNN channels) whose incoming weights have the smallest
L1 norm (Li et al., 2017), keeping the share ``keep``. Layers are pruned from input to output;
a layer's scores use only the inputs that survived the layer before. The removed units'
outgoing weights go too, so the result is a smaller dense network, not a masked one.

Put a trained model under it with the experiment's ``pretrain:`` block to get the fine-tuning
arm; ``reinit: true`` re-initialises the pruned architecture (the "scratch" arm when the pruned
shape is not simply a narrower core model).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from assay import Paper, Pruning, UserError
from assay.lib.pruning import topk_mask
from torch import nn

from assay_rethink_pruning.config import RethinkPruningConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="Rethinking the Value of Network Pruning", arxiv="1810.05270", year=2019)


def chain(model: nn.Module) -> list[nn.Module]:
    """The hidden layers of a core ``mlp`` (``hidden``) or ``cnn`` (``convs``), in order."""
    layers = getattr(model, "hidden", None) or getattr(model, "convs", None)
    if layers is None or getattr(model, "readout", None) is None:
        raise UserError("rethink-pruning needs a model with hidden layers ('hidden' or 'convs') "
                        "and a 'readout', such as the core 'mlp' or 'cnn'")
    return list(layers)


def l1_scores(layer: nn.Module, inputs: torch.Tensor | None = None) -> torch.Tensor:
    """L1 norm of each output unit's incoming weights (a row of a Linear, a Conv filter),
    counting only the input units ``inputs`` when given."""
    w = layer.weight.detach()
    return (w if inputs is None else w[:, inputs]).abs().flatten(1).sum(1)


def _take(layer: nn.Module, rows: torch.Tensor | None, cols: torch.Tensor | None,
          swaps: dict[int, nn.Parameter]) -> None:
    """Keep only ``rows`` (output units) and ``cols`` (inputs) of ``layer``, in place."""
    w = layer.weight.detach()
    w = w[rows] if rows is not None else w
    w = w[:, cols] if cols is not None else w
    swaps[id(layer.weight)] = layer.weight = nn.Parameter(w.clone())
    if layer.bias is not None and rows is not None:
        swaps[id(layer.bias)] = layer.bias = nn.Parameter(layer.bias.detach()[rows].clone())
    out_attr, in_attr = (("out_features", "in_features") if isinstance(layer, nn.Linear)
                         else ("out_channels", "in_channels"))
    setattr(layer, out_attr, w.shape[0])
    setattr(layer, in_attr, w.shape[1])


def prune_units(model: nn.Module, keep: float) -> dict[int, nn.Parameter]:
    """Remove the lowest-L1 units of every hidden layer; return {id(old param): new param}
    (each parameter is replaced once, so the map needs no chasing)."""
    swaps: dict[int, nn.Parameter] = {}
    kept_in = None
    for layer in chain(model):
        kept = topk_mask(l1_scores(layer, kept_in), keep).nonzero().flatten()
        _take(layer, kept, kept_in, swaps)
        kept_in = kept
    _take(model.readout, None, kept_in, swaps)
    if hasattr(model, "hidden_width"):
        model.hidden_width = int(kept_in.numel())
    return swaps


class RethinkPruning(Pruning):
    """One-shot structured L1 pruning of hidden units, before training starts."""

    name = "rethink-pruning"
    Config = RethinkPruningConfig
    paper = PAPER

    def setup(self, ctx: RunContext) -> None:
        swaps = prune_units(ctx.model, self.config.keep)
        if self.config.reinit:
            for layer in [*chain(ctx.model), ctx.model.readout]:
                layer.reset_parameters()
        # the optimizer is built after setup, from these groups: point them at the new tensors
        ctx.param_groups = [{**g, "params": [swaps.get(id(p), p) for p in g["params"]]}
                            for g in ctx.param_groups]
        ctx.final_metrics["pruning/params_after"] = float(
            sum(p.numel() for p in ctx.model.parameters()))

    def prune(self, ctx: RunContext, step: int) -> None:
        """Nothing to do after a step: the removed units no longer exist."""
