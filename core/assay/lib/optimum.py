"""The optimum of a loss over one hyperparameter: the one estimator that claims, law studies
and plugins share (public).

Callers hold points (x, loss): a claim's grid, or a law point's Optuna trials. The estimate
is never the raw argmin, which wanders with every bit of noise on a flat valley floor, but
the vertex of a parabola in log x (x itself on a linear range) fitted near the lowest loss.
Only the window differs:

- a grid (:func:`grid_optimum`): the best grid value and its two neighbours;
- trials (:func:`estimate_optimum`): every trial within ``half_width`` of the estimate,
  re-centred on the vertex until it settles (:func:`window_vertex`). With enough trials in
  the window, a cubic term is added when an F-test finds it (a lopsided valley), and the
  cubic's local minimum is the estimate: on the lopsided landscape of
  ``bench/law_calibration.py`` a parabola's vertex leans toward the gentle side.

The window is a compromise. Wider windows hold more trials (less noise) but reach the walls
of a real learning-rate valley (the loss of an under-trained run climbs steeply toward
chance), which no low-order polynomial follows; law studies default to two octaves.

An estimate is a measurement only when the points bracket it: some on each side of it inside
the window (one grid value each side for a grid, ``MIN_SIDE`` trials for trials). Otherwise
the optimum may lie beyond what was probed and the estimate is *censored*, a bound on that
side (:func:`grid_at_edge`; ``Optimum.censored``).

numpy is imported on use, so ``import assay.claims`` stays cheap.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MIN_SIDE", "Optimum", "estimate_optimum", "grid_at_edge", "grid_optimum",
           "window_vertex"]

MIN_SIDE = 2          # trials needed on each side of an estimate, inside its window
MIN_CUBIC = 7         # distinct points before a cubic term is considered
CUBIC_P = 0.05        # ... and kept only when significant at this level


# --- the shared core -----------------------------------------------------------------------

def _quadratic_vertex(u: Any, y: Any) -> float | None:
    """Vertex of the least-squares parabola through (u, y); None without three distinct u or
    without upward curvature (a flat or concave stretch has no interior minimum)."""
    import numpy as np

    if len(np.unique(u)) < 3:
        return None
    a, b, _ = np.polyfit(u, y, 2)
    if not a > 0:
        return None
    return float(-b / (2 * a))


@functools.lru_cache(maxsize=256)
def _f_critical(dof: int) -> float:
    from scipy import stats

    return float(stats.f.isf(CUBIC_P, 1, dof))


def _cubic_vertex(u: Any, y: Any) -> float | None:
    """Local minimum of the least-squares cubic through (u, y), when the cubic term is
    significant (an F-test against the parabola at ``CUBIC_P``); None otherwise."""
    import numpy as np

    n = len(u)
    if len(np.unique(u)) < MIN_CUBIC:
        return None
    c2 = np.polyfit(u, y, 2)
    c3 = np.polyfit(u, y, 3)
    rss2 = float(((np.polyval(c2, u) - y) ** 2).sum())
    rss3 = float(((np.polyval(c3, u) - y) ** 2).sum())
    if rss3 > 0 and (rss2 - rss3) / (rss3 / (n - 4)) < _f_critical(n - 4):
        return None
    a3, a2, a1, _ = c3
    roots = np.roots([3 * a3, 2 * a2, a1])
    mins = [float(r.real) for r in roots if abs(r.imag) < 1e-12 and 6 * a3 * r.real + 2 * a2 > 0]
    return mins[0] if mins else None


def _local_vertex(u: Any, y: Any) -> float | None:
    """The minimum of a loss seen at (u, y) near its lowest point: a parabola, or a cubic
    when the points show a lopsided valley (a learning rate's loss is often gentle on one
    side and a cliff on the other, which tilts a parabola's vertex toward the gentle side)."""
    found = _cubic_vertex(u, y)
    return found if found is not None else _quadratic_vertex(u, y)


def window_vertex(u: Any, y: Any, half_width: float, iters: int = 5) -> tuple[float | None, Any]:
    """(vertex, mask of the points in its window) for points (u, y) in the fitting scale.

    Start at the lowest point, fit a parabola (or a cubic, see the module docstring) to the
    points within ``half_width`` of the centre, move the centre to its minimum (never further
    than the window reaches), repeat until it settles. Re-centring keeps the window from being
    lopsided around the answer, which would tilt the fit. The vertex is None when the window
    has no upward curvature; the mask is then the window around the lowest point."""
    import numpy as np

    u, y = np.asarray(u, float), np.asarray(y, float)
    centre = float(u[np.argmin(y)])
    vertex: float | None = None
    for _ in range(iters):
        inside = np.abs(u - centre) <= half_width
        found = _local_vertex(u[inside], y[inside])
        if found is None:
            break
        found = min(max(found, centre - half_width), centre + half_width)
        settled = vertex is not None and abs(found - vertex) < 1e-3 * half_width
        vertex = centre = found
        if settled:
            break
    return vertex, np.abs(u - centre) <= half_width


# --- trials (law studies) --------------------------------------------------------------------

@dataclass(frozen=True)
class Optimum:
    """A hyperparameter's estimated optimum from trials, with what the trials can vouch for.

    ``sd`` is the bootstrap spread of the estimate in the fitting scale (natural log of x when
    ``log``), read from the 16th-84th percentiles so one wild resample does not dominate it.
    ``censored`` is ``""`` when the trials bracket the estimate, else the side that lacks
    trials (``"low"``/``"high"``), or ``"flat"`` when the window shows no curvature."""

    value: float
    low: float
    high: float
    sd: float
    log: bool
    n_trials: int
    n_distinct: int
    n_below: int
    n_above: int
    censored: str = ""
    samples: Any = None             # bootstrap estimates in the fitting scale

    @property
    def bracketed(self) -> bool:
        return not self.censored


def _side(u: Any, inside: Any, vertex: float | None, y: Any) -> tuple[str, int, int]:
    """(censored side or "", trials below, trials above) for an estimate and its window."""
    import numpy as np

    if vertex is None:
        best = float(u[np.argmin(y)])
        lo, hi = float(u[inside].min()), float(u[inside].max())
        side = "low" if best <= lo else "high" if best >= hi else "flat"
        return side, int((u[inside] < best).sum()), int((u[inside] > best).sum())
    below, above = int((u[inside] < vertex).sum()), int((u[inside] > vertex).sum())
    side = "low" if below < MIN_SIDE else "high" if above < MIN_SIDE else ""
    if below < MIN_SIDE and above < MIN_SIDE:     # the estimate ran past the data: which way
        side = "high" if vertex > float(u.mean()) else "low"
    return side, below, above


def estimate_optimum(x: Sequence[float], y: Sequence[float], *, log: bool = True,
                     half_width: float = 2 * math.log(2), n_boot: int = 200,
                     seed: int = 0) -> Optimum:
    """The optimum of loss ``y`` over hyperparameter ``x`` from trials, with a bootstrap
    interval and the bracket check.

    ``half_width`` is the fitting window's half-width in the fitting scale (natural log of x
    when ``log``: the default is two octaves). ``seed`` seeds this estimate's own bootstrap
    stream: give every point a different one, or their intervals share their resampling
    errors. Points with a non-finite x or loss (or x <= 0 on a log scale) are left out."""
    import numpy as np

    xs, ys = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(xs) & np.isfinite(ys) & ((xs > 0) if log else True)
    xs, ys = xs[ok], ys[ok]
    if len(xs) == 0:
        raise ValueError("no finished trials to estimate an optimum from")
    u = np.log(xs) if log else xs
    vertex, inside = window_vertex(u, ys, half_width)
    side, below, above = _side(u, inside, vertex, ys)
    point = vertex if vertex is not None else float(u[np.argmin(ys)])
    samples = _bootstrap(u, ys, half_width, n_boot, seed)
    lo, p16, p84, hi = np.percentile(samples, [2.5, 16, 84, 97.5])
    back = np.exp if log else (lambda v: v)
    return Optimum(float(back(point)), float(back(lo)), float(back(hi)), float(p84 - p16) / 2,
                   log, len(xs), len(np.unique(xs)), below, above, side, samples)


def _bootstrap(u: Any, y: Any, half_width: float, n_boot: int, seed: int) -> Any:
    """The estimate on ``n_boot`` resamples of the trials (the lowest point where a resample
    shows no curvature)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, len(u), len(u))
        v, _ = window_vertex(u[idx], y[idx], half_width)
        out[b] = v if v is not None else u[idx][np.argmin(y[idx])]
    return out


# --- a grid (claims) -------------------------------------------------------------------------

def _profile(points: Any) -> dict[float, float]:
    best: dict[float, float] = {}
    for x, loss in points:
        best[x] = min(loss, best.get(x, float("inf")))
    return best


def grid_optimum(points: Any) -> float:
    """Minimiser over x > 0 of a loss seen at grid points (x, loss): the lowest loss per x
    (a profile when other parameters vary too), then the vertex of the parabola in log x
    through the best point and its grid neighbours (the estimator above, with the window of
    a grid), clipped to them. At a grid edge, or without curvature, the best grid point
    itself."""
    import numpy as np

    best = _profile(points)
    xs = sorted(best)
    if not xs:
        return math.nan
    i = min(range(len(xs)), key=lambda j: best[xs[j]])
    if i == 0 or i == len(xs) - 1:
        return xs[i]
    u = np.log(xs[i - 1:i + 2])
    vertex = _quadratic_vertex(u, [best[x] for x in xs[i - 1:i + 2]])
    if vertex is None:
        return xs[i]
    return float(math.exp(min(max(vertex, u[0]), u[2])))


def grid_at_edge(points: Any) -> bool:
    """True when the lowest loss sits at the smallest or largest grid value (of three or
    more): no grid value brackets it on that side, so the true optimum may lie beyond the
    grid and the estimate is censored."""
    best = _profile(points)
    xs = sorted(best)
    return len(xs) >= 3 and min(best, key=best.__getitem__) in (xs[0], xs[-1])
