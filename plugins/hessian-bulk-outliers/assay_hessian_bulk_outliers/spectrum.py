"""Top of a Hessian spectrum from Hessian-vector products (Lanczos), and the outlier count.

``hvp_operator`` gives v -> H v for the loss of a model on a fixed batch by double
backpropagation; H is never formed. ``lanczos`` runs the Lanczos iteration with full
reorthogonalisation (in float64) and returns Ritz values, whose largest converge to the
largest eigenvalues of H first. ``count_outliers`` splits the top eigenvalues at their
largest relative gap: everything above it is an outlier, the rest the top of the bulk.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from assay import Paper

PAPER = Paper(title="Empirical Analysis of the Hessian of Over-Parametrized Neural Networks",
              arxiv="1706.04454", year=2017)

MatVec = Callable[[torch.Tensor], torch.Tensor]


def hvp_operator(loss_fn: Callable[[], torch.Tensor], params: list[nn.Parameter]) -> MatVec:
    """v (flat, float64) -> H v, with H the Hessian of ``loss_fn()`` in ``params``."""
    grads = torch.autograd.grad(loss_fn(), params, create_graph=True)
    flat = torch.cat([g.reshape(-1) for g in grads])

    def matvec(v: torch.Tensor) -> torch.Tensor:
        hv = torch.autograd.grad(flat @ v.to(flat.dtype), params, retain_graph=True)
        return torch.cat([h.reshape(-1) for h in hv]).to(torch.float64)

    return matvec


def lanczos(matvec: MatVec, n: int, iters: int, generator: torch.Generator | None = None
            ) -> torch.Tensor:
    """Ritz values (ascending) of a symmetric n x n operator after ``iters`` Lanczos steps."""
    iters = min(iters, n)
    basis = torch.zeros(iters, n, dtype=torch.float64)
    alphas, betas = [], []
    q = torch.randn(n, generator=generator, dtype=torch.float64)
    q /= q.norm()
    for j in range(iters):
        basis[j] = q
        w = matvec(q)
        alphas.append(float(w @ q))
        for _ in range(2):                     # full reorthogonalisation, twice for safety
            w -= basis[:j + 1].T @ (basis[:j + 1] @ w)
        beta = float(w.norm())
        if j == iters - 1 or beta < 1e-10 * max(1.0, abs(alphas[0])):
            break
        betas.append(beta)
        q = w / beta
    k = len(alphas)
    t = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if k > 1:
        off = torch.tensor(betas[:k - 1], dtype=torch.float64)
        t += torch.diag(off, 1) + torch.diag(off, -1)
    return torch.linalg.eigvalsh(t)


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
