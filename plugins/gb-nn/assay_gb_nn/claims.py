"""GB-NN's claims at small scale: a one-hidden-layer net of 100 ReLU units on scikit-learn's
digits and breast_cancer, grown by gradient boosting (10 stages x 10 units) or trained by
AdamW all at once, 1000 steps each, the learning rate of every arm swept on one 7-point grid
and the trial with the lowest validation loss kept.

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Accuracy differences move in steps of one validation example
(100 / n_val points), declared as the effects' resolution. Guards: INVALID when an AdamW
baseline is at chance (digits: 10%; breast_cancer: the majority class, 63%) or an arm has no
finished trial; NOT-ESTABLISHED when an arm's best learning rate is the grid's smallest or
largest.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Effect,
    Guard,
    above,
    at_least,
    at_most,
    diverged,
    grid_at_edge,
    invalid,
    not_established,
    sweep_trials,
    trials,
)

LR = "methods.optimizer.lr"
DATASETS = {"digits": (0.10, 0.05), "cancer": (0.63, 0.02)}     # chance, margin
MATCH_PTS = -1.0          # GB within 1 point of AdamW's accuracy
DROP_PTS = 2.0            # switching off the last 30% of GB's units loses at most 2 points


def best_trial(m: Metrics, arm: str) -> dict[str, float] | None:
    done = [t for t in trials(m, arm) if math.isfinite(t.get("val/loss", math.nan))
            and "switch_off/last_pts" in t]
    return min(done, key=lambda t: t["val/loss"]) if done else None


def tuned(m: Metrics) -> tuple[dict[str, dict[str, float]], Guard | None]:
    """Every arm's best trial, and the guard that stops the comparison (if any)."""
    runs = {f"{kind}_{ds}": best_trial(m, f"{kind}_{ds}") for ds in DATASETS
            for kind in ("gb", "adam")}
    missing = [arm for arm, t in runs.items() if t is None]
    if missing:
        return {}, invalid(f"no finished trial for {', '.join(missing)}")
    found = {arm: t for arm, t in runs.items() if t is not None}
    for ds, (chance, margin) in DATASETS.items():
        acc = found[f"adam_{ds}"]["val/acc"]
        if diverged(acc, chance=chance, margin=margin):
            return found, invalid(f"adam_{ds} is at chance (val/acc {acc:.3f})")
    edged = [a for a in found if grid_at_edge(sweep_trials(m, a, LR, metric="val/loss"))]
    if edged:
        return found, not_established(f"best lr at the grid's edge for {', '.join(edged)}")
    return found, None


def step_of(t: dict[str, float]) -> float:
    """One validation example, in accuracy points."""
    return 100.0 / t.get("gbnn/n_val", math.inf)


def matches_adam(m: Metrics) -> Verdict:
    runs, stop = tuned(m)
    if stop and stop.kind == "INVALID":
        return Verdict(stop.reason, guard=stop)
    effects: list[Effect] = []
    words = []
    for ds in DATASETS:
        gb, adam = runs[f"gb_{ds}"], runs[f"adam_{ds}"]
        gap = 100 * (gb["val/acc"] - adam["val/acc"])
        effects.append(at_least(f"acc_gap_pts_{ds}", gap, MATCH_PTS, resolution=step_of(gb)))
        words.append(f"{ds}: GB {gb['val/acc']:.4f} (lr {gb[LR]:g}), AdamW "
                     f"{adam['val/acc']:.4f} (lr {adam[LR]:g}), gap {gap:+.2f} pts")
    return Verdict("; ".join(words) + f" (paper: >= {MATCH_PTS} each)", effects, guard=stop)


def switches_off_gracefully(m: Metrics) -> Verdict:
    runs, stop = tuned(m)
    if stop and stop.kind == "INVALID":
        return Verdict(stop.reason, guard=stop)
    effects: list[Effect] = []
    words = []
    for ds in DATASETS:
        gb, adam = runs[f"gb_{ds}"], runs[f"adam_{ds}"]
        last, rand = gb["switch_off/last_pts"], adam["switch_off/random_pts"]
        res = step_of(gb)
        effects += [at_most(f"gb_last_drop_pts_{ds}", last, DROP_PTS, resolution=res),
                    above(f"adam_random_minus_gb_last_pts_{ds}", rand - last, 0.0,
                          resolution=res)]
        words.append(f"{ds}: GB loses {last:+.2f} pts without its last 30% of units, AdamW "
                     f"{rand:+.2f} pts without a random 30%")
    return Verdict("; ".join(words) + f" (paper: GB <= {DROP_PTS} and less than AdamW)",
                   effects, guard=stop)


def _arms() -> dict[str, str]:
    return {f"{kind}_{ds}": f"configs/{kind}_{ds}.yaml" for ds in DATASETS
            for kind in ("gb", "adam")}


SOURCE = "arXiv:1909.12098 (IEEE Access 2023), abstract and the experiments section"

CLAIMS = [
    Claim(
        id="gb-nn:matches-adam",
        statement="A one-hidden-layer net of 100 units trained by gradient boosting (10 "
                  "stages of 10 units fitted to pseudo-residuals, merged into one layer) ends "
                  "within 1 point of the validation accuracy of the same net trained by Adam, "
                  "on digits and on breast_cancer",
        source=SOURCE + " (generalisation against Adam, L-BFGS and SGD)",
        arms=_arms(), check=matches_adam, package=__package__, seeds=5, budget_s=600,
    ),
    Claim(
        id="gb-nn:switches-off-gracefully",
        statement="Switching off the last 30% of the boosted net's hidden units (its last 3 "
                  "stages) loses at most 2 points of accuracy, less than switching off a "
                  "random 30% of the Adam-trained net's units, on digits and on breast_cancer",
        source=SOURCE + " (switching off the last-trained units at test time)",
        arms=_arms(), check=switches_off_gracefully, package=__package__, seeds=5,
        budget_s=600,
    ),
]
