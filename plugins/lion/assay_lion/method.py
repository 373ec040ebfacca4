"""The Lion optimizer, wrapping ``pytorch_optimizer.Lion`` (a maintained implementation).

Update rule (arXiv:2302.06675, Algorithm 2), for gradient g, momentum m, weights w:

    c = beta1 * m + (1 - beta1) * g          # interpolate
    w = w - lr * (sign(c) + weight_decay * w)
    m = beta2 * m + (1 - beta2) * g          # momentum uses a different beta

``tests/test_lion.py`` checks the wrapped optimizer against this rule step by step.
"""
from __future__ import annotations

from typing import Any

import torch
from assay import Optimizer, Paper

from assay_lion.config import LionConfig

PAPER = Paper(title="Symbolic Discovery of Optimization Algorithms", arxiv="2302.06675",
              year=2023)


class Lion(Optimizer):
    """Lion (EvoLved Sign Momentum)."""

    name = "lion"
    Config = LionConfig
    paper = PAPER

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        from assay.lib.optim import scaled_groups
        from pytorch_optimizer import Lion as _Lion

        c = self.config
        return _Lion(scaled_groups(param_groups, c.lr, c.weight_decay), lr=c.lr,
                     betas=(c.beta1, c.beta2), weight_decouple=True)
