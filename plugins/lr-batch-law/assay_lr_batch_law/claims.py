"""The paper's batch-size rule at small scale: the best learning rate is measured at five
batch sizes (8-128) for SGD and for AdamW (digits MLP, 4 epochs at every batch size, constant
rate, scored by the loss on the whole training set), and its growth exponent is fitted.

Each arm is one grid sweep over learning rate x batch size. The best rate at a batch size is
not the raw argmin of the grid: a parabola in log(lr) through the best grid point and its two
neighbours gives the minimiser, clipped to those neighbours (``optimum``).
"""
from __future__ import annotations

import math

import numpy as np

from assay import Claim, Metrics, Verdict
from assay.claims import grid_at_edge, grid_optimum, sweep_trials

LR, BATCH, OBJECTIVE = "methods.optimizer.lr", "train.batch_size", "train_full/loss"
ARMS = {"sgd": "configs/sgd_digits.yaml", "adamw": "configs/adamw_digits.yaml"}
MIN_FIT = 3          # batch sizes always in the fit, smallest first


def trials(m: Metrics, arm: str, *params: str, metric: str = OBJECTIVE) -> list[tuple[float, ...]]:
    """(param values..., metric) of every finished trial of ``arm`` with a finite metric."""
    return sweep_trials(m, arm, *params, metric=metric)


optimum, at_edge = grid_optimum, grid_at_edge   # shared with the other law plugins (core)


def best_lr_per_batch(m: Metrics, arm: str) -> dict[float, tuple[float, bool]]:
    """batch size -> (best lr, whether it is censored at the lr grid's edge)."""
    rows = trials(m, arm, BATCH, LR)
    out = {}
    for b in sorted({r[0] for r in rows}):
        pts = [(lr, loss) for bb, lr, loss in rows if bb == b]
        out[b] = (optimum(pts), at_edge(pts))
    return out


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


def _exponents(m: Metrics) -> tuple[dict[str, float], str, bool]:
    """Exponents, a readable detail, and whether any best rate used in a fit is censored at
    the lr grid's edge (then the exponent is not established and no claim passes)."""
    numbers: dict[str, float] = {}
    parts, censored = [], False
    for arm in ("sgd", "adamw"):
        found = best_lr_per_batch(m, arm)
        a, used = exponent({b: lr for b, (lr, _) in found.items()})
        numbers[f"{arm}_exponent"] = a
        edges = [int(b) for b in used if found[b][1]]
        censored = censored or bool(edges)
        parts.append(f"{arm}: a = {a:.2f} over B = {[int(b) for b in used]} (best lr "
                     f"{', '.join(f'{lr:.3g}' for lr, _ in found.values())})"
                     + (f" NOT ESTABLISHED: best lr at the grid edge for B = {edges}"
                        if edges else ""))
    return numbers, "; ".join(parts), censored


def sgd_steeper(m: Metrics) -> Verdict:
    numbers, detail, censored = _exponents(m)
    s, a = numbers["sgd_exponent"], numbers["adamw_exponent"]
    ok = s >= 0.1 and a >= 0.1 and s - a >= 0.2 and not censored
    return Verdict(ok, f"{detail} (pass: both >= 0.1 and sgd - adamw >= 0.2; paper: 1 vs 0.5)",
                   numbers)


def linear_and_sqrt(m: Metrics) -> Verdict:
    numbers, detail, censored = _exponents(m)
    s, a = numbers["sgd_exponent"], numbers["adamw_exponent"]
    ok = 0.6 <= s <= 1.2 and 0.25 <= a <= 0.75 and not censored
    return Verdict(ok, f"{detail} (pass: sgd in [0.6, 1.2] and adamw in [0.25, 0.75])", numbers)


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
