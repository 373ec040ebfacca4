"""The configs of pissa's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay.lib.configs import LoRAConfig
from pydantic import Field


class PiSSAConfig(LoRAConfig):
    """Paper: https://arxiv.org/abs/2404.02948 - LoRA whose factors start as the principal
    singular triplets of W; the rest of W is kept frozen as a residual."""

    niter: int = Field(0, ge=0, le=64, description="0: exact SVD; k > 0: randomized SVD with k "
                                                   "subspace iterations (fast init)")
