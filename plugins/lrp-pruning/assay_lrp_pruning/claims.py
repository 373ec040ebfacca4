"""The paper's scarce-data claim at small scale: a CNN pretrained on seven digits (16x16) is
fine-tuned on the three others (3, 5, 8), then half of every conv layer's filters are removed
using 10 reference examples per class and no fine-tuning afterwards. Each arm scores the
filters with one criterion (LRP relevance, L1 norm, first-order Taylor); a seed gives every arm
the same pretrained and fine-tuned network and the same reference examples, so the arms differ
only in which filters go.

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guard: INVALID when an arm's fine-tuned (dense) model sits at chance,
or its pruning did not run (nothing to compare).
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import at_least, diverged, invalid

MARGIN_PTS = 5.0                       # "keeps >= 5 points more test accuracy"
CHANCE, SLACK = 1 / 3, 0.05            # three classes
ARMS = ("lrp", "l1", "taylor")


def lrp_beats_l1_and_taylor(m: Metrics) -> Verdict:
    dense = {a: m.get(f"{a}/prune/dense/val_acc", math.nan) for a in ARMS}
    bad = [a for a, v in dense.items() if diverged(v, chance=CHANCE, margin=SLACK)]
    if bad:
        stop = invalid("fine-tuned model at chance or not pruned: " + ", ".join(
            f"{a} dense val/acc {dense[a]:.3f}" for a in bad))
        return Verdict(stop.reason, guard=stop)
    acc = {a: m.get(f"{a}/val/acc", math.nan) for a in ARMS}
    gains = {b: 100 * (acc["lrp"] - acc[b]) for b in ("l1", "taylor")}
    return Verdict(f"dense val/acc {dense['lrp']:.4f}; after removing 50% of the filters: "
                   f"LRP {acc['lrp']:.4f}, L1 {acc['l1']:.4f}, Taylor {acc['taylor']:.4f}; "
                   f"LRP - L1 {gains['l1']:+.2f} pts, LRP - Taylor {gains['taylor']:+.2f} pts "
                   f"(paper: >= {MARGIN_PTS:g} each)",
                   [at_least("lrp_minus_l1_pts", gains["l1"], MARGIN_PTS),
                    at_least("lrp_minus_taylor_pts", gains["taylor"], MARGIN_PTS)],
                   numbers={**{f"{a}_acc": v for a, v in acc.items()},
                            "dense_acc": dense["lrp"]})


# smoke: long enough (pretraining gets the same steps) for the dense model to leave chance,
# so a negative control meets the check rather than the guard
SMOKE = {"train.steps": 150, "train.eval_every": 75}

CLAIMS = [
    Claim(
        id="lrp-pruning:beats-l1-taylor-without-finetuning",
        statement="With only 10 reference examples per class and no fine-tuning after pruning, "
                  "removing half of a transferred CNN's conv filters by LRP relevance keeps at "
                  "least 5 points more accuracy than removing them by L1 norm or by first-order "
                  "Taylor scores",
        source="arXiv:1912.08881, abstract and the scarce-data, no-fine-tuning transfer "
               "experiments (relevance vs weight, gradient and Taylor criteria)",
        arms={"lrp": "configs/lrp_digits.yaml", "l1": "configs/l1_digits.yaml",
              "taylor": "configs/taylor_digits.yaml"},
        check=lrp_beats_l1_and_taylor, package=__package__, seeds=5, budget_s=600,
        smoke=SMOKE,
    ),
]
