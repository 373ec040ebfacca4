"""Subspace training from the random initialisation: theta = theta_0 + P z with a fixed random
projection P (D x d), in the ``parameterization`` slot. The subspace itself (frozen theta_0,
unit-length Gaussian columns, attached with ``torch.nn.utils.parametrize``) is
``assay.lib.subspace``, shared with the fine-tuning variant (intrinsic-dimension-ft).
"""
from __future__ import annotations

from typing import Any

from assay import Data, Paper, Parameterization
from assay.lib.subspace import attach_subspace, random_projection
from torch import nn

from assay_intrinsic_dim.config import IntrinsicDimConfig

__all__ = ["IntrinsicDim", "IntrinsicDimConfig", "attach_subspace", "random_projection"]

PAPER = Paper(title="Measuring the Intrinsic Dimension of Objective Landscapes",
              arxiv="1804.08838", year=2018)


class IntrinsicDim(Parameterization):
    """Random-subspace training: only the d coordinates ``z`` are trained."""

    name = "intrinsic-dim"
    Config = IntrinsicDimConfig
    paper = PAPER

    def apply(self, model: nn.Module, data: Data) -> list[dict[str, Any]]:
        subspace = attach_subspace(model, self.config.dim, self.config.normalize)
        return [{"params": [subspace.z]}]
