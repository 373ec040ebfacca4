"""GradNormLoRP's weight normalisation, as a parameterization; its low-rank gradient
projection is fira's GaLore (``fira-galore``), used unchanged in the optimizer slot.

Every hidden linear layer's weight is reparameterised row by row (one row per output unit):

    W = g * V / ||V||_row        g: (out, 1) magnitudes,  V: (out, in) directions

initialised at ``V = W``, ``g = ||W||_row`` so the network computes the same function. The
gradient reaching ``V`` is the weight gradient ``G`` with each row's component along ``V``
removed and scaled by ``g / ||V||``:

    dL/dV_i = (g_i / ||V_i||) (G_i - (G_i . v_i) v_i),   v_i = V_i / ||V_i||

which is the better-conditioned gradient the paper credits for faster convergence. GaLore
then keeps Adam's moments of ``V`` (a matrix) in a rank-r subspace of that gradient;
``g`` (a column) gets plain Adam. This is ``torch.nn.utils.parametrizations.weight_norm``
(``dim=0``), a maintained implementation; ``tests/test_gradnormlorp.py`` checks the function,
the gradient above and the low-rank state by hand.
"""
from __future__ import annotations

from typing import Any, ClassVar

from assay import Data, Paper, Parameterization
from torch import nn

from assay_gradnormlorp.config import WeightNormConfig

PAPER = Paper(title="Gradient Weight-normalized Low-rank Projection for Efficient LLM Training "
                    "(github.com/Jhhuangkay/Gradient-Weight-normalized-Low-rank-Projection-"
                    "for-Efficient-LLM-Training)")


class WeightNorm(Parameterization):
    """Row-wise weight normalisation of every ``nn.Linear`` (the readout only on request)."""

    name = "gradnormlorp"
    Config = WeightNormConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"parameterization": {"name": "gradnormlorp"},
                    "optimizer": {"name": "fira-galore", "lr": 1e-2, "rank": 4,
                                  "target": "matrices"}}}

    def apply(self, model: nn.Module, data: Data) -> list[dict[str, Any]]:
        readout = getattr(model, "readout", None)
        for module in list(model.modules()):
            if isinstance(module, nn.Linear) and (self.config.readout or module is not readout):
                nn.utils.parametrizations.weight_norm(module, name="weight", dim=0)
        return [{"params": [p for p in model.parameters() if p.requires_grad]}]
