"""STABLE-RPS: randomized parameter sharing with a Pareto-continuous map and scaled gradients
(Desai & Shrivastava, ICLR 2024), and the pruning-at-initialisation baselines it is compared to."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .baselines import PruneAtInit
    from .method import StableRPS

    return [StableRPS, PruneAtInit]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
