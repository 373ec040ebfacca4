"""The diffGrad optimizer, wrapping ``pytorch_optimizer.DiffGrad`` (a maintained implementation).

Update rule (arXiv:1909.11015, the diffGrad algorithm), for gradient g_t, the previous gradient
g_{t-1} (zero before the first step) and weights w:

    m = beta1 * m + (1 - beta1) * g_t            # Adam's first moment
    v = beta2 * v + (1 - beta2) * g_t ** 2       # Adam's second moment
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    xi = sigmoid(|g_{t-1} - g_t|)                # the "friction" coefficient, in [0.5, 1)
    w = w - lr * xi * m_hat / (sqrt(v_hat) + eps)

(eps is in fact added to sqrt(v) before the bias correction, as in the authors' code; the
difference is of order eps.)

So diffGrad is Adam with a per-coordinate step between half and the full Adam step: small
where consecutive gradients agree (near a flat optimum), full where they change quickly.
Weight decay here is decoupled (AdamW-style). ``tests/test_diffgrad.py`` checks the wrapped
optimizer against these equations step by step.
"""
from __future__ import annotations

from typing import Any

import torch
from assay import Optimizer, Paper

from assay_diffgrad.config import DiffGradConfig

PAPER = Paper(title="diffGrad: An Optimization Method for Convolutional Neural Networks",
              arxiv="1909.11015", year=2019)


class DiffGrad(Optimizer):
    """diffGrad: Adam with a friction coefficient sigmoid(|g_{t-1} - g_t|) on every step."""

    name = "diffgrad"
    Config = DiffGradConfig
    paper = PAPER

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        from assay.lib.optim import scaled_groups
        from pytorch_optimizer import DiffGrad as _DiffGrad

        c = self.config
        return _DiffGrad(scaled_groups(param_groups, c.lr, c.weight_decay), lr=c.lr,
                         betas=(c.beta1, c.beta2), eps=c.eps, weight_decouple=True)
