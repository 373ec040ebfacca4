"""DeepZero's claims at small scale, on a digits MLP (64-24-10, 1,810 weights) trained from
scratch for 450 steps (batch 64, about 20 epochs): first-order SGD (no momentum), CGE (d + 1 =
1,811 forward passes a step) and RGE with the same forward passes (q = 905 two-point
queries). Each arm picks its learning rate from one fixed half-decade grid, per seed, by
validation accuracy.

Each check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``; 3 seeds, up to 5 while INCONCLUSIVE). Guards take precedence: the
arm a claim measures against at chance makes the comparison INVALID, and a best learning rate
at the edge of its grid makes it a bound (NOT-ESTABLISHED; an arm at chance at every rate has
no optimum to locate, so the edge test skips it). The guards are zo-bench's (chance 0.1,
margin 0.05), applied to deepzero's arms.
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict
from assay.claims import (
    at_least,
    at_most,
    best,
)
from assay_zo_bench.claims import guard  # the same guards, over deepzero's arms

ACC = "val/acc"
LR = {"fo": "methods.optimizer.lr", "cge": "methods.trainer.lr", "rge": "methods.trainer.lr"}
NEAR_FO_PTS = 5.0        # CGE within 5 accuracy points of first-order SGD
RGE_BEHIND_PTS = 10.0    # RGE at least 10 points below CGE at equal forward passes


def cge_near_first_order(m: Metrics) -> Verdict:
    fo, cge = best(m, "fo", ACC), best(m, "cge", ACC)
    gap = 100 * (fo - cge)
    return Verdict(f"val/acc fo-sgd {fo:.3f} - cge {cge:.3f} = {gap:.2f} pts (paper: <= "
                   f"{NEAR_FO_PTS})", [at_most("acc_gap_pts", gap, NEAR_FO_PTS)],
                   guard=guard(m, "fo", "fo", "cge", rates=LR), numbers={"acc_gap_pts": gap})


def rge_trails_cge(m: Metrics) -> Verdict:
    cge, rge = best(m, "cge", ACC), best(m, "rge", ACC)
    gain = 100 * (cge - rge)
    return Verdict(f"val/acc cge {cge:.3f} - rge {rge:.3f} = {gain:.2f} pts at equal forward "
                   f"passes (paper: >= {RGE_BEHIND_PTS})",
                   [at_least("acc_gain_pts", gain, RGE_BEHIND_PTS)],
                   guard=guard(m, "cge", "cge", "rge", rates=LR), numbers={"acc_gain_pts": gain})


CGE = "configs/cge_digits.yaml"

CLAIMS = [
    Claim(
        id="deepzero:cge-near-first-order",
        statement="Coordinate-wise finite differences (CGE) train a ~2k-weight digits MLP from "
                  "scratch to within 5 accuracy points of first-order SGD at the same steps",
        source="arXiv:2310.02025, abstract and Sec. 6 (DeepZero approaches first-order "
               "training)",
        arms={"fo": "configs/fo_sgd_digits.yaml", "cge": CGE},
        check=cge_near_first_order, package=__package__, seeds=3, max_seeds=5,
        budget_s=900,
    ),
    Claim(
        id="deepzero:rge-trails-cge",
        statement="At the same forward passes a step, randomized vector-wise estimates (RGE) "
                  "end at least 10 accuracy points below CGE",
        source="arXiv:2310.02025, Sec. 4 (CGE vs RGE: accuracy and efficiency at equal "
               "query budgets)",
        arms={"cge": CGE, "rge": "configs/rge_digits.yaml"},
        check=rge_trails_cge, package=__package__, seeds=3, max_seeds=5, budget_s=900,
    ),
]
