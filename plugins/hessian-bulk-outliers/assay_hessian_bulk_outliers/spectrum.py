"""The outlier count of a Hessian spectrum. Hessian-vector products and Lanczos live in
``assay.lib.hessian`` (promoted from this plugin); re-exported here for the plugin's code.

``hvp_operator`` gives v -> H v for the loss of a model on a fixed batch by double
backpropagation; H is never formed. ``lanczos`` runs the Lanczos iteration with full
reorthogonalisation (in float64) and returns Ritz values, whose largest converge to the
largest eigenvalues of H first. ``count_outliers`` splits the top eigenvalues at their
largest relative gap: everything above it is an outlier, the rest the top of the bulk.
"""
from __future__ import annotations

import torch
from assay import Paper
from assay.lib.hessian import hvp_operator, lanczos

__all__ = ["PAPER", "count_outliers", "hvp_operator", "lanczos"]

PAPER = Paper(title="Empirical Analysis of the Hessian of Over-Parametrized Neural Networks",
              arxiv="1706.04454", year=2017)


def count_outliers(top: torch.Tensor | list[float], floor: float = 1e-6) -> tuple[int, float]:
    """Split descending eigenvalues at their largest ratio lambda_i / lambda_(i+1).

    Only eigenvalues above ``floor`` x the largest take part (near-zero ones make
    meaningless ratios). Returns (number above the gap, the gap ratio).
    """
    vals = sorted((float(v) for v in top), reverse=True)
    vals = [v for v in vals if v > floor * vals[0]] if vals and vals[0] > 0 else []
    if len(vals) < 2:
        return len(vals), float("nan")
    ratios = [a / b for a, b in zip(vals, vals[1:])]
    i = max(range(len(ratios)), key=ratios.__getitem__)
    return i + 1, ratios[i]
