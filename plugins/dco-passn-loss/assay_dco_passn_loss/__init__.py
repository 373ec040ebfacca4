"""Direct coverage optimization: a loss aligned with pass@N, which limits confidence (Chen et
al., 2025)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import CoverageLoss

    return [CoverageLoss]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
