"""Activating-while-Pruning (AP; Liu, Ghosh, Tan and Motani, TMLR 2023).

ReLU networks leave many units at zero for any given input. The paper measures this as the
dynamic dead neuron rate (DNR): the share of hidden units a ReLU outputs as zero, over the
inputs seen while the network trains. It finds that pruned networks suffer from it, and that
the DNR falls as pruning proceeds. AP lowers it on purpose: in every pruning round it hands a
small share of the weights to be removed to its own rule instead of the base criterion, and
that rule removes negative weights - a negative weight can only push a unit towards zero - and
among them those that moved least during the round's training, the ones training has least
use for. AP is an add-on, not a criterion: here it rides on iterative global magnitude pruning
with rewinding to the initial weights (lottery-ticket IMP).

``activating-while-pruning`` extends pqi-sap-pruning's iterative-pruning trainer (rounds of
training, each from the initial weights under the current mask with a fresh optimizer, then
pruning ``fixed_ratio`` of the retained weights). With ``ap_share`` s, a round that removes n
weights removes n - round(s n) by global magnitude and round(s n) by AP; ``ap_share: 0`` is
plain IMP. Every round also records its dynamic DNR (``round/<t>/dnr``), counted from the
outputs of every ReLU module in every training forward pass of the round.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Paper
from assay.lib.pruning import magnitude_masks
from assay_pqi_sap_pruning.method import IterativePruning
from torch import nn

from assay_activating_while_pruning.config import APConfig

if TYPE_CHECKING:
    from typing import Self

    from assay import RunContext
    from assay.lib.pruning import Masks

PAPER = Paper(title="AP: Selective Activation for De-sparsifying Pruned Neural Networks",
              arxiv="2212.06145", year=2023)


class DeadCounter:
    """Counts zero outputs of every ReLU module of ``model`` in training-mode forward passes
    (evaluation passes are left out): the dynamic dead neuron rate of the passes seen."""

    def __init__(self, model: nn.Module) -> None:
        self.model, self.zeros, self.total, self.handles = model, 0, 0, []

    def __enter__(self) -> Self:
        relus = [m for m in self.model.modules() if isinstance(m, nn.ReLU)]
        self.handles = [m.register_forward_hook(self.count) for m in relus]
        return self

    def count(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        if module.training:
            self.zeros += int((output == 0).sum())
            self.total += output.numel()

    def __exit__(self, *exc: object) -> None:
        for h in self.handles:
            h.remove()

    @property
    def rate(self) -> float:
        return self.zeros / self.total if self.total else float("nan")


def ap_masks(params: dict[str, torch.Tensor], masks: Masks, start: dict[str, torch.Tensor],
             n: int) -> Masks:
    """Remove the ``n`` retained negative weights that moved least from ``start`` (the round's
    starting weights), or every retained negative weight when there are fewer; ties go to the
    lower index over the concatenated layers."""
    names = list(params)
    w = torch.cat([params[k].detach().flatten() for k in names])
    moved = torch.cat([(params[k].detach() - start[k]).abs().flatten() for k in names])
    keep = torch.cat([masks[k].flatten() for k in names])
    eligible = torch.nonzero(keep & (w < 0)).flatten()
    order = torch.sort(moved[eligible], stable=True).indices
    keep = keep.clone()
    keep[eligible[order[:n]]] = False
    out, at = {}, 0
    for k in names:
        out[k] = keep[at:at + params[k].numel()].view_as(params[k])
        at += params[k].numel()
    return out


class ActivatingWhilePruning(IterativePruning):
    """Iterative global magnitude pruning with AP's removal of slow-moving negative weights."""

    name = "activating-while-pruning"
    Config = APConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"trainer": {"name": "activating-while-pruning", "rounds": 1,
                                "fixed_ratio": 0.2}}}

    def train_round(self, ctx: RunContext, params: dict[str, nn.Parameter], masks: Masks,
                    t: int, step: int, n_steps: int) -> int:
        """The base round, with its starting weights kept (AP's movement) and its ReLU outputs
        counted (the round's dynamic DNR)."""
        self.round_, self.start = t, {k: p.detach().clone() for k, p in params.items()}
        with DeadCounter(ctx.model) as dead:
            step = super().train_round(ctx, params, masks, t, step, n_steps)
        self.dnr = dead.rate
        return step

    def record(self, ctx: RunContext, params: dict[str, nn.Parameter], masks: Masks,
               t: int) -> None:
        super().record(ctx, params, masks, t)
        ctx.final_metrics[f"round/{t}/dnr"] = self.dnr
        ctx.final_metrics[f"round/{t}/ap_shortfall"] = float(getattr(self, "shortfall", 0))

    def ap_count(self, n_kept: int) -> int:
        """How many of this pruning round's removals AP chooses (pruning round = round_ + 1)."""
        c = self.config
        if self.round_ + 1 < c.ap_from:
            return 0
        return round(c.ap_share * round(c.fixed_ratio * n_kept))

    def n_prune(self, kept: torch.Tensor) -> int:
        """The magnitude part: the round's removals less AP's."""
        return super().n_prune(kept) - self.ap_count(kept.numel())

    def next_masks(self, params: dict[str, nn.Parameter], masks: Masks) -> Masks:
        """Magnitude pruning of the round's removals less AP's, then AP's. When fewer negative
        weights are left than AP's share, magnitude pruning removes the rest (``shortfall``,
        recorded with the next round), so both arms always reach the same density."""
        n_ap = self.ap_count(sum(int(m.sum()) for m in masks.values()))
        masks = super().next_masks(params, masks)
        if not n_ap:
            self.shortfall = 0
            return masks
        before = sum(int(m.sum()) for m in masks.values())
        masks = ap_masks(params, masks, self.start, n_ap)
        self.shortfall = n_ap - (before - sum(int(m.sum()) for m in masks.values()))
        if not self.shortfall:
            return masks
        size = sum(m.numel() for m in masks.values())
        scores = {k: params[k].detach().abs() * masks[k] for k in params}
        return magnitude_masks(scores, 1 - (before - n_ap) / size, "global")
