"""The configs of tract's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay.lib.configs import InnerConfig
from pydantic import Field


class TrActConfig(InnerConfig):
    """Paper: https://arxiv.org/abs/2410.23970 - the first layer's weight gradient is
    preconditioned by (x^T x / n + lambda I)^-1 so its pre-activations train like an
    embedding's."""

    lam: float = Field(0.1, gt=0, le=1e6, description="lambda: ridge strength; the paper's "
                                                        "default 0.1 (large: plain training "
                                                        "with lr / lambda)")
    layer: str | None = Field(None, description="Dotted module name of the layer to change "
                                                "(None: the first Linear/Conv in the model)")
