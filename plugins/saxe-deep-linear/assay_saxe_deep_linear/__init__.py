"""Deep linear networks: depth-independent learning times from orthogonal init
(Saxe, McClelland & Ganguli, 2014)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .dataset import LinearTeacher
from .method import DeepLinearInit, FullBatchGD
from .model import DeepLinear


@hookimpl
def assay_register_datasets() -> list[Any]:
    return [LinearTeacher]


@hookimpl
def assay_register_models() -> list[Any]:
    return [DeepLinear]


@hookimpl
def assay_register_methods() -> list[Any]:
    return [DeepLinearInit, FullBatchGD]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
