"""Claims: a paper's headline result as a falsifiable check at small scale.

A claim is data plus a pure function. Its ``arms`` are experiment files (package data of the
plugin, same format as any experiment); each arm is run once per seed (a sweep when the file
has a ``sweep:`` block). The measured numbers reach ``check`` as flat ``Metrics``:

- a run arm gives ``"<arm>/<metric>"`` (e.g. ``"lion/val/loss"``);
- a sweep arm gives ``"<arm>/best/<metric>"`` and ``"<arm>/best/<dotted.param>"`` of its best
  trial.

``check`` is called on the per-seed numbers and on their mean: PASS when the mean and every
seed pass, FAIL when the mean and every seed fail, INCONCLUSIVE when the seeds disagree.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

Metrics = Mapping[str, float]


@dataclass(frozen=True)
class Verdict:
    passed: bool
    detail: str                                   # the measured numbers and the threshold
    numbers: Mapping[str, float] = field(default_factory=dict)


@dataclass
class Claim:
    id: str                                       # "<slug>:<short-kebab>"
    statement: str                                # the paper's result, in our words
    source: str                                   # "arXiv:2302.06675, Sec. 4.1, Fig. 3"
    arms: Mapping[str, str]                       # arm -> experiment file in ``package``
    check: Callable[[Metrics], Verdict]
    package: str                                  # the plugin package holding the files
    seeds: int = 3
    budget_s: float = 900                         # full budget on 2 CPU cores
    smoke: Mapping[str, Any] = field(default_factory=lambda: {
        "train.steps": 20, "train.eval_every": 10, "sweep.trials": 2})
    plugin: str = ""                              # filled in by the registry

    def __post_init__(self) -> None:
        slug, _, short = self.id.partition(":")
        if not slug or not short or self.id != self.id.lower():
            raise ValueError(f"claim id {self.id!r} must look like '<slug>:<short-kebab>'")

    def arm_path(self, arm: str) -> Path:
        return Path(str(resources.files(self.package).joinpath(self.arms[arm])))


def verdict_over_seeds(claim: Claim, per_seed: list[dict[str, float]]) -> tuple[str, Verdict]:
    """Combine per-seed checks with the check on the mean: PASS / FAIL / INCONCLUSIVE."""
    keys = set.intersection(*(set(m) for m in per_seed)) if per_seed else set()
    mean = {k: sum(m[k] for m in per_seed) / len(per_seed) for k in keys}
    overall = claim.check(mean)
    seeds = [claim.check(m).passed for m in per_seed]
    if overall.passed and all(seeds):
        return "PASS", overall
    if not overall.passed and not any(seeds):
        return "FAIL", overall
    return "INCONCLUSIVE", overall


# --- helpers for claims over sweep arms ---------------------------------------------------

def sweep_trials(m: Metrics, arm: str, *params: str, metric: str) -> list[tuple[float, ...]]:
    """(param values..., metric) of every finished trial of sweep arm ``arm`` (the
    ``"<arm>/trials/<n>/<name>"`` numbers) whose metric is finite."""
    import math

    by_trial: dict[str, dict[str, float]] = {}
    prefix = f"{arm}/trials/"
    for key, value in m.items():
        if key.startswith(prefix):
            n, _, name = key[len(prefix):].partition("/")
            by_trial.setdefault(n, {})[name] = value
    return [tuple(t[p] for p in (*params, metric)) for t in by_trial.values()
            if all(p in t for p in (*params, metric)) and math.isfinite(t[metric])]


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
