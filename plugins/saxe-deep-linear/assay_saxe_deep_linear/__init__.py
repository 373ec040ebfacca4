"""Deep linear networks: depth-independent learning times from orthogonal init
(Saxe, McClelland & Ganguli, 2014)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_datasets() -> list[Any]:
    from .dataset import LinearTeacher

    return [LinearTeacher]


@hookimpl
def assay_register_models() -> list[Any]:
    from .model import DeepLinear

    return [DeepLinear]


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import DeepLinearInit, FullBatchGD

    return [DeepLinearInit, FullBatchGD]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
