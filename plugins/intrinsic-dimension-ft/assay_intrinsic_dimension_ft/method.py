"""Random-subspace fine-tuning as an adapter: theta = theta_0 + P z, with theta_0 the weights
the model has when the adapter is applied (after a ``pretrain:`` block's weights are loaded,
or the random initialisation without one), P a fixed dense Gaussian D x d projection with
unit-length columns, and z (d numbers, starting at zero) the only trainable tensor
(arXiv:2012.13255, its definition of intrinsic dimension, with the dense projection of Li
et al., arXiv:1804.08838).

The subspace itself is ``assay.lib.subspace`` (shared with the ``intrinsic-dim``
parameterization, which applies before pretrained weights are loaded and so cannot measure
fine-tuning); this adapter applies after them.
"""
from __future__ import annotations

from typing import Any, ClassVar

from assay import Adapter, Data, Paper
from assay.lib.subspace import attach_subspace
from torch import nn

from assay_intrinsic_dimension_ft.config import SubspaceAdapterConfig

PAPER = Paper(title="Intrinsic Dimensionality Explains the Effectiveness of Language Model "
                    "Fine-Tuning", arxiv="2012.13255", year=2020)


class SubspaceAdapter(Adapter):
    """Freeze every weight at its current value and train a random d-dimensional offset."""

    name = "intrinsic-dim-ft"
    Config = SubspaceAdapterConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"adapter": {"name": "intrinsic-dim-ft", "dim": 64},
                    "optimizer": {"name": "adamw", "lr": 1e-2, "weight_decay": 0.0}}}

    def apply(self, model: nn.Module, data: Data) -> nn.Module:
        attach_subspace(model, self.config.dim, self.config.normalize)
        return model
