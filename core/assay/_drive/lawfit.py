"""The statistics of a law study, pure numpy: robust per-point optima and power-law fits.

Per scale point, the optimum of a tuned hyperparameter is not the raw argmin: a quadratic in
log(hyperparameter) is fitted to the objective of the best trials around the minimum, and its
vertex (kept inside the sampled range) is the estimate. A bootstrap over trials gives its
interval. The law is ordinary least squares of log(optimum) on log(scale axes); the whole
pipeline (trials -> optima -> fit) is bootstrapped, so the exponents' intervals shrink as
trials are added.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def vertex(logx: np.ndarray, y: np.ndarray, keep: float = 0.6, min_points: int = 4) -> float:
    """Optimum (in log space) of a quadratic fitted to the best ``keep`` share of points."""
    order = np.argsort(y)
    n = max(min_points, int(np.ceil(keep * len(y))))
    sel = order[:n]
    x, v = logx[sel], y[sel]
    best = float(logx[order[0]])
    if len(np.unique(x)) < 3:
        return best
    a, b, _ = np.polyfit(x, v, 2)
    if a <= 0:                       # no curvature: the landscape is flat or concave here
        return best
    return float(np.clip(-b / (2 * a), logx.min(), logx.max()))


@dataclass
class Optimum:
    value: float                     # in the hyperparameter's own units
    low: float
    high: float
    n_trials: int
    samples: np.ndarray              # bootstrap samples, log space


def estimate_optimum(x: Sequence[float], y: Sequence[float], log: bool = True,
                     n_boot: int = 200, seed: int = 0) -> Optimum:
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(xs) & np.isfinite(ys) & ((xs > 0) if log else True)
    xs, ys = xs[ok], ys[ok]
    if len(xs) == 0:
        raise ValueError("no finished trials to estimate an optimum from")
    lx = np.log(xs) if log else xs
    rng = np.random.default_rng(seed)
    boots = np.array([vertex(lx[idx], ys[idx]) for idx in
                      (rng.integers(0, len(lx), len(lx)) for _ in range(n_boot))])
    point = vertex(lx, ys)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    f = np.exp if log else (lambda v: v)
    return Optimum(float(f(point)), float(f(lo)), float(f(hi)), len(xs), boots)


@dataclass
class LawFit:
    names: list[str]                 # scale axes
    coef: np.ndarray                 # [intercept, exponents...] (natural log)
    ci_low: np.ndarray
    ci_high: np.ndarray
    r2: float

    def predict(self, scale: Sequence[float]) -> float:
        return float(np.exp(self.coef[0] + np.dot(self.coef[1:], np.log(scale))))

    def predict_interval(self, scale: Sequence[float], boot: np.ndarray) -> tuple[float, float]:
        logs = boot[:, 0] + boot[:, 1:] @ np.log(np.asarray(scale, float))
        lo, hi = np.percentile(logs, [2.5, 97.5])
        return float(np.exp(lo)), float(np.exp(hi))


def ols(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    A = np.column_stack([np.ones(len(X)), X])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    tss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid ** 2).sum()) / tss if tss > 0 else 1.0
    return coef, r2


def fit_law(names: list[str], scales: np.ndarray, optima: Sequence[Optimum]
            ) -> tuple[LawFit, np.ndarray]:
    """Fit log(opt) = c + sum_k e_k log(scale_k); bootstrap the optima for intervals.
    Axes that do not vary are dropped from the fit (their exponent is reported as 0)."""
    scales = np.asarray(scales, float)
    varying = [k for k in range(scales.shape[1]) if len(np.unique(scales[:, k])) > 1]
    X = np.log(scales[:, varying])
    y = np.log([o.value for o in optima])
    coef_v, r2 = ols(X, y)
    n_boot = min(len(o.samples) for o in optima)
    boots_v = np.array([ols(X, np.array([o.samples[b] for o in optima]))[0]
                        for b in range(n_boot)])
    full = lambda c: np.concatenate([[c[0]], [c[1 + varying.index(k)] if k in varying else 0.0  # noqa: E731
                                              for k in range(scales.shape[1])]])
    coef = full(coef_v)
    boots = np.array([full(b) for b in boots_v])
    lo, hi = np.percentile(boots, [2.5, 97.5], axis=0)
    return LawFit(names, coef, lo, hi, r2), boots
