"""AdAdaGrad: batch sizes that grow by the norm test, for AdaGrad-Norm (Lau et al., 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import AdaGradNorm, AdaptiveBatch

    return [AdaGradNorm, AdaptiveBatch]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
