"""The task losses every run uses unless a ``loss`` method replaces them (public)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from assay.kinds import Data

__all__ = ["default_loss"]


def default_loss(output: torch.Tensor, y: torch.Tensor, data: Data) -> torch.Tensor:
    """Mean squared error for regression; cross-entropy over the last axis otherwise
    (classification, and language modelling with ``(batch, time, vocab)`` outputs)."""
    if data.task == "regression":
        return F.mse_loss(output, y)
    return F.cross_entropy(output.reshape(-1, output.shape[-1]), y.reshape(-1))
