"""muP's claims at small scale, on an MLP (depth 3) trained with Adam on one-pass synthetic
classification, muP (base width 64) against the standard parameterization (``mup-sp``).

- ``mup:lr-transfer``: one grid sweep of the learning rate (octave steps) per
  (parameterization, width). Each arm's optimum is a parabola fitted in log2(lr) to the loss
  near its best grid point; the drift is the least-squares slope of log2(optimum) against
  log2(width), times the 3 octaves from width 64 to 512.
- ``mup:coord-check``: the coordinate check (largest mean |activation change| over the first
  5 Adam steps) at widths 64 and 1024.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from assay import Claim, Metrics, Verdict

WIDTHS = (64, 128, 256, 512)
LR = "methods.optimizer.lr"
LOSS = "val/loss"
MAX_DRIFT_MUP = 1.0      # octaves of lr over 8x width: muP must drift less than this ...
MIN_DRIFT_SP = 1.0       # ... and SP at least this much (the effect muP removes)


def fitted_optimum(lrs: Sequence[float], losses: Sequence[float], reach: int = 2) -> float:
    """log2 of the loss-minimising learning rate, from a parabola in log2(lr).

    Fits the grid points within ``reach`` points of the best one (5 by default, 3 at an edge);
    falls back to 3 points, then to the best point itself, when the fit is not convex. The
    vertex is kept within one grid step of the best point: no extrapolation.
    """
    pts = sorted((math.log2(lr), loss) for lr, loss in zip(lrs, losses)
                 if lr > 0 and math.isfinite(loss))
    if not pts:
        raise ValueError("no finite (lr, loss) pair to fit")
    best = min(range(len(pts)), key=lambda i: pts[i][1])
    for r in (reach, 1):
        window = pts[max(0, best - r):best + r + 1]
        vertex = _parabola_vertex(window)
        if vertex is not None:
            lo = pts[max(0, best - 1)][0]
            hi = pts[min(len(pts) - 1, best + 1)][0]
            return min(max(vertex, lo), hi)
    return pts[best][0]


def _parabola_vertex(pts: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares a*x^2 + b*x + c through ``pts``; the vertex when a > 0, else None."""
    if len(pts) < 3:
        return None
    x, y = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    a, b, _ = np.polyfit(x, y, 2)
    return float(-b / (2 * a)) if a > 1e-12 else None


def arm_optimum(m: Metrics, arm: str) -> float:
    """log2 optimal lr of one sweep arm: fitted over its trials, or its best trial's lr."""
    prefix = f"{arm}/trials/"
    trials = {k[len(prefix):].split("/", 1)[0] for k in m if k.startswith(prefix)}
    pairs = [(m[f"{prefix}{n}/{LR}"], m[f"{prefix}{n}/{LOSS}"]) for n in trials
             if f"{prefix}{n}/{LR}" in m and f"{prefix}{n}/{LOSS}" in m]
    if len(pairs) >= 3:
        return fitted_optimum([p[0] for p in pairs], [p[1] for p in pairs])
    return math.log2(m[f"{arm}/best/{LR}"])


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys against xs."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def lr_transfer(m: Metrics) -> Verdict:
    xs = [math.log2(w) for w in WIDTHS]
    span = xs[-1] - xs[0]
    numbers: dict[str, float] = {}
    for p in ("mup", "sp"):
        opt = [arm_optimum(m, f"{p}_w{w}") for w in WIDTHS]
        numbers.update({f"{p}_w{w}_log2_lr": o for w, o in zip(WIDTHS, opt)})
        numbers[f"{p}_slope"] = slope(xs, opt)
        numbers[f"{p}_drift_octaves"] = numbers[f"{p}_slope"] * span
    mup, sp = numbers["mup_drift_octaves"], numbers["sp_drift_octaves"]
    passed = abs(mup) < MAX_DRIFT_MUP and abs(sp) >= MIN_DRIFT_SP
    return Verdict(passed, f"optimal-lr drift over widths {WIDTHS[0]}-{WIDTHS[-1]}: "
                           f"muP {mup:+.2f} octaves (slope {numbers['mup_slope']:+.2f}), "
                           f"SP {sp:+.2f} octaves (slope {numbers['sp_slope']:+.2f}) "
                           f"(pass: |muP| < {MAX_DRIFT_MUP:g}, |SP| >= {MIN_DRIFT_SP:g})", numbers)


def coord_check(m: Metrics) -> Verdict:
    ratio = {f"{p}_{role}": m[f"{p}_w1024/coord/{role}_delta"] / m[f"{p}_w64/coord/{role}_delta"]
             for p in ("mup", "sp") for role in ("input", "hidden", "readout")}
    mup_ok = all(0.5 <= ratio[f"mup_{r}"] <= 2.0 for r in ("input", "hidden", "readout"))
    sp_grows = ratio["sp_readout"] >= 4.0
    detail = ("width 1024/64 ratio of the largest activation change in 5 steps: muP input "
              "{mup_input:.2f}, hidden {mup_hidden:.2f}, logits {mup_readout:.2f} (pass: all in "
              "[0.5, 2]); SP logits {sp_readout:.2f} (pass: >= 4)").format(**ratio)
    return Verdict(mup_ok and sp_grows, detail, ratio)


LR_ARMS = {f"{p}_w{w}": f"configs/{p}_w{w}.yaml" for p in ("mup", "sp") for w in WIDTHS}
COORD_ARMS = {f"{p}_w{w}": f"configs/coord_{p}_w{w}.yaml" for p in ("mup", "sp")
              for w in (64, 1024)}

CLAIMS = [
    Claim(
        id="mup:lr-transfer",
        statement="Under muP the loss-optimal Adam learning rate of an MLP moves by less than "
                  "one octave when its width grows 8x (64 to 512), while under the standard "
                  "parameterization it moves by at least one octave",
        source="arXiv:2011.14522, Sec. 5 (maximal update); arXiv:2203.03466, Fig. 1 and 3",
        arms=LR_ARMS, check=lr_transfer, package=__package__, budget_s=900,
        smoke={"train.steps": 20, "train.eval_every": 10, "sweep.trials": 3},
    ),
    Claim(
        id="mup:coord-check",
        statement="Under muP the size of every layer's activation change in the first Adam "
                  "steps is the same (within 2x) at widths 64 and 1024, while under the "
                  "standard parameterization the logits' change grows at least 4x",
        source="arXiv:2011.14522, Sec. 3 (SP does not learn features stably); "
               "arXiv:2203.03466, Sec. 6 and Fig. 5 (coordinate check)",
        arms=COORD_ARMS, check=coord_check, package=__package__, budget_s=60,
        smoke={"train.steps": 2, "train.eval_every": 2},
    ),
]
