"""TrAct's claim at small scale: with 0.8x the steps, TrAct on the first conv layer reaches the
baseline's validation accuracy, for SGD and for Adam, on a small CNN on 8x8 digits.

The check reports two effects per seed (one per optimizer, both must hold); the verdict comes
from the t-interval over seeds (``assay.claims.decide``). A baseline that diverged (accuracy
at chance, or not finite) cannot be caught up with or fallen behind: such a seed is INVALID,
not a large gap to average in.
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict
from assay.claims import at_least, diverged, invalid

TOLERANCE = 0.005   # half a point of accuracy; one validation image is ~0.28 points
OPTIMIZERS = ("sgd", "adam")
CHANCE = 0.1        # ten digit classes
MARGIN = 0.05       # a baseline within 5 points of chance never learned


def faster_than_baseline(m: Metrics) -> Verdict:
    tract = {opt: m[f"{opt}-tract/val/acc"] for opt in OPTIMIZERS}
    base = {opt: m[f"{opt}-base/val/acc"] for opt in OPTIMIZERS}
    gaps = {opt: tract[opt] - base[opt] for opt in OPTIMIZERS}
    shown = ", ".join(f"{opt}: tract@0.8x {tract[opt]:.4f} vs base@1x {base[opt]:.4f} "
                      f"({gaps[opt]:+.4f})" for opt in OPTIMIZERS)
    dead = [f"{opt}-base at chance (val/acc {base[opt]:.3f})" for opt in OPTIMIZERS
            if diverged(base[opt], chance=CHANCE, margin=MARGIN)]
    return Verdict(f"{shown} (paper: every gap >= -{TOLERANCE})",
                   [at_least(f"{opt}_acc_gap", gaps[opt], -TOLERANCE) for opt in OPTIMIZERS],
                   guard=invalid("; ".join(dead)) if dead else None,
                   numbers={f"{opt}_base_acc": base[opt] for opt in OPTIMIZERS})


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
