"""diffGrad's claim at small scale: each optimizer's learning rate is swept on one 5-point grid
(half a decade apart), per seed, on a small CNN on 8x8 digits.

The check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Two guards take precedence: Adam, the baseline, at chance accuracy
makes the comparison meaningless (INVALID), and a best learning rate at the edge of its grid
makes it a bound (NOT-ESTABLISHED).
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Guard, at_least, best, diverged, grid_at_edge, invalid, not_established, sweep_trials,
)

TOLERANCE = 0.005   # half a point of accuracy; one validation image is ~0.28 points
LR = "methods.optimizer.lr"
ACC = "val/acc"
CHANCE = 0.1        # ten digit classes
MARGIN = 0.05       # an arm within 5 points of chance never learned


def at_chance(acc: float) -> bool:
    """Not finite, or no better than chance (within the margin)."""
    return diverged(acc, chance=CHANCE, margin=MARGIN)


def edge_guard(m: Metrics, *arms: str) -> Guard | None:
    """NOT-ESTABLISHED when an arm's best learning rate (by accuracy) is its grid's smallest or
    largest value: the grid may have cut that optimizer off below its best. An arm at chance
    at every rate has no optimum to locate, so the test skips it."""
    edged = [a for a in arms if not at_chance(best(m, a, ACC)) and grid_at_edge(
        [(lr, -acc) for lr, acc in sweep_trials(m, a, LR, metric=ACC)])]
    if edged:
        return not_established(f"best lr at the grid's edge for {', '.join(edged)}")
    return None


def matches_adam(m: Metrics) -> Verdict:
    diff, adam = best(m, "diffgrad", ACC), best(m, "adam", ACC)
    gap = diff - adam
    guard = invalid(f"adam (the baseline) at chance: best val/acc {adam:.3f}") \
        if at_chance(adam) else edge_guard(m, "diffgrad", "adam")
    return Verdict(f"best val/acc diffgrad {diff:.4f} vs adam {adam:.4f}: gap {gap:+.4f} "
                   f"(paper: >= -{TOLERANCE})",
                   [at_least("acc_gap", gap, -TOLERANCE)], guard=guard,
                   numbers={"diffgrad_acc": diff, "adam_acc": adam})


ARMS = {"diffgrad": "configs/diffgrad_digits.yaml", "adam": "configs/adam_digits.yaml"}

CLAIMS = [
    Claim(
        id="diffgrad:matches-adam",
        statement="With each learning rate tuned on the same grid, diffGrad's validation "
                  "accuracy on a small CNN is at least Adam's (within half a point)",
        source="arXiv:1909.11015, abstract and CIFAR-10/100 ResNet experiments",
        arms=ARMS, check=matches_adam, package=__package__, budget_s=600,
    ),
]
