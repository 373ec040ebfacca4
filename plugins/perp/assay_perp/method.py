"""PERP: retrain only a tiny, expressive subset of parameters after pruning (Zimmer et al.,
2023).

Magnitude pruning a trained network breaks it in two ways: weights are gone, and every
activation statistic downstream shifts, so normalisation layers and biases no longer centre and
scale what reaches them. The paper's point is that the second damage is most of it: retraining
only the biases and the normalisation layers' affine parameters (well under 1% of a GPT, ~1% of
our CNN) recovers about what retraining every weight recovers.

Two components:

- ``perp-one-shot`` (pruning slot): at the start of the run, remove the smallest-magnitude
  share of the Linear/Conv weights at once (one global threshold by default) and keep the mask
  fixed, re-applying it after every optimizer step. Before and after pruning it records the
  validation numbers (``prune/dense/val/*``, ``prune/pruned/val/*``): the un-retrained
  baseline each retraining is measured from.
- ``perp`` (adapter slot): freeze everything except the chosen parameter groups (biases and
  normalisation parameters by default), so only they are retrained. Normalisation layers still
  update their running statistics in training mode.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from assay import Adapter, Data, Paper, Pruning
from assay.lib.pruning import apply_masks, magnitude_masks, prunable, sparsity_metrics
from torch import nn

from assay_perp.config import OneShotConfig, Part, PERPConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="PERP: Rethinking the Prune-Retrain Paradigm in the Era of LLMs",
              arxiv="2312.15230", year=2023)

NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)


def retrained_parameters(model: nn.Module, parts: set[str]) -> dict[str, nn.Parameter]:
    """The parameters PERP retrains, by name: ``norm`` takes every parameter of a
    normalisation layer, ``bias`` every other module's bias, ``readout`` the model's output
    layer (core models expose it as ``readout``)."""
    readout = getattr(model, "readout", None)
    out: dict[str, nn.Parameter] = {}
    for mod_name, module in model.named_modules():
        prefix = f"{mod_name}." if mod_name else ""
        for p_name, p in module.named_parameters(recurse=False):
            is_norm = isinstance(module, NORMS)
            if (("norm" in parts and is_norm) or ("bias" in parts and p_name == "bias"
                                                  and not is_norm)
                    or ("readout" in parts and module is readout)):
                out[prefix + p_name] = p
    return out


class PERP(Adapter):
    """Freeze the model except biases and normalisation parameters (parameter-efficient
    retraining after pruning)."""

    name = "perp"
    Config = PERPConfig
    paper = PAPER

    def apply(self, model: nn.Module, data: Data) -> nn.Module:
        keep = {id(p) for p in retrained_parameters(model, set(self.config.parts)).values()}
        for p in model.parameters():
            p.requires_grad_(id(p) in keep)
        return model


class OneShotPruning(Pruning):
    """Prune once, before the first step, by weight magnitude; keep the mask fixed."""

    name = "perp-one-shot"
    Config = OneShotConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"pruning": {"name": "perp-one-shot", "sparsity": 0.5}}}

    def setup(self, ctx: RunContext) -> None:
        c = self.config
        self.params = prunable(ctx.model, c.include_readout)
        record = ctx.final_metrics
        record.update({f"prune/dense/{k}": v for k, v in ctx.evaluate().items()})
        self.masks = magnitude_masks(self.params, c.sparsity, c.scope)
        apply_masks(self.params, self.masks)
        record.update({f"prune/pruned/{k}": v for k, v in ctx.evaluate().items()})

    def prune(self, ctx: RunContext, step: int) -> None:
        apply_masks(self.params, self.masks)

    def after_train(self, ctx: RunContext) -> None:
        ctx.final_metrics.update(sparsity_metrics(ctx.model, self.params, self.config.sparsity))
