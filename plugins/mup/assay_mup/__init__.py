"""muP: the maximal-update parameterization (Yang & Hu, 2020; Yang et al., 2022)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import Mup, MupSP

    return [Mup, MupSP]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
