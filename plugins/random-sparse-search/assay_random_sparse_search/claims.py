"""The paper's null result at small scale: on an MNIST-1D MLP 40-256-256-10, 20 random node
masks per sparsity level (50%, 75%, 90% of each hidden layer's units removed), all on the same
initialisation of a seed, each trained to the end (640 steps, ~20 epochs). Random Search keeps
the mask with the lowest validation loss after the first epoch; the check compares that mask's
final accuracy with the mean final accuracy of the other 19 (the random counterparts).

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guard: INVALID when a level has fewer than 5 finished masks, no
screening score, or the random masks' mean accuracy is at chance.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_most, diverged, invalid, trials

MAX_GAIN_PTS = 1.0        # "no better than the average mask": at most 1 point above it
LEVELS = {"sp50": 50, "sp75": 75, "sp90": 90}
MIN_TRIALS = 5
CHANCE, MARGIN = 0.1, 0.05
SCREEN, ACC = "search/screen_score", "val/acc"


def finished(m: Metrics, arm: str) -> list[dict[str, float]]:
    return [t for t in trials(m, arm)
            if math.isfinite(t.get(SCREEN, math.nan)) and math.isfinite(t.get(ACC, math.nan))]


def level_guard(arm: str, done: list[dict[str, float]]) -> Guard | None:
    if len(done) < MIN_TRIALS:
        return invalid(f"{arm}: only {len(done)} masks finished with a screening score")
    mean = sum(t[ACC] for t in done) / len(done)
    if diverged(mean, chance=CHANCE, margin=MARGIN):
        return invalid(f"{arm}: the random masks' mean val/acc {mean:.3f} is at chance")
    return None


def selected_vs_average(done: list[dict[str, float]]) -> tuple[float, float, float]:
    """(accuracy of the mask with the lowest screening score, mean accuracy of the others,
    gain in points)."""
    best = min(range(len(done)), key=lambda i: done[i][SCREEN])
    others = [t[ACC] for i, t in enumerate(done) if i != best]
    mean = sum(others) / len(others)
    return done[best][ACC], mean, 100 * (done[best][ACC] - mean)


def search_no_better(m: Metrics) -> Verdict:
    effects, parts, numbers = [], [], {}
    for arm, level in LEVELS.items():
        done = finished(m, arm)
        stop = level_guard(arm, done)
        if stop:
            return Verdict(stop.reason, guard=stop)
        acc, mean, gain = selected_vs_average(done)
        effects.append(at_most(f"gain_pts_at_{level}", gain, MAX_GAIN_PTS))
        parts.append(f"{level}%: selected {acc:.4f} vs mean of {len(done) - 1} others "
                     f"{mean:.4f} ({gain:+.2f} pts)")
        numbers.update({f"selected_acc_{level}": acc, f"mean_acc_{level}": mean,
                        f"n_masks_{level}": float(len(done))})
    return Verdict("; ".join(parts) + f" (paper: no better; here <= {MAX_GAIN_PTS:g} pt above)",
                   effects, numbers=numbers)


# smoke: two epochs of steps and 5 masks per level
SMOKE = {"train.steps": 64, "train.eval_every": 32, "sweep.trials": 5}

CLAIMS = [
    Claim(
        id="random-sparse-search:search-no-better",
        statement="At 50%, 75% and 90% node sparsity, the best of 20 random node masks, "
                  "chosen by validation loss after one epoch, ends no more than 1 point above "
                  "the average random mask after full training",
        source="arXiv:2403.08265, abstract (sparse networks found by Random Search perform no "
               "better than random ones at the same sparsity) and its results per sparsity",
        arms={arm: f"configs/{arm}_mnist1d.yaml" for arm in LEVELS},
        check=search_no_better, package=__package__, seeds=5, budget_s=900, smoke=SMOKE,
    ),
]
