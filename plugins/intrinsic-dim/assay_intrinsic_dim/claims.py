"""Intrinsic-dimension claims on digits: one subspace-dimension scan (a grid sweep over
``methods.parameterization.dim``) and one full-parameter run per MLP width, per seed.

d_int90 is the smallest scanned d whose final val/acc reaches 90% of the full model's
(arXiv:1804.08838, Sec. 2: "the dimension at which performance first reaches 90% of the
baseline"). It is ``inf`` when no scanned d gets there.

Each check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guards: INVALID when a full-model baseline diverged or sits at
chance (90% of chance is reached by anything); NOT-ESTABLISHED when d_int90 is censored by
the scan's grid, so that the effect would rest on a bound: beyond the largest d scanned
(both claims), or at the smallest (the width ratio, which a smaller true d could change).
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_most, between, diverged, invalid, not_established, sweep_trials

DIM = "methods.parameterization.dim"
WIDTHS = (32, 256)
MAX_FRACTION = 0.05
RATIO_RANGE = (0.5, 2.0)
CHANCE = 0.1            # 10 digit classes
CHANCE_MARGIN = 0.05    # a full model within 5 points of chance has not trained


def scanned(m: Metrics, width: int) -> list[tuple[float, float]]:
    """(dim, final val/acc) of every finished grid point of the width's scan."""
    return sweep_trials(m, f"sub{width}", DIM, metric="val/acc")


def d_int90(m: Metrics, width: int) -> float:
    """Smallest scanned dim whose val/acc is >= 0.9 x the full model's val/acc."""
    target = 0.9 * m[f"full{width}/val/acc"]
    return min((d for d, acc in scanned(m, width) if acc >= target), default=math.inf)


def baseline_guard(m: Metrics, *widths: int) -> Guard | None:
    """INVALID when a full model (the 100% d_int90 is measured against) never trained."""
    acc = {w: m.get(f"full{w}/val/acc", math.nan) for w in widths}
    bad = [f"full{w} val/acc {acc[w]:.3f}" for w in widths
           if diverged(acc[w], chance=CHANCE, margin=CHANCE_MARGIN)]
    if bad:
        shown = ", ".join(bad)
        return invalid(f"full-model baseline at chance or diverged: {shown}")
    return None


def censored_guard(m: Metrics, widths: tuple[int, ...], bottom: bool) -> Guard | None:
    """NOT-ESTABLISHED when a width's d_int90 lies beyond its scan (no d reached 90%) or,
    with ``bottom``, sits at the smallest d scanned (the true one may be smaller)."""
    reasons = []
    for w in widths:
        d, dims = d_int90(m, w), [d for d, _ in scanned(m, w)]
        if not math.isfinite(d):
            reasons.append(f"width {w}: no scanned d reached 90% (d_int90 > "
                           f"{max(dims, default=math.nan):g})")
        elif bottom and d == min(dims):
            reasons.append(f"width {w}: d_int90 = {d:g} is the smallest d scanned")
    return not_established("; ".join(reasons)) if reasons else None


def small_fraction(m: Metrics) -> Verdict:
    d = d_int90(m, 256)
    frac = d / m["full256/cost/params"]
    guard = baseline_guard(m, 256) or censored_guard(m, (256,), bottom=False)
    return Verdict(f"width-256 MLP: d_int90 = {d:g} = {100 * frac:.2f}% of "
                   f"{m['full256/cost/params']:.0f} parameters (paper: <= 5%)",
                   [at_most("fraction", frac, MAX_FRACTION)], guard=guard,
                   numbers={"d_int90": d, "fraction": frac})


def width_stable(m: Metrics) -> Verdict:
    small, large = d_int90(m, 32), d_int90(m, 256)
    ratio = large / small if math.isfinite(small) and math.isfinite(large) else math.nan
    params = m["full256/cost/params"] / m["full32/cost/params"]
    guard = baseline_guard(m, *WIDTHS) or censored_guard(m, WIDTHS, bottom=True)
    return Verdict(f"d_int90 width 256 / width 32 = {large:g}/{small:g} = {ratio:.2f} "
                   f"while parameters grow {params:.1f}x (paper: ratio in [0.5, 2])",
                   [between("ratio", ratio, *RATIO_RANGE)], guard=guard,
                   numbers={"d_int90_32": small, "d_int90_256": large, "ratio": ratio})


ARMS = {f"{kind}{w}": f"configs/{kind}{w}.yaml" for kind in ("full", "sub") for w in WIDTHS}
SMOKE = {"train.steps": 20, "train.eval_every": 10, "sweep.trials": 2}

CLAIMS = [
    Claim(
        id="intrinsic-dim:small-fraction",
        statement="A random subspace of under 5% of the parameters suffices to reach 90% of "
                  "the full model's accuracy (digits, one-hidden-layer MLP of width 256)",
        source="arXiv:1804.08838, Sec. 3.1 (MNIST: d_int90 = 750 of 199k parameters)",
        arms=ARMS, check=small_fraction, package=__package__, budget_s=600, smoke=SMOKE,
    ),
    Claim(
        id="intrinsic-dim:width-stable",
        statement="d_int90 changes by at most 2x between MLP widths 32 and 256, while the "
                  "parameter count grows 8x",
        source="arXiv:1804.08838, Sec. 3.1, Fig. 3 (d_int90 nearly constant across FC sizes)",
        arms=ARMS, check=width_stable, package=__package__, budget_s=600, smoke=SMOKE,
    ),
]
