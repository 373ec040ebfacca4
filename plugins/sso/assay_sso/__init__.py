"""SSO: stochastic surrogate optimization in target space (Lavington et al., 2023)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import SSO


@hookimpl
def assay_register_methods() -> list[Any]:
    return [SSO]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
