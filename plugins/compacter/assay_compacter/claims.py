"""Compacter's claims at small scale: an MLP (width 256, depth 2) pretrained on MNIST-1D
digits 0-4 is adapted to digits 5-9 for 300 steps. Three arms: Compacter (n = 4, rank 1,
bottleneck 16) and the Houlsby adapter (bottleneck 16) after each hidden layer, the readout
trained in both; and full fine-tuning. Each arm picks its learning rate (by validation
accuracy) from one fixed grid, per seed.

Each check reports its effects per seed; the verdict comes from the t-interval over 5 seeds
(``assay.claims.decide``). Guards: INVALID when the arm compared against never left chance
among the five new digits (or an arm has no finite trial); NOT-ESTABLISHED when a compared
arm's best rate is the grid's smallest or largest value.
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Guard,
    at_least,
    best,
    sweep_guard,
    trial_constant,
)

LR, ACC = "methods.optimizer.lr", "val/acc"
PARAMS = "adapter/params"  # the same in every trial of an arm
MATCH_ADAPTER_PTS = -1.0       # within 1 point of the Houlsby adapter (or above)
MATCH_FULL_PTS = -2.0          # within 2 points of full fine-tuning (or above)
MIN_PARAM_RATIO = 5.0          # at most 1/5 of the adapter's parameters
CHANCE, MARGIN = 0.2, 0.02     # a uniform guess among the five new digits


def guard(m: Metrics, reference: str, *arms: str) -> Guard | None:
    """INVALID when an arm has no finite trial or ``reference`` never beat chance;
    NOT-ESTABLISHED when an arm's best rate is at the grid's edge."""
    return sweep_guard(m, arms, LR, metric=ACC, baselines=(reference,), chance=CHANCE,
                       margin=MARGIN)


def matches_adapter(m: Metrics) -> Verdict:
    stop = guard(m, "adapter", "compacter", "adapter")
    if stop is not None and stop.kind == "INVALID":
        return Verdict(stop.reason, guard=stop)
    gap = 100 * (best(m, "compacter", ACC) - best(m, "adapter", ACC))
    ratio = trial_constant(m, "adapter", PARAMS) / trial_constant(m, "compacter", PARAMS)
    return Verdict(f"val/acc compacter - adapter = {gap:+.2f} pts (paper: >= "
                   f"{MATCH_ADAPTER_PTS}) with {ratio:.1f}x fewer adapter parameters "
                   f"(>= {MIN_PARAM_RATIO:g})",
                   [at_least("acc_gap_pts", gap, MATCH_ADAPTER_PTS),
                    at_least("param_ratio", ratio, MIN_PARAM_RATIO)],
                   guard=stop, numbers={"acc_gap_pts": gap, "param_ratio": ratio})


def near_full_ft(m: Metrics) -> Verdict:
    stop = guard(m, "full", "compacter", "full")
    if stop is not None and stop.kind == "INVALID":
        return Verdict(stop.reason, guard=stop)
    gap = 100 * (best(m, "compacter", ACC) - best(m, "full", ACC))
    return Verdict(f"val/acc compacter - full fine-tuning = {gap:+.2f} pts (paper: >= "
                   f"{MATCH_FULL_PTS})", [at_least("acc_gap_pts", gap, MATCH_FULL_PTS)],
                   guard=stop, numbers={"acc_gap_pts": gap})


COMPACTER = "configs/compacter_mnist1d.yaml"

CLAIMS = [
    Claim(
        id="compacter:matches-adapter",
        statement="Adapting a pretrained MLP to new classes, Compacter (n = 4, rank-1 fast "
                  "weights, shared slow weights) reaches validation accuracy within 1 point of "
                  "a Houlsby adapter of the same bottleneck (or above) with at most 1/5 of its "
                  "adapter parameters",
        source="arXiv:2106.04647, abstract and Sec. 4-5 (Table 1: Compacter vs Adapter on "
               "GLUE at a fraction of the parameters)",
        arms={"compacter": COMPACTER, "adapter": "configs/adapter_mnist1d.yaml"},
        check=matches_adapter, package=__package__, seeds=5, budget_s=600,
    ),
    Claim(
        id="compacter:near-full-ft",
        statement="Adapting a pretrained MLP to new classes, Compacter reaches validation "
                  "accuracy within 2 points of full fine-tuning (or above)",
        source="arXiv:2106.04647, abstract ('performs on par with standard fine-tuning') "
               "and Table 1",
        arms={"compacter": COMPACTER, "full": "configs/full_mnist1d.yaml"},
        check=near_full_ft, package=__package__, seeds=5, budget_s=600,
    ),
]
