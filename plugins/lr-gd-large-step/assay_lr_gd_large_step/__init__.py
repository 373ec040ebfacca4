"""Logistic regression with gradient descent at large step sizes: the batch perceptron in the
limit, and Normalized LR+GD (Tyurin, 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .dataset import Separable
from .method import LrGd, MarginLoss


@hookimpl
def assay_register_datasets() -> list[Any]:
    return [Separable]


@hookimpl
def assay_register_methods() -> list[Any]:
    return [MarginLoss, LrGd]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
