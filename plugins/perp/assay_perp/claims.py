"""PERP's claim at small scale: a BatchNorm 1-D CNN pretrained on MNIST-1D loses 70% of its
conv weights to one-shot global magnitude pruning and is retrained for one epoch, either fully
or only in its biases and BatchNorm parameters (PERP). Each arm picks its learning rate on one
grid (by validation loss), per seed.

The effect is the share of full retraining's recovery that PERP gets back, both measured from
the same pruned, un-retrained model:

    recovery = (acc_perp - acc_pruned) / (acc_full - acc_pruned).

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guards: INVALID when the pretrained model or full retraining sits at
chance (or diverged); NOT-ESTABLISHED when an arm's best learning rate is at its grid's edge;
VACUOUS when full retraining recovers less than 2 points (pruning did no damage to speak of,
and the ratio of two small differences measures nothing).
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Guard,
    at_least,
    at_most,
    diverged,
    grid_at_edge,
    invalid,
    not_established,
    sweep_trials,
    trials,
    vacuous,
)

MIN_RECOVERY = 0.9         # "comparable to full retraining": >= 90% of its recovery
MAX_TRAINABLE = 0.02       # "a small subset": <= 2% of the parameters
MIN_DAMAGE_PTS = 2.0       # less to recover than this makes the ratio meaningless
CHANCE, MARGIN = 0.1, 0.05
LR, LOSS = "methods.optimizer.lr", "val/loss"


def chosen(m: Metrics, arm: str) -> dict[str, float]:
    """The numbers of ``arm``'s trial with the lowest finite validation loss (the one its
    learning-rate sweep picks); empty when no trial finished with a finite loss."""
    done = [t for t in trials(m, arm) if math.isfinite(t.get(LOSS, math.nan))]
    return min(done, key=lambda t: t[LOSS]) if done else {}


def guard(m: Metrics, full: dict[str, float]) -> Guard | None:
    dense, acc = full["prune/dense/val/acc"], full["val/acc"]
    if diverged(dense, chance=CHANCE, margin=MARGIN):
        return invalid(f"the pretrained model is at chance: val/acc {dense:.3f}")
    if diverged(acc, chance=CHANCE, margin=MARGIN):
        return invalid(f"full retraining (the baseline) at chance or diverged: val/acc "
                       f"{acc:.3f}")
    edged = [a for a in ("perp", "full") if grid_at_edge(sweep_trials(m, a, LR, metric=LOSS))]
    if edged:
        return not_established(f"best lr at the grid's edge for {', '.join(edged)}")
    recoverable = 100 * (acc - full["prune/pruned/val/acc"])
    if recoverable < MIN_DAMAGE_PTS:
        return vacuous(f"full retraining recovers only {recoverable:.2f} pts over the pruned "
                       f"model: nothing to recover")
    return None


def recovers_like_full(m: Metrics) -> Verdict:
    base, ours = chosen(m, "full"), chosen(m, "perp")
    if not base or not ours:
        stop = invalid(f"{'full retraining' if not base else 'PERP'}: no trial finished with "
                       f"a finite validation loss")
        return Verdict(stop.reason, guard=stop)
    stop = guard(m, base)
    if stop is not None and stop.kind == "INVALID":
        return Verdict(stop.reason, guard=stop)
    pruned, full, perp = base["prune/pruned/val/acc"], base["val/acc"], ours["val/acc"]
    recovery = (perp - pruned) / (full - pruned) if full != pruned else math.nan
    share = ours["cost/trainable_params"] / ours["cost/params"]
    return Verdict(f"val/acc dense {base['prune/dense/val/acc']:.4f}, pruned "
                   f"{pruned:.4f}, full retraining {full:.4f}, PERP {perp:.4f}: PERP recovers "
                   f"{recovery:.3f} of full retraining's gain (paper: >= {MIN_RECOVERY}) "
                   f"training {share:.2%} of the parameters (<= {MAX_TRAINABLE:.0%})",
                   [at_least("recovery", recovery, MIN_RECOVERY),
                    at_most("trainable_share", share, MAX_TRAINABLE)],
                   guard=stop, numbers={"recovery": recovery, "trainable_share": share,
                                        "pruned_acc": pruned, "full_acc": full,
                                        "perp_acc": perp})


# smoke: one epoch of retraining is already short; the pretraining gets the same 32 steps
SMOKE = {"train.steps": 32, "train.eval_every": 16, "sweep.trials": 2}

CLAIMS = [
    Claim(
        id="perp:recovers-like-full",
        statement="After one-shot 70% magnitude pruning, retraining only the biases and "
                  "normalisation parameters (<= 2% of the parameters) for one epoch recovers "
                  "at least 90% of the accuracy that retraining every weight for one epoch "
                  "recovers",
        source="arXiv:2312.15230, abstract and the retraining-subset comparisons (biases and "
               "normalisation parameters vs full retraining)",
        arms={"perp": "configs/perp_mnist1d.yaml", "full": "configs/full_mnist1d.yaml"},
        check=recovers_like_full, package=__package__, budget_s=600, smoke=SMOKE,
    ),
]
