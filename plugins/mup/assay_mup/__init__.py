"""muP: the maximal-update parameterization (Yang & Hu, 2020; Yang et al., 2022)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import Mup, MupSP


@hookimpl
def assay_register_methods() -> list[Any]:
    return [Mup, MupSP]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
