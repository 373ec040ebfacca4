"""The box-constrained optimum of multinomial logistic regression, by L-BFGS-B (scipy)."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def box_optimum(x: torch.Tensor, y: torch.Tensor, layer: nn.Linear, bound: float) -> float:
    """min over (W, b) with every entry in [-bound, bound] of the mean cross-entropy of
    ``x W^T + b`` on labels ``y`` (``bound=inf``: unconstrained; the value L-BFGS reaches)."""
    from scipy.optimize import minimize

    xs = x.flatten(1).double()
    n_out, n_in = layer.weight.shape
    has_bias = layer.bias is not None

    def loss_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        t = torch.from_numpy(theta).requires_grad_(True)
        w = t[:n_out * n_in].view(n_out, n_in)
        logits = xs @ w.T + (t[n_out * n_in:] if has_bias else 0)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        return float(loss.detach()), t.grad.numpy().copy()   # type: ignore[union-attr]

    size = n_out * n_in + (n_out if has_bias else 0)
    bounds = None if math.isinf(bound) else [(-bound, bound)] * size
    # unconstrained, separable data has no minimiser (the loss only tends to 0): a bounded
    # number of iterations gives a value that is simply far below any box optimum
    maxiter = 500 if bounds is None else 5000
    result = minimize(loss_and_grad, np.zeros(size), jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": maxiter, "ftol": 1e-13, "gtol": 1e-9})
    return float(result.fun)
