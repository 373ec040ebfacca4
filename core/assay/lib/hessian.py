"""Curvature without forming the Hessian (public): Hessian-vector products and Lanczos.

``hvp_operator`` gives v -> H v for the loss of a model on a fixed batch by double
backpropagation; H is never formed. ``lanczos`` runs the Lanczos iteration with full
reorthogonalisation (in float64) and returns Ritz values, whose largest converge to the
largest eigenvalues of H first.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = ["MatVec", "hvp_operator", "lanczos", "per_example_grads"]

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


def per_example_grads(model: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor],
                                                          torch.Tensor],
                      x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The gradient of ``loss_fn(model(x_i), y_i)`` for every example ``i`` at once, by name,
    each of shape ``(batch, *param.shape)`` (torch.func: vmap over grad of a functional call).
    ``loss_fn`` gets one example's output and target with a leading batch axis of 1."""
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def one(p: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, (p, buffers), (xi.unsqueeze(0),))
        return loss_fn(out, yi.unsqueeze(0))

    return vmap(grad(one), in_dims=(None, 0, 0))(params, x, y)
