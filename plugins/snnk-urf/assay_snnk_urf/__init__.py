"""Scalable neural network kernels (SNNKs) and universal random features (URFs)
(Sehanobish, Choromanski et al., 2024): a feedforward layer f(Wx + b) written as a dot product
of a random feature map of the input and one of the weights."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import URFEstimate
from .model import SNNKMLP


@hookimpl
def assay_register_methods() -> list[Any]:
    return [URFEstimate]


@hookimpl
def assay_register_models() -> list[Any]:
    return [SNNKMLP]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
