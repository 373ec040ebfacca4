"""ZO-Bench's claims at small scale, on a digits MLP (64-32-10, 2.4k weights) trained from
scratch: first-order SGD for 300 steps against zeroth-order trainers given 20x the steps
(one two-point query each, so 40x the forward passes and no backward pass). Each arm picks its
learning rate from its own fixed half-decade grid, per seed, by validation accuracy.

Each check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guards take precedence: the arm a claim measures against at chance
accuracy makes the comparison INVALID, and a best learning rate at the edge of its grid makes
it a bound (NOT-ESTABLISHED).
"""
from __future__ import annotations

from collections.abc import Mapping

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Guard,
    at_most,
    below,
    best,
    diverged,
    grid_at_edge,
    invalid,
    not_established,
    sweep_trials,
)

ACC = "val/acc"
MAX_GAP = 0.05       # "competitive with first-order": at most 5 accuracy points behind
LR = {"fo": "methods.optimizer.lr", "zo": "methods.trainer.lr", "sign": "methods.trainer.lr"}
CHANCE = 0.1         # ten digit classes
MARGIN = 0.05        # an arm within 5 points of chance never learned


def at_chance(acc: float) -> bool:
    """Not finite, or no better than chance (within the margin)."""
    return diverged(acc, chance=CHANCE, margin=MARGIN)


def guard(m: Metrics, baseline: str, *tuned: str,
          rates: Mapping[str, str] = LR) -> Guard | None:
    """INVALID when ``baseline`` never left chance; NOT-ESTABLISHED when an arm in ``tuned``
    has its best rate (by accuracy; ``rates`` names each arm's rate) at its grid's smallest or
    largest value (an arm at chance at every rate has no optimum to locate, so the test skips
    it). deepzero's claims use it with their own arms."""
    acc = best(m, baseline, ACC)
    if at_chance(acc):
        return invalid(f"{baseline} (the reference) at chance: best val/acc {acc:.3f}")
    edged = [a for a in tuned if not at_chance(best(m, a, ACC)) and grid_at_edge(
        [(lr, -acc) for lr, acc in sweep_trials(m, a, rates[a], metric=ACC)])]
    if edged:
        return not_established(f"best lr at the grid's edge for {', '.join(edged)}")
    return None


def near_first_order(m: Metrics) -> Verdict:
    fo, zo = best(m, "fo", ACC), best(m, "zo", ACC)
    gap = fo - zo
    return Verdict(f"val/acc fo-sgd {fo:.3f} - zo-sgd {zo:.3f} = {gap:.3f} (paper: <= {MAX_GAP})",
                   [at_most("acc_gap", gap, MAX_GAP)], guard=guard(m, "fo", "fo", "zo"))


def sign_trails_sgd(m: Metrics) -> Verdict:
    zo, sign = best(m, "zo", ACC), best(m, "sign", ACC)
    return Verdict(f"val/acc zo-sgd-sign {sign:.3f} vs zo-sgd {zo:.3f} (paper: sign lower)",
                   [below("sign_minus_sgd", sign - zo, 0.0)], guard=guard(m, "zo", "zo", "sign"))


CLAIMS = [
    Claim(
        id="zo-bench:near-first-order",
        statement="Forward passes only are enough: ZO-SGD, given 20x the steps of first-order "
                  "SGD, ends within 5 accuracy points of it",
        source="arXiv:2402.11592, Sec. 5, Table 2 (ZO-SGD vs FO-SGD)",
        arms={"fo": "configs/fo_sgd_digits.yaml", "zo": "configs/zo_sgd_digits.yaml"},
        check=near_first_order, package=__package__, budget_s=900,
    ),
    Claim(
        id="zo-bench:sign-trails-sgd",
        statement="Taking the sign of the ZO gradient estimate hurts: ZO-SGD-Sign ends below "
                  "ZO-SGD at the same number of queries",
        source="arXiv:2402.11592, Sec. 5, Table 2 (ZO-SGD-Sign vs ZO-SGD)",
        arms={"zo": "configs/zo_sgd_digits.yaml", "sign": "configs/zo_sign_digits.yaml"},
        check=sign_trails_sgd, package=__package__, budget_s=900,
    ),
]
