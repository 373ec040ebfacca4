"""The paper's batch-size rule at small scale: the best learning rate is measured at five
batch sizes (8-128) for SGD and for AdamW (digits MLP, 4 epochs at every batch size, constant
rate, scored by the loss on the whole training set), and its growth exponent is fitted.

Each arm is one grid sweep over learning rate x batch size. The best rate at a batch size is
not the raw argmin of the grid: a parabola in log(lr) through the best grid point and its two
neighbours gives the minimiser, clipped to those neighbours (``assay.lib.optimum``).

Each check reports its effects per seed; the verdict is the t-interval over seeds
(``assay.claims.decide``). Guards, over the batch sizes a fit uses: a batch size whose every
rate stayed at chance (or diverged) makes the exponent INVALID; a best rate at the edge of
the lr grid is censored, so the exponent is NOT-ESTABLISHED.
"""
from __future__ import annotations

import math

import numpy as np

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Guard, at_least, between, diverged, invalid, not_established, sweep_trials,
)
from assay.lib.optimum import grid_at_edge, grid_optimum

LR, BATCH, OBJECTIVE = "methods.optimizer.lr", "train.batch_size", "train_full/loss"
ARMS = {"sgd": "configs/sgd_digits.yaml", "adamw": "configs/adamw_digits.yaml"}
MIN_FIT = 3                 # batch sizes always in the fit, smallest first
CHANCE_LOSS = math.log(10)  # cross-entropy of a uniform guess over the 10 digits


def per_batch(m: Metrics, arm: str) -> dict[float, list[tuple[float, float]]]:
    """batch size -> (lr, loss) of its finished trials with a finite loss."""
    rows = sweep_trials(m, arm, BATCH, LR, metric=OBJECTIVE)
    return {b: [(lr, loss) for bb, lr, loss in rows if bb == b]
            for b in sorted({r[0] for r in rows})}


def exponent(best: dict[float, float]) -> tuple[float, list[float]]:
    """Slope of log(best lr) against log(batch) over the non-saturated range: the first
    MIN_FIT batch sizes, extended while the best rate keeps rising."""
    bs = sorted(best)
    k = min(MIN_FIT, len(bs))
    while k < len(bs) and best[bs[k]] > best[bs[k - 1]]:
        k += 1
    used = bs[:k]
    if len(used) < 2:
        return math.nan, used
    slope = np.polyfit(np.log(used), np.log([best[b] for b in used]), 1)[0]
    return float(slope), used


def fit_guard(arm: str, points: dict[float, list[tuple[float, float]]], used: list[float]
              ) -> Guard | None:
    """INVALID when the arm has no finite trial or a batch size in its fit never left chance;
    NOT-ESTABLISHED when a best rate in its fit is the smallest or largest rate tried."""
    dead = [int(b) for b in used
            if diverged(min(loss for _, loss in points[b]), chance=CHANCE_LOSS,
                        higher_is_better=False)]
    if not points or dead:
        return invalid(f"{arm}: no finite trial" if not points else
                       f"{arm}: no rate below chance loss ln 10 at B = {dead}")
    edges = [int(b) for b in used if grid_at_edge(points[b])]
    if edges:
        return not_established(f"{arm}: best lr at the grid edge for B = {edges}")
    return None


def _exponents(m: Metrics) -> tuple[dict[str, float], str, Guard | None]:
    """Both arms' exponents, a readable detail, and the first guard of either fit."""
    numbers: dict[str, float] = {}
    parts, guards = [], []
    for arm in ("sgd", "adamw"):
        points = per_batch(m, arm)
        best = {b: grid_optimum(pts) for b, pts in points.items()}
        a, used = exponent(best)
        numbers[f"{arm}_exponent"] = a
        guards.append(fit_guard(arm, points, used))
        parts.append(f"{arm}: a = {a:.2f} over B = {[int(b) for b in used]} (best lr "
                     f"{', '.join(f'{lr:.3g}' for lr in best.values())})")
    ordered = sorted((g for g in guards if g), key=lambda g: g.kind != "INVALID")
    return numbers, "; ".join(parts), (ordered or [None])[0]


def sgd_steeper(m: Metrics) -> Verdict:
    numbers, detail, guard = _exponents(m)
    s, a = numbers["sgd_exponent"], numbers["adamw_exponent"]
    numbers["sgd_minus_adamw"] = s - a
    return Verdict(f"{detail} (paper: 1 vs 0.5; passes at both >= 0.1 and sgd - adamw >= 0.2)",
                   [at_least("sgd_exponent", s, 0.1), at_least("adamw_exponent", a, 0.1),
                    at_least("sgd_minus_adamw", s - a, 0.2)], guard=guard, numbers=numbers)


def linear_and_sqrt(m: Metrics) -> Verdict:
    numbers, detail, guard = _exponents(m)
    s, a = numbers["sgd_exponent"], numbers["adamw_exponent"]
    return Verdict(f"{detail} (passes at sgd in [0.6, 1.2] and adamw in [0.25, 0.75])",
                   [between("sgd_exponent", s, 0.6, 1.2),
                    between("adamw_exponent", a, 0.25, 0.75)], guard=guard, numbers=numbers)


SMOKE = {"methods.trainer.epochs": 0.5, "train.eval_every": 10, "sweep.trials": 4}

CLAIMS = [
    Claim(
        id="lr-batch-law:sgd-steeper-than-adam",
        statement="The best learning rate grows with batch size for both SGD and AdamW "
                  "(fitted exponent >= 0.1), and faster for SGD (exponent at least 0.2 larger)",
        source="arXiv:2006.09092, abstract; learning-rate scaling experiments (VGG/WideResNet)",
        arms=ARMS, check=sgd_steeper, package=__package__, budget_s=600, smoke=SMOKE,
    ),
    Claim(
        id="lr-batch-law:linear-and-sqrt",
        statement="Below saturation the best learning rate grows like B^a with a near 1 for SGD "
                  "(0.6-1.2) and near 1/2 for AdamW (0.25-0.75)",
        source="arXiv:2006.09092, abstract; learning-rate scaling experiments (VGG/WideResNet)",
        arms=ARMS, check=linear_and_sqrt, package=__package__, budget_s=600, smoke=SMOKE,
    ),
]
