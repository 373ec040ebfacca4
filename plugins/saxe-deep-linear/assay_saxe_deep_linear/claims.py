"""Depth and learning time in deep linear nets: per init, a grid over depth x learning rate;
a depth's learning time is its fastest run (learning rate tuned per depth, as in the paper),
``total_steps + 1`` when no rate reaches the criterion.

Each check reports its effect per seed; the verdict is the t-interval over seeds
(``assay.claims.decide``). Guards, over the two depths a ratio uses: a depth-2 net (the
baseline) that reaches the criterion at no rate, or a depth with no run at all, is INVALID;
a depth whose fastest rate is the smallest or largest of the grid is NOT-ESTABLISHED (a
faster rate may lie beyond it). A depth-32 net that never reaches the criterion counts as
``total_steps + 1``: a lower bound on its time, so on the ratio.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_least, at_most, grid_at_edge, invalid, not_established, trials

STEPS, REACHED = "saxe/steps_to_criterion", "saxe/reached"
DEPTH, LR = "model.depth", "methods.optimizer.lr"
SHALLOW, DEEP = 2, 32


def runs_at(m: Metrics, arm: str, depth: int) -> list[dict[str, float]]:
    """Every finished trial of ``arm`` at ``depth`` (with its steps to the criterion)."""
    return [t for t in trials(m, arm) if STEPS in t and t.get(DEPTH) == depth]


def learning_times(m: Metrics, arm: str) -> dict[int, tuple[float, float]]:
    """depth -> (fewest steps to the criterion over the learning-rate grid, that rate)."""
    best: dict[int, tuple[float, float]] = {}
    for t in trials(m, arm):
        if STEPS in t and DEPTH in t:
            d = int(t[DEPTH])
            if d not in best or t[STEPS] < best[d][0]:
                best[d] = (t[STEPS], t.get(LR, math.nan))
    return best


def depth_guard(m: Metrics, arm: str) -> Guard | None:
    """INVALID when a depth the ratio uses has no run, or the depth-2 net never reaches the
    criterion; NOT-ESTABLISHED when a depth that reached it did so fastest at a grid edge."""
    runs = {d: runs_at(m, arm, d) for d in (SHALLOW, DEEP)}
    missing = [d for d, r in runs.items() if not r]
    if missing:
        return invalid(f"{arm}: no run at depth {missing}")
    if not any(t.get(REACHED, 0.0) for t in runs[SHALLOW]):
        return invalid(f"{arm}: the depth-{SHALLOW} net reached the criterion at no rate")
    edged = [d for d, r in runs.items() if any(t.get(REACHED, 0.0) for t in r)
             and grid_at_edge(sorted((t[LR], t[STEPS]) for t in r if LR in t))]
    if edged:
        return not_established(f"{arm}: fastest rate at the grid's edge for depth {edged}")
    return None


def _growth(m: Metrics, arm: str) -> tuple[float, str, Guard | None]:
    times = learning_times(m, arm)
    shallow = times.get(SHALLOW, (math.nan, math.nan))
    deep = times.get(DEEP, (math.nan, math.nan))
    ratio = deep[0] / shallow[0]
    shown = ", ".join(f"depth {d}: {s:g} steps (lr {lr:.3g})"
                      for d, (s, lr) in sorted(times.items()))
    return ratio, f"{arm}: {shown}; depth 32 / depth 2 = {ratio:.2f}", depth_guard(m, arm)


def orthogonal_depth_independent(m: Metrics) -> Verdict:
    ratio, detail, guard = _growth(m, "orthogonal")
    return Verdict(f"{detail} (paper: <= 2)", [at_most("time_ratio_32_2", ratio, 2.0)],
                   guard=guard)


def gaussian_slows_with_depth(m: Metrics) -> Verdict:
    ratio, detail, guard = _growth(m, "gaussian")
    return Verdict(f"{detail} (paper: >= 4)", [at_least("time_ratio_32_2", ratio, 4.0)],
                   guard=guard)


ARMS = {"orthogonal": "configs/orthogonal.yaml", "gaussian": "configs/gaussian.yaml"}
SMOKE = {"train.steps": 20, "train.eval_every": 10, "sweep.trials": 2}

CLAIMS = [
    Claim(
        id="saxe-deep-linear:orthogonal-depth-independent",
        statement="With random orthogonal init and the learning rate tuned per depth, a depth-32 "
                  "linear net needs at most 2x the GD steps of a depth-2 net to learn a linear map",
        source="arXiv:1312.6120, Sec. 5 (depth-independent learning times; random orthogonal "
               "initial conditions)",
        arms=ARMS, check=orthogonal_depth_independent, package=__package__, budget_s=600,
        smoke=SMOKE,
    ),
    Claim(
        id="saxe-deep-linear:gaussian-slows-with-depth",
        statement="With scaled Gaussian init (variance 1/fan-in) and the learning rate tuned per "
                  "depth, a depth-32 linear net needs at least 4x the GD steps of a depth-2 net",
        source="arXiv:1312.6120, Sec. 5 (scaled random Gaussian initial conditions slow down "
               "with depth)",
        arms=ARMS, check=gaussian_slows_with_depth, package=__package__, budget_s=600,
        smoke=SMOKE,
    ),
]
