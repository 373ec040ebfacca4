"""Fira's claims at small scale: AdamW (full rank), GaLore and Fira (both rank 16 = width/4,
projection refreshed every 200 steps) each get their learning rate picked from the same 6-point
grid, per seed, on a 2-block byte-level transformer LM (600 steps).

Each check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guards take precedence: a baseline whose validation loss never left
chance (uniform over 256 bytes) or is not finite makes the comparison INVALID, and a best
learning rate at the edge of its grid makes it a bound (NOT-ESTABLISHED).
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Guard,
    at_most,
    baseline_guard,
    below,
    best,
    diverged,
    edge_guard,
)

LOSS = "val/loss"
LR = "methods.optimizer.lr"
NEAR_FULL_RANK = 1.03     # "comparable to full-rank training": within 3% of AdamW's val loss
CHANCE = math.log(256)    # cross-entropy of a uniform guess over 256 byte values
MARGIN = 0.25             # nats: an arm this close to uniform never learned


def at_chance(loss: float) -> bool:
    """Not finite, or no better than the uniform guess (within the margin)."""
    return diverged(loss, chance=CHANCE, margin=MARGIN, higher_is_better=False)


def guard(m: Metrics, baseline: str, *tuned: str) -> Guard | None:
    """INVALID when ``baseline`` never left chance; NOT-ESTABLISHED when an arm in ``tuned``
    has its best learning rate at its grid's smallest or largest value (an arm at chance at
    every rate has no optimum to locate, so the test skips it)."""
    learned = [a for a in tuned if not at_chance(best(m, a, LOSS))]
    return (baseline_guard(m, [baseline], metric=LOSS, prefix="best/", chance=CHANCE,
                           margin=MARGIN, higher_is_better=False)
            or edge_guard(m, learned, LR, metric=LOSS))


def beats_galore(m: Metrics) -> Verdict:
    fira, galore = best(m, "fira", LOSS), best(m, "galore", LOSS)
    return Verdict(f"best val/loss fira {fira:.4f} vs galore {galore:.4f} (paper: fira lower)",
                   [below("fira_minus_galore", fira - galore, 0.0)],
                   guard=guard(m, "galore", "fira", "galore"))


def loss_ratio(m: Metrics, arm: str, baseline: str, threshold: float, *,
               label: str = "") -> Verdict:
    """The paper says ``arm``'s best validation loss is at most ``threshold`` times
    ``baseline``'s; guarded by ``guard`` (dct-adamw and gradnormlorp check their low-rank
    optimizers with it too)."""
    mine, base = best(m, arm, LOSS), best(m, baseline, LOSS)
    ratio = mine / base
    return Verdict(f"best val/loss {label or arm} {mine:.4f} vs {baseline} {base:.4f}: ratio "
                   f"{ratio:.4f} (paper: <= {threshold})",
                   [at_most("loss_ratio", ratio, threshold)],
                   guard=guard(m, baseline, arm, baseline),
                   numbers={f"{arm}_loss": mine, f"{baseline}_loss": base})


def near_full_rank(m: Metrics) -> Verdict:
    return loss_ratio(m, "fira", "adamw", NEAR_FULL_RANK)


ARMS = {"adamw": "configs/adamw_bytes.yaml", "galore": "configs/galore_bytes.yaml",
        "fira": "configs/fira_bytes.yaml"}

CLAIMS = [
    Claim(
        id="fira:beats-galore",
        statement="At the same rank and projection schedule, Fira's full-rank update (GaLore's "
                  "low-rank Adam step plus the norm-scaled residual gradient) reaches a lower "
                  "validation loss than GaLore",
        source="arXiv:2410.01623, Sec. 5.1, Table 2 (LLaMA pre-training on C4)",
        arms=ARMS, check=beats_galore, package=__package__, budget_s=1350,
    ),
    Claim(
        id="fira:near-full-rank",
        statement="With rank width/4, Fira's validation loss is within 3% of full-rank "
                  "AdamW's (the paper reports Fira matching or beating full rank)",
        source="arXiv:2410.01623, Sec. 5.1, Table 2; Sec. 5.3 (varying ranks)",
        arms=ARMS, check=near_full_rank, package=__package__, budget_s=1350,
    ),
]
