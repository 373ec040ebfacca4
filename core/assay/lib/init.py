"""Weight initialisations plugins share (public).

``init_weights`` re-initialises every ``nn.Linear`` of a model as a random (semi-)orthogonal
matrix times ``gain`` (all singular values equal to ``gain``; Saxe et al., arXiv:1312.6120,
Sec. 4-5) or i.i.d. Gaussian with variance gain^2 / fan_in (so that a weight vector has norm
about ``gain``, the scale in which Advani & Saxe, arXiv:1710.03667, state the size of the
initial weights). Biases become zero.
"""
from __future__ import annotations

import math
from typing import Literal

from torch import nn

__all__ = ["init_weights"]


def init_weights(model: nn.Module, init: Literal["orthogonal", "gaussian"], gain: float) -> None:
    """Re-initialise every Linear layer of ``model`` in place (see the module docstring)."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            if init == "orthogonal":
                nn.init.orthogonal_(module.weight, gain=gain)
            else:
                nn.init.normal_(module.weight, std=gain / math.sqrt(module.in_features))
            if module.bias is not None:
                nn.init.zeros_(module.bias)
