"""The static M-FAC algorithm: products with the inverse of a damped empirical Fisher,

    F = lambda I + (1/m) sum_i g_i g_i^T        (m gradients g_i of dimension d),

without ever forming a d x d matrix. Adding the rank-one terms one at a time with the
Sherman-Morrison formula gives

    F_i^{-1} x = F_{i-1}^{-1} x - a_i (a_i . x) / (m + g_i . a_i),   a_i = F_{i-1}^{-1} g_i,

so with the m vectors a_i and their denominators stored (O(d m^2) to compute, O(d m) to
keep), F^{-1} x costs O(d m) and the diagonal of F^{-1} costs O(d m):

    F^{-1} x = x / lambda - sum_i a_i (a_i . x) / d_i,
    diag(F^{-1}) = 1 / lambda - sum_i a_i^2 / d_i.

``tests/test_m_fac.py`` compares both with the dense inverse.
"""
from __future__ import annotations

import torch


class StaticInverseFisher:
    """F^{-1} products and diagonal from m gradients (the rows of ``grads``, shape (m, d))."""

    def __init__(self, grads: torch.Tensor, damp: float) -> None:
        m = grads.shape[0]
        self.damp = damp
        self.a = torch.empty_like(grads)
        self.denom = torch.empty(m, dtype=grads.dtype)
        for i in range(m):
            g = grads[i]
            coef = (self.a[:i] @ g) / self.denom[:i]          # (i,)
            self.a[i] = g / damp - coef @ self.a[:i]
            self.denom[i] = m + g @ self.a[i]

    def mul(self, x: torch.Tensor) -> torch.Tensor:
        """F^{-1} x."""
        return x / self.damp - ((self.a @ x) / self.denom) @ self.a

    def diag(self) -> torch.Tensor:
        """The diagonal of F^{-1}."""
        return 1.0 / self.damp - (self.a.pow(2) / self.denom[:, None]).sum(0)


def dense_fisher(grads: torch.Tensor, damp: float) -> torch.Tensor:
    """The d x d matrix F itself (for checks on small d)."""
    d = grads.shape[1]
    return damp * torch.eye(d, dtype=grads.dtype) + grads.T @ grads / grads.shape[0]
