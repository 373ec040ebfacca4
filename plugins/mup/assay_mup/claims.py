"""muP's claims at small scale, on an MLP (depth 3) trained with Adam on one-pass synthetic
classification, muP (base width 64) against the standard parameterization (``mup-sp``).

- ``mup:lr-transfer``: one grid sweep of the learning rate (octave steps) per
  (parameterization, width). Each arm's optimum is ``assay.lib.optimum.grid_optimum`` (the
  estimator claims and laws share: a parabola in log lr through the best grid point and its
  two neighbours, clipped to them); the drift is the least-squares slope of log2(optimum)
  against log2(width), times the 3 octaves from width 64 to 512.
- ``mup:coord-check``: the coordinate check (largest mean |activation change| over the first
  5 Adam steps) at widths 64 and 1024.

Each check reports its effects per seed; the verdict is the t-interval over seeds
(``assay.claims.decide``). Guards: an arm whose sweep never left chance (or has no finite
trial) makes the comparison INVALID; an optimum at the edge of its grid is a bound, so the
drift is NOT-ESTABLISHED; a coordinate check whose width-64 activations never moved has no
ratio to take (VACUOUS).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Guard, at_least, between, diverged, grid_at_edge, invalid, not_established, sweep_trials,
    vacuous,
)
from assay.lib.optimum import grid_optimum

WIDTHS = (64, 128, 256, 512)
LR = "methods.optimizer.lr"
LOSS = "val/loss"
CHANCE_LOSS = math.log(8)  # cross-entropy of a uniform guess over the arms' 8 classes
MAX_DRIFT_MUP = 1.0        # octaves of lr over 8x width: muP must drift less than this ...
MIN_DRIFT_SP = 1.0         # ... and SP at least this much (the effect muP removes)
ROLES = ("input", "hidden", "readout")


def arm_points(m: Metrics, arm: str) -> list[tuple[float, ...]]:
    """(lr, val/loss) of every finished trial of one sweep arm with a finite loss."""
    return sweep_trials(m, arm, LR, metric=LOSS)


def arm_optimum(m: Metrics, arm: str) -> float:
    """log2 of one sweep arm's loss-optimal learning rate (nan without a finite trial)."""
    return math.log2(grid_optimum(arm_points(m, arm)))


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys against xs."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def sweep_guard(m: Metrics, arms: Sequence[str]) -> Guard | None:
    """INVALID when an arm has no finite trial or its best loss is no better than chance (the
    optimum of a grid that never learned says nothing); NOT-ESTABLISHED when an arm's best
    learning rate is the smallest or largest of its grid."""
    dead = [a for a in arms if not arm_points(m, a)
            or diverged(min(loss for _, loss in arm_points(m, a)), chance=CHANCE_LOSS,
                        higher_is_better=False)]
    if dead:
        return invalid(f"no trial below chance loss ln 8 for {', '.join(dead)}")
    edged = [a for a in arms if grid_at_edge(arm_points(m, a))]
    if edged:
        return not_established(f"best lr at the grid's edge for {', '.join(edged)}")
    return None


def lr_transfer(m: Metrics) -> Verdict:
    xs = [math.log2(w) for w in WIDTHS]
    span = xs[-1] - xs[0]
    arms = [f"{p}_w{w}" for p in ("mup", "sp") for w in WIDTHS]
    guard = sweep_guard(m, arms)
    numbers: dict[str, float] = {}
    for p in ("mup", "sp"):
        opt = [arm_optimum(m, f"{p}_w{w}") for w in WIDTHS] if guard is None else []
        numbers.update({f"{p}_w{w}_log2_lr": o for w, o in zip(WIDTHS, opt)})
        numbers[f"{p}_slope"] = slope(xs, opt) if opt else math.nan
        numbers[f"{p}_drift_octaves"] = numbers[f"{p}_slope"] * span
    mup, sp = numbers["mup_drift_octaves"], numbers["sp_drift_octaves"]
    return Verdict(
        f"optimal-lr drift over widths {WIDTHS[0]}-{WIDTHS[-1]}: muP {mup:+.2f} octaves "
        f"(slope {numbers['mup_slope']:+.2f}), SP {sp:+.2f} octaves (slope "
        f"{numbers['sp_slope']:+.2f}) (paper: |muP| < {MAX_DRIFT_MUP:g}, "
        f"|SP| >= {MIN_DRIFT_SP:g})",
        [between("mup_drift_octaves", mup, -MAX_DRIFT_MUP, MAX_DRIFT_MUP),
         at_least("sp_abs_drift_octaves", abs(sp), MIN_DRIFT_SP)],
        guard=guard, numbers=numbers)


def coord_guard(m: Metrics) -> Guard | None:
    """INVALID when an activation change is not finite; VACUOUS when a width-64 arm's
    activations never moved (no change to compare the wide model's with)."""
    deltas = {k: m[k] for k in (f"{p}_w{w}/coord/{r}_delta" for p in ("mup", "sp")
                                for w in (64, 1024) for r in ROLES)}
    bad = [k for k, v in deltas.items() if not math.isfinite(v)]
    if bad:
        return invalid(f"activation change not finite: {', '.join(bad)}")
    still = [k for k, v in deltas.items() if "_w64/" in k and v == 0]
    if still:
        return vacuous(f"no activation change at width 64: {', '.join(still)}")
    return None


def coord_check(m: Metrics) -> Verdict:
    guard = coord_guard(m)
    ratio = {f"{p}_{role}": (m[f"{p}_w1024/coord/{role}_delta"] / m[f"{p}_w64/coord/{role}_delta"]
                             if guard is None else math.nan)
             for p in ("mup", "sp") for role in ROLES}
    detail = ("width 1024/64 ratio of the largest activation change in 5 steps: muP input "
              "{mup_input:.2f}, hidden {mup_hidden:.2f}, logits {mup_readout:.2f} (paper: all in "
              "[0.5, 2]); SP logits {sp_readout:.2f} (paper: >= 4)").format(**ratio)
    effects = [between(f"mup_{r}_ratio", ratio[f"mup_{r}"], 0.5, 2.0) for r in ROLES]
    effects.append(at_least("sp_readout_ratio", ratio["sp_readout"], 4.0))
    return Verdict(detail, effects, guard=guard, numbers=ratio)


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
