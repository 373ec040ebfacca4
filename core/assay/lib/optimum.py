"""The optimum of a loss over a hyperparameter seen at grid points: one estimator, used by
claims, laws and plugins (public).
"""
from __future__ import annotations

from typing import Any

__all__ = ["grid_at_edge", "grid_optimum"]


def _profile(points: Any) -> dict[float, float]:
    best: dict[float, float] = {}
    for x, loss in points:
        best[x] = min(loss, best.get(x, float("inf")))
    return best


def grid_optimum(points: Any) -> float:
    """Minimiser over x > 0 of a loss seen at grid points (x, loss): the lowest loss per x
    (a profile when other parameters vary too), then the vertex of the parabola in log x
    through the best point and its grid neighbours, clipped to them. At a grid edge, or
    without curvature, the best grid point itself."""
    import math

    import numpy as np

    best = _profile(points)
    xs = sorted(best)
    if not xs:
        return math.nan
    i = min(range(len(xs)), key=lambda j: best[xs[j]])
    if i == 0 or i == len(xs) - 1:
        return xs[i]
    u = np.log(xs[i - 1:i + 2])
    a, b, _ = np.polyfit(u, [best[x] for x in xs[i - 1:i + 2]], 2)
    if a <= 0:
        return xs[i]
    return float(math.exp(min(max(-b / (2 * a), u[0]), u[2])))


def grid_at_edge(points: Any) -> bool:
    """True when the lowest loss sits at the smallest or largest grid value (of three or
    more): the true optimum may lie beyond the grid, so the estimate is censored."""
    best = _profile(points)
    xs = sorted(best)
    return len(xs) >= 3 and min(best, key=best.__getitem__) in (xs[0], xs[-1])
