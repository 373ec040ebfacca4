"""Cut Cross-Entropy: the loss from features and classifier, tile by tile (Wijmans et al., 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import CutCrossEntropy

    return [CutCrossEntropy]


@hookimpl
def assay_register_datasets() -> list[Any]:
    from .dataset import LargeVocabTokens

    return [LargeVocabTokens]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
