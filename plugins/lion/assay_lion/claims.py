"""Lion's claims at small scale: each optimizer's learning rate is swept on one grid (half a
decade apart), per seed, on a digits MLP.

Each check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). A tuned optimum at the edge of its grid makes the comparison a
bound, so such a seed returns the NOT-ESTABLISHED guard instead of a number to average.
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_most, best, between, grid_at_edge, not_established, sweep_trials

LR = "methods.optimizer.lr"
ARMS = {"lion": "configs/lion_digits.yaml", "adamw": "configs/adamw_digits.yaml"}


def edge_guard(m: Metrics, *arms: str) -> Guard | None:
    """NOT-ESTABLISHED when an arm's best learning rate is the smallest or largest tried."""
    edged = [a for a in arms if grid_at_edge(sweep_trials(m, a, LR, metric="val/loss"))]
    if edged:
        return not_established(f"best lr at the grid's edge for {', '.join(edged)}")
    return None


def matches_adamw(m: Metrics) -> Verdict:
    ratio = best(m, "lion", "val/loss") / best(m, "adamw", "val/loss")
    return Verdict(f"best val/loss lion/adamw = {ratio:.3f} (paper: <= 1.05)",
                   [at_most("loss_ratio", ratio, 1.05)], guard=edge_guard(m, "lion", "adamw"))


def smaller_lr(m: Metrics) -> Verdict:
    ratio = best(m, "adamw", LR) / best(m, "lion", LR)
    return Verdict(f"best lr adamw/lion = {ratio:.2f} (paper: 3 to 10; grid step 3.16x, so "
                   f"10.5 admits the grid point nearest 10)",
                   [between("lr_ratio", ratio, 3.0, 10.5)], guard=edge_guard(m, "lion", "adamw"))


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
