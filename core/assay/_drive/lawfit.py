"""The statistics of a law: a power law through the per-point optima, with honest intervals.

Each scale point contributes one estimate of log(optimum) with a variance: its own bootstrap
spread (``assay.lib.optimum``, an independent stream per point), or, when the point was
searched with several law seeds, the spread across those seeds if that is larger (seeds
differ in initialisation and data order, which moves the optimum more than the trials'
noise shows). The law is a weighted least-squares fit of log(optimum) on log(scale).

Points also miss the law by more than their own noise (a landscape that changes shape with
scale, the training seed's own optimum): the *lack of fit*. Its variance ``tau^2`` is
estimated from the residuals (the method-of-moments estimator of random-effects
meta-regression, DerSimonian and Laird) and added to every point's variance before the
final fit. The interval then follows Knapp and Hartung: the covariance is scaled by the
weighted residual variance (never below 1, so it never shrinks the points' own
uncertainty) and read with a Student-t of n - p degrees of freedom. Few points therefore
give wide intervals, as they should. A prediction's interval adds ``tau^2``: a new point
misses the law as much as the fitted ones did.

Calibration on synthetic objectives with known exponents: ``bench/law_calibration.py``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assay.lib.optimum import Optimum

CONFIDENCE = 0.95
MIN_VAR = 1e-8            # floor on a point's variance (a noiseless landscape bootstraps to 0)


@dataclass
class LawFit:
    names: list[str]                 # scale axes
    coef: np.ndarray                 # [intercept, exponents...] (natural log)
    cov: np.ndarray                  # covariance of coef (lack of fit included)
    ci_low: np.ndarray
    ci_high: np.ndarray
    r2: float                        # weighted, of the per-point optima
    tau: float                       # lack-of-fit sd of log(optimum) beyond the points' own
    dof: int                         # points - parameters
    n_points: int

    def predict(self, scale: Sequence[float]) -> float:
        return float(np.exp(self.coef[0] + np.dot(self.coef[1:], np.log(scale))))

    def predict_interval(self, scale: Sequence[float]) -> tuple[float, float]:
        """95% interval for the optimum at ``scale``: the law's own uncertainty there plus the
        lack of fit a new point shows."""
        z = np.concatenate([[1.0], np.log(np.asarray(scale, float))])
        sd = math.sqrt(float(z @ self.cov @ z) + self.tau ** 2)
        half = _t(self.dof) * sd
        centre = math.log(self.predict(scale))
        return math.exp(centre - half), math.exp(centre + half)


def _t(dof: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, dof))


def point_estimate(optima: Sequence[Optimum]) -> tuple[float, float]:
    """(log optimum, its variance) of one scale point from its seeds' estimates.

    One seed: its bootstrap variance. Several: the mean, with the larger of the mean
    bootstrap variance and the spread across seeds, each over the number of seeds."""
    ys = np.array([math.log(o.value) for o in optima])
    var = np.array([o.sd ** 2 if o.log else (o.sd / o.value) ** 2 for o in optima])
    k = len(optima)
    within = float(var.mean()) / k
    between = float(ys.var(ddof=1)) / k if k > 1 else 0.0
    return float(ys.mean()), max(within, between, MIN_VAR)


def _wls(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients, (X' W X)^-1)."""
    inv = np.linalg.inv(X.T @ (w[:, None] * X))
    return inv @ (X.T @ (w * y)), inv


def lack_of_fit(X: np.ndarray, y: np.ndarray, var: np.ndarray) -> float:
    """DerSimonian-Laird moment estimate of tau^2, the variance of the points about the law
    beyond their own variances (0 when they scatter no more than those explain)."""
    w = 1.0 / var
    coef, inv = _wls(X, y, w)
    q = float((w * (y - X @ coef) ** 2).sum())
    trace = float(w.sum() - np.trace(inv @ (X.T @ ((w ** 2)[:, None] * X))))
    return max(0.0, (q - (len(y) - X.shape[1])) / trace) if trace > 0 else 0.0


def fit_law(names: list[str], scales: Sequence[Sequence[float]],
            points: Sequence[tuple[float, float]]) -> LawFit:
    """Fit log(opt) = c + sum_k e_k log(scale_k) through ``points`` ((log optimum, variance)
    per scale point, from :func:`point_estimate`). Axes that do not vary are left out of the
    fit and reported with exponent 0 and no interval. Needs more points than parameters."""
    S = np.asarray(scales, float)
    varying = [k for k in range(S.shape[1]) if len(np.unique(S[:, k])) > 1]
    X = np.column_stack([np.ones(len(S)), np.log(S[:, varying])])
    y = np.array([p[0] for p in points])
    var = np.array([p[1] for p in points])
    dof = len(y) - X.shape[1]
    if dof < 1:
        raise ValueError(f"{len(y)} points cannot fit {X.shape[1]} parameters with a check")
    tau2 = lack_of_fit(X, y, var)
    w = 1.0 / (var + tau2)
    coef_v, inv = _wls(X, y, w)
    resid = y - X @ coef_v
    scale = max(1.0, float((w * resid ** 2).sum()) / dof)        # Knapp-Hartung, floored
    cov_v = inv * scale
    half = _t(dof) * np.sqrt(np.diag(cov_v))
    mean = float((w * y).sum() / w.sum())
    tss = float((w * (y - mean) ** 2).sum())
    r2 = 1.0 - float((w * resid ** 2).sum()) / tss if tss > 0 else 1.0
    keep = [0] + [1 + k for k in varying]
    p = 1 + S.shape[1]
    coef, cov = np.zeros(p), np.zeros((p, p))
    coef[keep], cov[np.ix_(keep, keep)] = coef_v, cov_v
    lo, hi = coef.copy(), coef.copy()
    lo[keep], hi[keep] = coef_v - half, coef_v + half
    return LawFit(names, coef, cov, lo, hi, r2, math.sqrt(tau2), dof, len(y))
