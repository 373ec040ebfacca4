"""Scalable neural network kernels (SNNKs) and universal random features (URFs)
(Sehanobish, Choromanski et al., 2024): a feedforward layer f(Wx + b) written as a dot product
of a random feature map of the input and one of the weights."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import URFEstimate

    return [URFEstimate]


@hookimpl
def assay_register_models() -> list[Any]:
    from .model import SNNKMLP

    return [SNNKMLP]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
