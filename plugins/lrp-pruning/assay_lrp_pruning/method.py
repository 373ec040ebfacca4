"""Pruning by explaining (Yeom et al., 2021): after a model has been adapted to a small task,
remove the conv filters that carry the least LRP relevance for that task, computed on a handful
of reference examples, and do not fine-tune afterwards.

The ``lrp-filter-pruning`` method sits in the pruning slot and acts once, after the run's last
step (so the run's final evaluation is the pruned model): it draws ``per_class`` reference
examples of every class from the training split (the same ones for every criterion, given the
seed), scores every filter of every conv layer by the chosen criterion, and removes the
lowest-scoring ``ratio`` of each layer's filters (weights and bias set to zero, so the filter's
map is exactly zero after the ReLU). The other criteria - L1 norm of the kernel, first-order
Taylor, random - are the paper's baselines. Before pruning it records the dense accuracy and the
accuracy after removing each share in ``curve`` (same criterion, no fine-tuning).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Paper, Pruning
from assay.lib.pruning import topk_mask

from assay_lrp_pruning.config import ConvRule, Criterion, FilterPruningConfig

from .lrp import (
    check_plain_cnn,
    l1_filter_scores,
    lrp_filter_relevance,
    taylor_filter_scores,
)

if TYPE_CHECKING:
    from assay import RunContext
    from torch import nn

PAPER = Paper(title="Pruning by Explaining: A Novel Criterion for Deep Neural Network Pruning",
              arxiv="1912.08881", year=2021)


class FilterPruning(Pruning):
    """Remove the lowest-scoring conv filters once, after training (no fine-tuning)."""

    name = "lrp-filter-pruning"
    Config = FilterPruningConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "dataset": {"name": "digits", "classes": [0, 1, 2]},
        "model": {"name": "cnn", "channels": 4, "depth": 2},
        # ratio 0 keeps the contract about the run (loss falls, seeds repeat); the curve still
        # prunes, evaluates and restores the model on the way
        "methods": {"pruning": {"name": "lrp-filter-pruning", "per_class": 2, "ratio": 0.0,
                                "curve": [0.5]}}}

    def setup(self, ctx: RunContext) -> None:
        check_plain_cnn(ctx.model)

    def prune(self, ctx: RunContext, step: int) -> None:
        if step != ctx.total_steps:
            return
        was_training = ctx.model.training
        ctx.model.eval()
        scores = self.scores(ctx)
        ctx.final_metrics.update({f"prune/dense/{k.replace('/', '_')}": v
                                  for k, v in ctx.evaluate().items()})  # val/acc -> prune/dense/val_acc
        dense = {k: v.detach().clone() for k, v in ctx.model.state_dict().items()}
        for share in self.config.curve:
            remove_filters(ctx.model, filter_masks(scores, 1 - share))
            ctx.final_metrics[f"prune/curve/{share:g}/val_acc"] = ctx.evaluate().get(
                "val/acc", float("nan"))
            ctx.model.load_state_dict(dense)
        masks = filter_masks(scores, 1 - self.config.ratio)
        remove_filters(ctx.model, masks)
        ctx.final_metrics.update({"prune/ratio": self.config.ratio,
                                  "prune/filters_removed": float(sum(int((~m).sum())
                                                                     for m in masks)),
                                  "prune/n_reference": float(len(self.reference(ctx)[1]))})
        ctx.model.train(was_training)

    def reference(self, ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor]:
        """``per_class`` training examples of every class present, drawn with the run's seed
        (a generator of its own, so every criterion of a seed sees the same examples)."""
        x, y = ctx.data.train
        gen = torch.Generator().manual_seed(ctx.run.seed)
        picks = []
        for c in torch.unique(y).tolist():
            idx = torch.nonzero(y == c).flatten()
            picks.append(idx[torch.randperm(len(idx), generator=gen)[:self.config.per_class]])
        idx = torch.cat(picks)
        return x[idx].to(ctx.device), y[idx].to(ctx.device)

    def scores(self, ctx: RunContext) -> list[torch.Tensor]:
        """One score per filter of every conv layer (higher: keep)."""
        c, model = self.config, ctx.model
        if c.criterion == "l1":
            return l1_filter_scores(model)
        if c.criterion == "random":
            gen = torch.Generator().manual_seed(ctx.run.seed)
            return [torch.rand(conv.out_channels, generator=gen) for conv in model.convs]
        x, y = self.reference(ctx)
        if c.criterion == "taylor":
            return taylor_filter_scores(model, x, y)
        return [r.mean(0) for r in lrp_filter_relevance(model, x, y, c.eps, c.conv_rule)]


def filter_masks(scores: list[torch.Tensor], density: float) -> list[torch.Tensor]:
    """Per layer, keep the ``density`` share of filters with the highest scores."""
    return [topk_mask(s, density) for s in scores]


@torch.no_grad()
def remove_filters(model: nn.Module, masks: list[torch.Tensor]) -> None:
    """Zero the kernel and bias of every removed filter: its map is then zero after the ReLU,
    as if the filter (and the next layer's weights reading it) were cut out."""
    for conv, keep in zip(model.convs, masks):
        conv.weight[~keep] = 0.0
        if conv.bias is not None:
            conv.bias[~keep] = 0.0
