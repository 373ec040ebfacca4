"""Does pretraining lower the intrinsic dimension of a task? An MLP (width 256, depth 2) is
pretrained on MNIST-1D digits 0-4, then trained on digits 5-9 either fully (``ft-full``) or
only in a random d-dimensional subspace around the pretrained weights (``ft-sub``, a grid
sweep over d); the same pair from a random initialisation (``scratch-full``,
``scratch-sub``) gives the intrinsic dimension of learning the task without pretraining.

d90 is the subspace dimension at which the final validation accuracy first reaches 90% of
the matching full-training accuracy, interpolated linearly in log d between the last scanned
d below that target and the first one at or above it (the grid doubles or more, too coarse
for a ratio of 0.5 to be read off grid points). It is ``inf`` when no scanned d reaches it.

Each check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guards: INVALID when a full-training baseline diverged or sits
within 5 points of chance (20% for five classes); NOT-ESTABLISHED when the ratio rests on a
bound on the wrong side: the fine-tuning d90 beyond the scan, the from-scratch d90 at the
smallest d scanned (its true value may be smaller), or the from-scratch d90 beyond the scan
while even the largest scanned d would not make the ratio 0.5 or less. A from-scratch d90
beyond the scan with a ratio bound already at most 0.5 is measured as that bound (the true
ratio is smaller), and a fine-tuning d90 at the smallest d likewise (its true value is at
most that).
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_most, diverged, invalid, not_established, sweep_trials

DIM, ACC = "methods.adapter.dim", "val/acc"
MAX_RATIO = 0.5
CHANCE, MARGIN = 0.2, 0.05     # five classes; a baseline within 5 points of chance never trained


def scan(m: Metrics, arm: str) -> list[tuple[float, float]]:
    """(d, final val/acc) of every finished grid point, by d."""
    return sorted(sweep_trials(m, arm, DIM, metric=ACC))


def d90(points: list[tuple[float, float]], full_acc: float) -> float:
    """The d where accuracy first reaches 0.9 x ``full_acc`` (log-linear between grid points;
    the smallest d when it is already there; inf when never)."""
    target = 0.9 * full_acc
    for i, (d, acc) in enumerate(points):
        if acc >= target:
            if i == 0:
                return d
            (d0, a0) = points[i - 1]
            frac = (target - a0) / (acc - a0)
            return math.exp(math.log(d0) + frac * (math.log(d) - math.log(d0)))
    return math.inf


def baseline_guard(m: Metrics) -> Guard | None:
    bad = [f"{arm} val/acc {m.get(f'{arm}/{ACC}', math.nan):.3f}"
           for arm in ("ft-full", "scratch-full")
           if diverged(m.get(f"{arm}/{ACC}", math.nan), chance=CHANCE, margin=MARGIN)]
    return invalid(f"full-training baseline at chance or diverged: {', '.join(bad)}") if bad \
        else None


def pretraining_lowers_d90(m: Metrics) -> Verdict:
    stop = baseline_guard(m)
    if stop is not None:
        return Verdict(stop.reason, guard=stop)
    ft, scratch = scan(m, "ft-sub"), scan(m, "scratch-sub")
    if not ft or not scratch:
        stop = invalid("a subspace scan has no finished grid point")
        return Verdict(stop.reason, guard=stop)
    d_ft = d90(ft, m[f"ft-full/{ACC}"])
    d_scratch = d90(scratch, m[f"scratch-full/{ACC}"])
    smallest, largest = scratch[0][0], scratch[-1][0]
    ratio = d_ft / min(d_scratch, largest)           # an upper bound when d_scratch is inf
    reasons = []
    if not math.isfinite(d_ft):
        reasons.append(f"fine-tuning: no scanned d reached 90% (d90 > {ft[-1][0]:g})")
    if d_scratch == smallest:
        reasons.append(f"from scratch: d90 at the smallest d scanned ({smallest:g})")
    if not math.isfinite(d_scratch) and not ratio <= MAX_RATIO:
        reasons.append(f"from scratch: no scanned d reached 90% and d90_ft / {largest:g} = "
                       f"{ratio:.2f} > {MAX_RATIO}")
    guard = not_established("; ".join(reasons)) if reasons else None
    return Verdict(f"d90 fine-tuning {d_ft:.4g}, from scratch {d_scratch:.4g}; ratio "
                   f"{'<= ' if not math.isfinite(d_scratch) else ''}{ratio:.3f} "
                   f"(paper: <= {MAX_RATIO})",
                   [at_most("d90_ratio", ratio if math.isfinite(ratio) else math.nan,
                            MAX_RATIO)],
                   guard=guard, numbers={"d90_ft": d_ft, "d90_scratch": d_scratch})


ARMS = {arm: f"configs/{arm}.yaml" for arm in ("ft-full", "ft-sub", "scratch-full",
                                                 "scratch-sub")}

CLAIMS = [
    Claim(
        id="intrinsic-dimension-ft:pretraining-lowers-d90",
        statement="The intrinsic dimension d90 of adapting an MLP pretrained on MNIST-1D digits "
                  "0-4 to digits 5-9 is at most half that of learning digits 5-9 with the same "
                  "MLP from a random initialisation",
        source="arXiv:2012.13255, abstract and its pre-training experiments (pre-training "
               "implicitly minimises intrinsic dimension)",
        arms=ARMS, check=pretraining_lowers_d90, package=__package__, seeds=5, budget_s=720,
    ),
]
