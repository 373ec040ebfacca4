"""Lion's claims at small scale: each optimizer's learning rate is swept on one grid (half a
decade apart), per seed, on a digits MLP."""
from __future__ import annotations

from assay import Claim, Metrics, Verdict

LR = "best/methods.optimizer.lr"


def matches_adamw(m: Metrics) -> Verdict:
    ratio = m["lion/best/val/loss"] / m["adamw/best/val/loss"]
    return Verdict(ratio <= 1.05, f"best val/loss lion/adamw = {ratio:.3f} (pass: <= 1.05)",
                   {"loss_ratio": ratio})


def smaller_lr(m: Metrics) -> Verdict:
    ratio = m[f"adamw/{LR}"] / m[f"lion/{LR}"]
    return Verdict(3.0 <= ratio <= 10.5,
                   f"best lr adamw/lion = {ratio:.2f} (pass: 3 to 10, grid step 3.16x)",
                   {"lr_ratio": ratio})


ARMS = {"lion": "configs/lion_digits.yaml", "adamw": "configs/adamw_digits.yaml"}

CLAIMS = [
    Claim(
        id="lion:matches-adamw",
        statement="With its learning rate tuned, Lion reaches AdamW's best validation loss "
                  "(within 5%) on the same budget",
        source="arXiv:2302.06675, Sec. 4 (Tables 2-4) and Sec. 5",
        arms=ARMS, check=matches_adamw, package=__package__, budget_s=600,
    ),
    Claim(
        id="lion:smaller-lr",
        statement="Lion's best learning rate is 3-10x smaller than AdamW's",
        source="arXiv:2302.06675, Sec. 5 (hyperparameter tuning)",
        arms=ARMS, check=smaller_lr, package=__package__, budget_s=600,
    ),
]
