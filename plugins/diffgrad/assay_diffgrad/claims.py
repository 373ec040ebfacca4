"""diffGrad's claim at small scale: each optimizer's learning rate is swept on one 5-point grid
(half a decade apart), per seed, on a small CNN on 8x8 digits."""
from __future__ import annotations

from assay import Claim, Metrics, Verdict

TOLERANCE = 0.005   # half a point of accuracy; one validation image is ~0.28 points


def matches_adam(m: Metrics) -> Verdict:
    diff, adam = m["diffgrad/best/val/acc"], m["adam/best/val/acc"]
    gap = diff - adam
    return Verdict(gap >= -TOLERANCE,
                   f"best val/acc diffgrad {diff:.4f} vs adam {adam:.4f}: gap {gap:+.4f} "
                   f"(pass: >= -{TOLERANCE})", {"acc_gap": gap})


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
