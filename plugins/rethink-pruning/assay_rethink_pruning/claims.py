"""The rethinking-pruning claim at small scale, on digits MLPs.

Fine-tune arm: the large MLP 64-256-256-10 trained 1200 steps (``pretrain:``), half of each
hidden layer's units removed by L1 norm, 300 fine-tuning steps at lr 1e-4. Scratch-B arm: the
pruned shape 64-128-128-10 trained from random init with the large model's training compute.

The check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``), with the INVALID guard when the fine-tuned reference never trained.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_least, at_most, diverged, invalid

TOLERANCE_PTS = 0.5     # "comparable or better": at most half a point below fine-tuning
SAME_PARAMS = 0.5       # parameter counts are whole numbers: a difference under 0.5 is none
CHANCE = 0.1            # 10 digit classes
CHANCE_MARGIN = 0.05    # a fine-tuned model within 5 points of chance has not trained


def baseline_guard(m: Metrics) -> Guard | None:
    """INVALID when the fine-tuned model (the reference Scratch-B must match) diverged or sits
    at chance: matching it would say nothing."""
    acc = m.get("finetune/val/acc", math.nan)
    if diverged(acc, chance=CHANCE, margin=CHANCE_MARGIN):
        return invalid(f"fine-tuned baseline at chance or diverged: val/acc {acc:.3f}")
    return None


def scratch_matches_finetune(m: Metrics) -> Verdict:
    diff = 100 * (m["scratch_b/val/acc"] - m["finetune/val/acc"])
    params_gap = abs(m["scratch_b/cost/params"] - m["finetune/cost/params"])
    return Verdict(f"val acc scratch-B - fine-tuned = {diff:+.2f} pts (paper: >= "
                   f"-{TOLERANCE_PTS}); params {m['scratch_b/cost/params']:.0f} vs "
                   f"{m['finetune/cost/params']:.0f} (must be the same architecture)",
                   [at_least("diff_pts", diff, -TOLERANCE_PTS),
                    at_most("params_gap", params_gap, SAME_PARAMS)],
                   guard=baseline_guard(m), numbers={"diff_pts": diff})


CLAIMS = [
    Claim(
        id="rethink-pruning:scratch-matches-finetune",
        statement="The architecture left by structured L1 pruning, trained from random "
                  "initialisation with the large model's compute, is as accurate as the pruned "
                  "model fine-tuned from the large model's weights (at most 0.5 points worse)",
        source="arXiv:1810.05270, abstract; Sec. 4.1 (L1-norm filter pruning, Table 1)",
        arms={"finetune": "configs/finetune_digits.yaml",
              "scratch_b": "configs/scratch_b_digits.yaml"},
        check=scratch_matches_finetune, package=__package__, budget_s=300,
    ),
]
