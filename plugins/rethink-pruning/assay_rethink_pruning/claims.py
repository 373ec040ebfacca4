"""The rethinking-pruning claim at small scale, on digits MLPs.

Fine-tune arm: the large MLP 64-256-256-10 trained 1200 steps (``pretrain:``), half of each
hidden layer's units removed by L1 norm, 300 fine-tuning steps at lr 1e-4. Scratch-B arm: the
pruned shape 64-128-128-10 trained from random init with the large model's training compute.
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict

TOLERANCE_PTS = 0.5     # "comparable or better": at most half a point below fine-tuning


def scratch_matches_finetune(m: Metrics) -> Verdict:
    diff = 100 * (m["scratch_b/val/acc"] - m["finetune/val/acc"])
    same = abs(m["scratch_b/cost/params"] - m["finetune/cost/params"]) < 0.5
    return Verdict(diff >= -TOLERANCE_PTS and same,
                   f"val acc scratch-B - fine-tuned = {diff:+.2f} pts (pass: >= "
                   f"-{TOLERANCE_PTS}); params {m['scratch_b/cost/params']:.0f} vs "
                   f"{m['finetune/cost/params']:.0f} (must be the same architecture)",
                   {"diff_pts": diff})


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
