"""Cut Cross-Entropy: the training loss from features and classifier, without the logits.

A language model's loss usually builds the (tokens x vocabulary) logit matrix, then its
log-softmax, then its gradient: three (N, V) tensors, which dominate training memory when the
vocabulary is large. This loss takes the model's last hidden features (``model.features(x)``)
and its output layer (``model.readout``) and computes the same cross-entropy tile by tile
(see ``_blockwise.py``), so memory grows with one tile instead of N x V.

``impl: materialized`` is the ordinary loss on full logits, kept as the baseline arm.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from assay import Config, Data, Loss, Paper, UserError
from torch import nn

from assay_cut_cross_entropy.config import CutCrossEntropyConfig

from ._blockwise import linear_cross_entropy
from ._memory import peak_memory

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="Cut Your Losses in Large-Vocabulary Language Models", arxiv="2411.09009",
              year=2024)


class CutCrossEntropy(Loss):
    """Cross-entropy accumulated over vocabulary and token tiles (Cut Cross-Entropy)."""

    name = "cut-cross-entropy"
    Config = CutCrossEntropyConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"loss": {"name": "cut-cross-entropy", "vocab_block": 3, "token_block": 16},
                    "optimizer": {"name": "adamw", "lr": 1e-2}},
    }

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self.stats: dict[str, int] = {}

    def compute(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                data: Data) -> torch.Tensor:
        features, readout = _parts(model, data)
        e = features(x)                                    # (B, D) or (B, T, D)
        return self.from_features(e.reshape(-1, e.shape[-1]), readout.weight, readout.bias,
                                  y.reshape(-1))

    def from_features(self, e: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None,
                      y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of ``F.linear(e, w, b)`` against ``y`` with the configured impl."""
        c = self.config
        if c.impl == "materialized":
            return F.cross_entropy(F.linear(e, w, b), y)
        return linear_cross_entropy(e, w, b, y, token_block=c.token_block,
                                    vocab_block=c.vocab_block, filter_eps=c.filter_eps,
                                    stats=self.stats)

    def setup(self, ctx: RunContext) -> None:
        _parts(ctx.model, ctx.data)                        # fail before training, not at step 1
        if self.config.measure_memory:
            ctx.final_metrics.update(self.measure(ctx))

    def measure(self, ctx: RunContext) -> dict[str, float]:
        """Peak memory and time of one loss forward+backward on a fixed training batch, with
        the features and classifier as leaves (so only the loss's own memory is counted)."""
        features, readout = _parts(ctx.model, ctx.data)
        x, y = ctx.data.train
        per_example = y[0].numel()
        n = min(x.shape[0], -(-self.config.measure_tokens // per_example))
        idx = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(ctx.run.seed))[:n]
        with torch.no_grad():
            e = features(x[idx].to(ctx.device))
        e = e.reshape(-1, e.shape[-1]).detach().requires_grad_()
        w = readout.weight.detach().clone().requires_grad_()
        b = None if readout.bias is None else readout.bias.detach().clone().requires_grad_()
        target = y[idx].reshape(-1).to(ctx.device)
        value: list[float] = []

        def step() -> None:
            loss = self.from_features(e, w, b, target)
            loss.backward()
            value.append(float(loss.detach()))
            e.grad = w.grad = None
            if b is not None:
                b.grad = None

        peak_mb, seconds = peak_memory(step, ctx.device)
        return {"loss/peak_mb": peak_mb, "loss/fwd_bwd_s": seconds, "loss/probe_value": value[0],
                "loss/probe_tokens": float(target.numel())}

    def after_step(self, ctx: RunContext, step: int) -> None:
        if step == ctx.total_steps and self.config.filter_eps > 0 and self.stats.get("tiles"):
            ctx.final_metrics["loss/filtered_tiles"] = self.stats["skipped"] / self.stats["tiles"]


def _parts(model: nn.Module, data: Data) -> tuple[Any, nn.Linear]:
    if data.task == "regression":
        raise UserError("loss 'cut-cross-entropy' is a classification / language-model loss; "
                        "the dataset is a regression task")
    readout, features = getattr(model, "readout", None), getattr(model, "features", None)
    if not isinstance(readout, nn.Linear) or not callable(features):
        raise UserError("loss 'cut-cross-entropy' needs a model exposing `features(x)` and an "
                        "nn.Linear `readout` (the core mlp, cnn and transformer do)")
    return features, readout
