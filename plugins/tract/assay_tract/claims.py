"""TrAct's claim at small scale: with 0.8x the steps, TrAct on the first conv layer reaches the
baseline's validation accuracy, for SGD and for Adam, on a small CNN on 8x8 digits."""
from __future__ import annotations

from assay import Claim, Metrics, Verdict

TOLERANCE = 0.005   # half a point of accuracy; one validation image is ~0.28 points


def faster_than_baseline(m: Metrics) -> Verdict:
    gaps = {opt: m[f"{opt}-tract/val/acc"] - m[f"{opt}-base/val/acc"] for opt in ("sgd", "adam")}
    shown = ", ".join(f"{opt}: tract@0.8x {m[f'{opt}-tract/val/acc']:.4f} vs base@1x "
                      f"{m[f'{opt}-base/val/acc']:.4f} ({gap:+.4f})" for opt, gap in gaps.items())
    return Verdict(all(g >= -TOLERANCE for g in gaps.values()),
                   f"{shown} (pass: every gap >= -{TOLERANCE})",
                   {f"{opt}_acc_gap": g for opt, g in gaps.items()})


CLAIMS = [
    Claim(
        id="tract:fewer-steps",
        statement="With TrAct on the first layer (lambda=0.1), a small CNN reaches the "
                  "validation accuracy of standard training in 0.8x the steps (within half a "
                  "point), both with SGD and with Adam",
        source="arXiv:2410.23970, abstract (1.25x to 4x speed-ups) and CIFAR-10 experiments "
               "(Fig. 1)",
        arms={"sgd-base": "configs/sgd_base.yaml", "sgd-tract": "configs/sgd_tract.yaml",
              "adam-base": "configs/adam_base.yaml", "adam-tract": "configs/adam_tract.yaml"},
        check=faster_than_baseline, package=__package__, budget_s=600,
        smoke={"train.steps": 20, "train.eval_every": 10},
    ),
]
