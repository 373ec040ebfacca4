"""Cut Cross-Entropy: the loss from features and classifier, tile by tile (Wijmans et al., 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .dataset import LargeVocabTokens
from .method import CutCrossEntropy


@hookimpl
def assay_register_methods() -> list[Any]:
    return [CutCrossEntropy]


@hookimpl
def assay_register_datasets() -> list[Any]:
    return [LargeVocabTokens]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
