"""Outliers of the Hessian spectrum versus classes and width: one run per (classes, width)
on Gaussian-cluster data, each trained to near-zero loss, then measured by Lanczos.

Each check reports its effects per seed (one per case or class count); the verdict comes from
the t-interval over seeds (``assay.claims.decide``) and is PASS only when every effect passes.
Guards: INVALID when a run diverged or sits at chance; VACUOUS for the width claim when no
case shows any outlier beyond the top eigenvalue (nothing to compare across widths).
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_most, between, diverged, invalid, vacuous

OUT = "hessian/outliers"
CASES = [(4, 32), (10, 32), (4, 128), (10, 128)]      # (classes, width)
MAX_WIDTH_CHANGE = 1.0
# The largest-gap rule always splits off at least the top eigenvalue, so a count of 1 (or 0)
# is no outlier group at all: when no case has more, the width claim has nothing to compare.
LONE_TOP = 1
CHANCE_MARGIN = 0.05    # a run within 5 points of chance (1 / classes) has not trained


def _count(m: Metrics, classes: int, width: int) -> float:
    """The case's outlier count; NaN when its run diverged before the spectrum was taken (the
    guard or the non-finite effect then makes the claim INVALID)."""
    return m.get(f"c{classes}w{width}/{OUT}", math.nan)


def trained_guard(m: Metrics) -> Guard | None:
    """INVALID when a run diverged or never left chance: both claims are about the spectrum
    after training."""
    acc = {(c, w): m.get(f"c{c}w{w}/val/acc", math.nan) for c, w in CASES}
    bad = [f"c{c}w{w} val/acc {acc[c, w]:.3f}" for c, w in CASES
           if diverged(acc[c, w], chance=1 / c, margin=CHANCE_MARGIN)]
    if bad:
        shown = ", ".join(bad)
        return invalid(f"run at chance or diverged: {shown}")
    return None


def outliers_track_classes(m: Metrics) -> Verdict:
    counts = {case: _count(m, *case) for case in CASES}
    shown = ", ".join(f"{c} classes/width {w}: {n:g}" for (c, w), n in counts.items())
    return Verdict(f"outliers {shown} (paper: within classes +-1 in every case)",
                   [between(f"outliers_c{c}_w{w}", n, c - 1, c + 1)
                    for (c, w), n in counts.items()],
                   guard=trained_guard(m),
                   numbers={f"outliers_c{c}_w{w}": n for (c, w), n in counts.items()})


def outliers_ignore_width(m: Metrics) -> Verdict:
    diffs = {c: abs(_count(m, c, 128) - _count(m, c, 32)) for c in (4, 10)}
    params = m.get("c10w128/hessian/n_params", math.nan) / m.get("c10w32/hessian/n_params",
                                                                   math.nan)
    shown = ", ".join(f"{c} classes: |width 128 - width 32| = {d:g}" for c, d in diffs.items())
    guard = trained_guard(m)
    if guard is None and all(_count(m, *case) <= LONE_TOP for case in CASES):
        guard = vacuous("no outliers found: every case has at most the lone top eigenvalue "
                        "above its largest gap")
    return Verdict(f"{shown}, while parameters grow {params:.1f}x (paper: <= 1 each)",
                   [at_most(f"width_change_c{c}", d, MAX_WIDTH_CHANGE) for c, d in diffs.items()],
                   guard=guard, numbers={f"width_change_c{c}": d for c, d in diffs.items()})


ARMS = {f"c{c}w{w}": f"configs/c{c}w{w}.yaml" for c, w in CASES}
SMOKE = {"train.steps": 20, "train.eval_every": 10, "methods.trainer.lanczos_iters": 30}

CLAIMS = [
    Claim(
        id="hessian-bulk-outliers:outliers-track-classes",
        statement="After training, the training-loss Hessian has about as many outlier "
                  "eigenvalues above the bulk as there are classes (within +-1), for 4 and 10 "
                  "classes",
        source="arXiv:1706.04454, Sec. 3 (outliers set by the data's clusters) and Sagun et "
               "al. 2016 (arXiv:1611.07476)",
        arms=ARMS, check=outliers_track_classes, package=__package__, budget_s=300,
        smoke=SMOKE,
    ),
    Claim(
        id="hessian-bulk-outliers:outliers-ignore-width",
        statement="Widening the network 4x (about 10x the parameters) changes the number of "
                  "Hessian outliers by at most one",
        source="arXiv:1706.04454, Sec. 3 (more parameters only scale the bulk)",
        arms=ARMS, check=outliers_ignore_width, package=__package__, budget_s=300, smoke=SMOKE,
    ),
]
