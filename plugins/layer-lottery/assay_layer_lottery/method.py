"""Layer tickets at initialisation (Jordao et al., 2023), and filter tickets to compare.

Lottery tickets are usually found by pruning weights or filters of a trained network. The
paper prunes whole layers instead, and at initialisation: score the residual blocks of a fresh
network with a pruning-at-initialisation criterion, remove the lowest-scoring half, and train
the shallower network from the same initial weights. It finds these layer tickets win (they
match the dense network) while training markedly faster, whereas filter tickets at the same
cost rarely win.

Two components in the ``pruning`` slot, both acting once in ``setup`` (before the optimizer
is built) on the core ``cnn`` with ``residual: true``:

- ``layer-lottery``: remove ``remove`` of the residual blocks by a criterion scored at
  initialisation (GraSP by default, SNIP, or random), keeping the others' initial weights.
  ``remove: 0`` removes nothing: the dense baseline, measured the same way.
- ``layer-lottery-filters``: keep ``channels`` of the channels in every layer (one set, since
  the residual stream adds the layers' outputs), chosen by the L1 norm of their initial filters
  (or at random), keeping the initial values.

Both record the convolutions' multiply-accumulates per example before and after the cut, and
how long the training phase took (from the end of ``setup`` to ``after_train``), as wall-clock
(``cost/train_phase_s``) and as the training thread's CPU time (``cost/train_phase_cpu_s``,
which other jobs on a shared machine inflate far less).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Paper, Pruning, UserError

from assay_layer_lottery.config import Criterion, FilterLotteryConfig, LayerLotteryConfig

from .tickets import (
    block_importance,
    channel_importance,
    conv_macs,
    keep_channels,
    remove_blocks,
    residual_cnn,
)

if TYPE_CHECKING:
    from assay import RunContext
    from torch import nn

PAPER = Paper(title="When Layers Play the Lottery, all Tickets Win at Initialization",
              arxiv="2301.10835", year=2023)

CONTRACT = {"dataset": {"name": "mnist1d", "n_train": 256, "n_val": 128},
            "model": {"name": "cnn", "channels": 8, "depth": 5, "kernel_size": 3,
                      "norm": "batch", "residual": True}}


def regroup(groups: list[dict[str, Any]], before: dict[str, nn.Parameter],
            after: dict[str, nn.Parameter]) -> list[dict[str, Any]]:
    """The optimizer's parameter groups after surgery: parameters still in the model stay,
    removed ones leave, and a replaced parameter (same name, new tensor) takes its
    predecessor's group, so a parameterization's multipliers survive."""
    kept, old_ids = {id(p) for p in after.values()}, {id(p) for p in before.values()}
    name_of = {id(p): n for n, p in before.items()}
    replaced = {n: p for n, p in after.items() if id(p) not in old_ids}
    out = []
    for group in groups:
        params = [p if id(p) in kept else replaced.get(name_of.get(id(p), ""))
                  for p in group["params"]]
        out.append({**group, "params": [p for p in params if p is not None]})
    return [g for g in out if g["params"]]


class Ticket(Pruning):
    """Shared by both tickets: the cut in ``setup``, then the clock on the training phase."""

    def cut(self, ctx: RunContext) -> None:
        raise NotImplementedError

    def setup(self, ctx: RunContext) -> None:
        residual_cnn(ctx.model)
        example = ctx.data.train[0][:1].to(ctx.device)
        before = dict(ctx.model.named_parameters())
        record = ctx.final_metrics
        record["lottery/dense_conv_macs"] = conv_macs(ctx.model, example)
        started = time.perf_counter()
        self.cut(ctx)
        record["cost/ticket_cut_s"] = time.perf_counter() - started
        ctx.param_groups = regroup(ctx.param_groups, before, dict(ctx.model.named_parameters()))
        record["lottery/conv_macs"] = conv_macs(ctx.model, example)
        self.clock = (time.perf_counter(), time.thread_time())

    def prune(self, ctx: RunContext, step: int) -> None:
        """Nothing after a step: the ticket is fixed at initialisation."""

    def after_train(self, ctx: RunContext) -> None:
        wall, cpu = self.clock
        ctx.final_metrics["cost/train_phase_s"] = time.perf_counter() - wall
        ctx.final_metrics["cost/train_phase_cpu_s"] = time.thread_time() - cpu


class LayerLottery(Ticket):
    """Remove the lowest-scoring residual blocks at initialisation (a layer ticket)."""

    name = "layer-lottery"
    Config = LayerLotteryConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        **CONTRACT, "methods": {"pruning": {"name": "layer-lottery", "remove": 0.5}}}

    def cut(self, ctx: RunContext) -> None:
        n_blocks = len(residual_cnn(ctx.model)[0]) - 1
        n_drop = round(self.config.remove * n_blocks)
        drop: list[int] = []
        if n_drop:
            importance = self.score(ctx)
            drop = sorted(torch.sort(importance, stable=True).indices[:n_drop].tolist())
            remove_blocks(ctx.model, set(drop))
        ctx.final_metrics.update({"lottery/blocks": float(n_blocks - n_drop),
                                  "lottery/blocks_removed": float(n_drop),
                                  **{f"lottery/removed/{i}": 1.0 for i in drop}})

    def score(self, ctx: RunContext) -> torch.Tensor:
        """Block importance on a fixed sample of training examples (its own generator, so
        scoring changes neither the batches nor the normalisation statistics of the run)."""
        gen = torch.Generator().manual_seed(ctx.run.seed + 7_919)
        x, y = ctx.data.train
        idx = torch.randperm(len(x), generator=gen)[:self.config.score_examples]
        xs, ys = x[idx].to(ctx.device), y[idx].to(ctx.device)
        buffers = {k: v.clone() for k, v in ctx.model.named_buffers()}
        importance = block_importance(ctx.model, lambda: ctx.loss(ctx.model, xs, ys),
                                      self.config.criterion, gen)
        for k, v in ctx.model.named_buffers():
            v.copy_(buffers[k])
        return importance


class FilterLottery(Ticket):
    """Keep ``channels`` channels in every layer at initialisation (a filter ticket)."""

    name = "layer-lottery-filters"
    Config = FilterLotteryConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        **CONTRACT, "methods": {"pruning": {"name": "layer-lottery-filters", "channels": 5}}}

    def cut(self, ctx: RunContext) -> None:
        width = residual_cnn(ctx.model)[0][0].out_channels
        if self.config.channels > width:
            raise UserError(f"methods.pruning.channels ({self.config.channels}) exceeds the "
                            f"model's {width} channels")
        if self.config.criterion == "l1":
            score = channel_importance(ctx.model)
        else:
            gen = torch.Generator().manual_seed(ctx.run.seed + 7_919)
            score = torch.rand(width, generator=gen)
        keep = torch.sort(torch.sort(score, descending=True, stable=True).indices[
            :self.config.channels]).values
        keep_channels(ctx.model, keep)
        ctx.final_metrics["lottery/channels"] = float(len(keep))
