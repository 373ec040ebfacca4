"""Universal random features (URFs; Sehanobish et al., 2024, arXiv:2310.13225, Sec. 3.2) and
a trainer that measures how well they estimate a feedforward unit f(w^T x + b).

A URF writes f(w^T x + b) as a dot product of a feature map of the weights and one of the
input. With f given by its Fourier transform, f(z) = int tau(xi) exp(2 pi i xi z) d xi, and
xi drawn from a density p with tau / p = 1 (the activations here are chosen so), and with the
complex Gaussian identity E_g[exp(a g^T v)] = exp(a^2 |v|^2 / 2) for g ~ N(0, I) and complex a,

    f(w^T x + b) = E_{xi, g}[ Phi(w, b) Psi(x) ],   a = sqrt(2 pi i xi),
    Psi(x)    = exp(a g^T x - a^2 |x|^2 / 2),
    Phi(w, b) = exp(2 pi i xi b) exp(a g^T w - a^2 |w|^2 / 2),

because the product's expectation is exp(2 pi i xi b + a^2 w^T x) = exp(2 pi i xi (w^T x + b)).
With m draws (xi_j, g_j) the features are m-vectors (scaled by m^-1/2) and the estimate is the
real part of their bilinear dot product; it is unbiased, so its mean squared error is its
variance, which falls as 1/m.

Activations (tau / p = 1 for both):
- ``cos``: f(z) = cos z; tau is two point masses at xi = +-1/(2 pi), p picks each with 1/2.
- ``gauss``: f(z) = exp(-z^2 / 2); tau = p = N(0, 1/(4 pi^2)).

The ``correction: false`` option drops the -a^2 |v|^2 / 2 terms: a biased estimate, kept only
as the negative control of the rate claim.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from assay import Paper, Trainer

from assay_snnk_urf.config import URFEstimateConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="Scalable Neural Network Kernels", arxiv="2310.13225", year=2024)
ACTIVATIONS = {"cos": torch.cos, "gauss": lambda z: torch.exp(-z * z / 2)}


def frequencies(activation: str, m: int, gen: torch.Generator) -> torch.Tensor:
    """m draws of xi from p (float64)."""
    if activation == "cos":
        signs = torch.randint(2, (m,), generator=gen, dtype=torch.float64) * 2 - 1
        return signs / (2 * math.pi)
    return torch.randn(m, generator=gen, dtype=torch.float64) / (2 * math.pi)


def urf_features(v: torch.Tensor, g: torch.Tensor, xi: torch.Tensor,
                 bias: torch.Tensor | None = None, correction: bool = True) -> torch.Tensor:
    """Psi(v) (bias None) or Phi(v, bias): (n, m) complex features of the rows of ``v`` (n, d)
    for the draws ``g`` (m, d) and ``xi`` (m,)."""
    v = v.to(torch.float64)
    a = torch.sqrt(2j * math.pi * xi.to(torch.complex128))                   # (m,)
    exponent = a * (v @ g.to(torch.float64).T)                               # (n, m)
    if correction:
        exponent = exponent - (a * a) * (v * v).sum(1, keepdim=True) / 2
    if bias is not None:
        exponent = exponent + 2j * math.pi * xi * bias.to(torch.float64)[:, None]
    return torch.exp(exponent) / math.sqrt(xi.numel())


def urf_estimate(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, g: torch.Tensor,
                 xi: torch.Tensor, correction: bool = True) -> torch.Tensor:
    """The URF estimate of f(w_i^T x_i + b_i) for each row i (paired rows, shape (n,))."""
    phi = urf_features(w, g, xi, b, correction)
    psi = urf_features(x, g, xi, None, correction)
    return (phi * psi).sum(1).real


def sphere(n: int, d: int, radius: float, gen: torch.Generator) -> torch.Tensor:
    """n points drawn uniformly on the sphere of ``radius`` in R^d."""
    v = torch.randn(n, d, generator=gen, dtype=torch.float64)
    return radius * v / v.norm(dim=1, keepdim=True)


def loglog_slope(ms: list[int], errors: list[float]) -> float:
    """Least-squares slope of log(error) against log(m)."""
    lx = torch.log(torch.tensor(ms, dtype=torch.float64))
    ly = torch.log(torch.tensor(errors, dtype=torch.float64))
    lx, ly = lx - lx.mean(), ly - ly.mean()
    return float((lx * ly).sum() / (lx * lx).sum())


class URFEstimate(Trainer):
    """Measures URF estimation error against m, then trains the run's model as usual."""

    name = "urf-estimate"
    Config = URFEstimateConfig
    paper = PAPER

    def measure(self, seed: int) -> dict[str, float]:
        """``urf/rel_mse_m<m>`` for every m and ``urf/slope``: relative MSE is the mean squared
        error over pairs and draws divided by the mean of f^2 over pairs."""
        c = self.config
        gen = torch.Generator().manual_seed(seed)
        w, x = sphere(c.pairs, c.dim, c.radius, gen), sphere(c.pairs, c.dim, c.radius, gen)
        b = torch.rand(c.pairs, generator=gen, dtype=torch.float64) * 2 * math.pi
        if c.activation == "gauss":            # centred: a phase would push z to f's tails
            b = torch.zeros_like(b)
        exact = ACTIVATIONS[c.activation]((w * x).sum(1) + b)
        out: dict[str, float] = {}
        errors = []
        for m in c.features:
            sq = 0.0
            for _ in range(c.draws):
                g = torch.randn(m, c.dim, generator=gen, dtype=torch.float64)
                xi = frequencies(c.activation, m, gen)
                est = urf_estimate(w, b, x, g, xi, c.correction)
                sq += float(((est - exact) ** 2).mean())
            errors.append(sq / c.draws / float((exact ** 2).mean()))
            out[f"urf/rel_mse_m{m}"] = errors[-1]
        out["urf/slope"] = loglog_slope(c.features, errors)
        return out

    def train(self, ctx: RunContext) -> None:
        ctx.final_metrics.update(self.measure(ctx.run.seed))
        ctx.run_steps(ctx.total_steps)
