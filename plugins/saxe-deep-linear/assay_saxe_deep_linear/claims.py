"""Depth and learning time in deep linear nets: per init, a grid over depth x learning rate;
a depth's learning time is its fastest run (learning rate tuned per depth, as in the paper),
``total_steps + 1`` when no rate reaches the criterion."""
from __future__ import annotations

import math
import re

from assay import Claim, Metrics, Verdict

STEPS = "saxe/steps_to_criterion"
DEPTH, LR = "model.depth", "methods.optimizer.lr"


def learning_times(m: Metrics, arm: str) -> dict[int, tuple[float, float]]:
    """depth -> (fewest steps to the criterion over the learning-rate grid, that rate)."""
    trials: dict[str, dict[str, float]] = {}
    for key, value in m.items():
        hit = re.match(rf"^{re.escape(arm)}/trials/(\d+)/(.+)$", key)
        if hit:
            trials.setdefault(hit.group(1), {})[hit.group(2)] = value
    best: dict[int, tuple[float, float]] = {}
    for t in trials.values():
        if STEPS in t and DEPTH in t:
            d = int(t[DEPTH])
            if d not in best or t[STEPS] < best[d][0]:
                best[d] = (t[STEPS], t.get(LR, math.nan))
    return best


def _growth(m: Metrics, arm: str) -> tuple[float, str]:
    times = learning_times(m, arm)
    shallow, deep = times.get(2, (math.nan, math.nan)), times.get(32, (math.nan, math.nan))
    ratio = deep[0] / shallow[0]
    shown = ", ".join(f"depth {d}: {s:g} steps (lr {lr:.3g})"
                      for d, (s, lr) in sorted(times.items()))
    return ratio, f"{arm}: {shown}; depth 32 / depth 2 = {ratio:.2f}"


def orthogonal_depth_independent(m: Metrics) -> Verdict:
    ratio, detail = _growth(m, "orthogonal")
    return Verdict(ratio <= 2.0, f"{detail} (pass: <= 2)", {"time_ratio_32_2": ratio})


def gaussian_slows_with_depth(m: Metrics) -> Verdict:
    ratio, detail = _growth(m, "gaussian")
    return Verdict(ratio >= 4.0, f"{detail} (pass: >= 4)", {"time_ratio_32_2": ratio})


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
