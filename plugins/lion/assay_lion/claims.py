"""Lion's claims at small scale: each optimizer's learning rate is swept on one grid (half a
decade apart), per seed, on a digits MLP.

Each check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). A tuned optimum at the edge of its grid makes the comparison a
bound, so such a seed returns the NOT-ESTABLISHED guard instead of a number to average.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Guard,
    at_most,
    best,
    between,
    edge_guard,
    grid_optimum,
    sweep_trials,
)

LR = "methods.optimizer.lr"
ARMS = {"lion": "configs/lion_digits.yaml", "adamw": "configs/adamw_digits.yaml"}


def lr_edge(m: Metrics, *arms: str) -> Guard | None:
    """NOT-ESTABLISHED when an arm's best learning rate is the smallest or largest tried."""
    return edge_guard(m, arms, LR, metric="val/loss")


def matches_adamw(m: Metrics) -> Verdict:
    ratio = best(m, "lion", "val/loss") / best(m, "adamw", "val/loss")
    return Verdict(f"best val/loss lion/adamw = {ratio:.3f} (paper: <= 1.05)",
                   [at_most("loss_ratio", ratio, 1.05)], guard=lr_edge(m, "lion", "adamw"))


def tuned_lr(m: Metrics, arm: str) -> float:
    """The arm's best learning rate between grid points: the vertex of the parabola in
    log(lr) through the best grid point and its neighbours (``grid_optimum``)."""
    return grid_optimum(sweep_trials(m, arm, LR, metric="val/loss"))


def smaller_lr(m: Metrics) -> Verdict:
    """log10 of AdamW's tuned rate over Lion's. Each rate is interpolated between grid points
    (the best grid point alone moves in half-decade steps, too coarse to resolve a 3-10x
    band with a few seeds); the band is the paper's: 3 <= ratio <= 10.5."""
    ratio = tuned_lr(m, "adamw") / tuned_lr(m, "lion")
    return Verdict(f"tuned lr adamw/lion = {ratio:.2f} (paper: 3 to 10; 10.5 admits the grid "
                   f"point nearest 10)",
                   [between("log10_lr_ratio", math.log10(ratio), math.log10(3.0),
                            math.log10(10.5))],
                   guard=lr_edge(m, "lion", "adamw"))


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
