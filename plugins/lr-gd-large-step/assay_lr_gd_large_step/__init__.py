"""Logistic regression with gradient descent at large step sizes: the batch perceptron in the
limit, and Normalized LR+GD (Tyurin, 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_datasets() -> list[Any]:
    from .dataset import Separable

    return [Separable]


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import LrGd, MarginLoss

    return [MarginLoss, LrGd]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
