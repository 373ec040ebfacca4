"""GradNormLoRP's claims at small scale: full-rank AdamW, GaLore (fira's, rank 16 = width/4,
projection refreshed every 200 steps, every 2-D parameter projected) and GradNormLoRP (the
same GaLore on a weight-normalised model) each get their learning rate from the same 5-point
grid, per seed, on a 2-block byte-level transformer LM (width 64, 600 steps).

Each check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). The loss checks use fira's guards (``assay_fira.claims.guard``):
INVALID when the baseline's best validation loss is at chance (uniform over 256 bytes) or not
finite, NOT-ESTABLISHED when a compared arm's best learning rate is at its grid's edge.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import at_most, invalid, trials
from assay_fira.claims import LOSS, loss_ratio

ADAMW_RATIO = 1.05         # within 5% of full-rank AdamW's validation loss
GALORE_RATIO = 1.0         # at or below GaLore's
STATE_RATIO = 0.40         # optimizer state at most 40% of AdamW's
STATE = "fira-galore/state_mb"


def near_adamw(m: Metrics) -> Verdict:
    return loss_ratio(m, "gnl", "adamw", ADAMW_RATIO, label="gradnormlorp")


def not_above_galore(m: Metrics) -> Verdict:
    return loss_ratio(m, "gnl", "galore", GALORE_RATIO, label="gradnormlorp")


def best_trial(m: Metrics, arm: str) -> dict[str, float]:
    """Every final metric of the arm's trial with the lowest validation loss ({} if none)."""
    done = [t for t in trials(m, arm) if math.isfinite(t.get(LOSS, math.nan))]
    return min(done, key=lambda t: t[LOSS]) if done else {}


def small_state(m: Metrics) -> Verdict:
    """The state size does not depend on the learning rate; the best trials are read."""
    gnl = best_trial(m, "gnl").get(STATE, math.nan)
    # AdamW's two moments, fp32, for every trainable parameter of the AdamW arm
    adamw = 2 * 4 * best_trial(m, "adamw").get("cost/trainable_params", math.nan) / 2**20
    if not (gnl > 0 and adamw > 0):
        stop = invalid(f"no optimizer-state size (gradnormlorp {gnl}, adamw {adamw} MB)")
        return Verdict(stop.reason, guard=stop)
    ratio = gnl / adamw
    return Verdict(f"optimizer state gradnormlorp {gnl:.4f} MB vs AdamW {adamw:.4f} MB: ratio "
                   f"{ratio:.3f} (paper: <= {STATE_RATIO})",
                   [at_most("state_ratio", ratio, STATE_RATIO)],
                   numbers={"gnl_state_mb": gnl, "adamw_state_mb": adamw})


ARMS = {"adamw": "configs/adamw_bytes.yaml", "galore": "configs/galore_bytes.yaml",
        "gnl": "configs/gnl_bytes.yaml"}
SOURCE = "GradNormLoRP (catalog id 57), abstract and pre-training experiments (LLaMA on C4)"

CLAIMS = [
    Claim(
        id="gradnormlorp:near-adamw",
        statement="With rank width/4, GradNormLoRP's best validation loss is within 5% of "
                  "full-rank AdamW's",
        source=SOURCE, arms={k: ARMS[k] for k in ("gnl", "adamw")}, check=near_adamw,
        package=__package__, budget_s=900,
    ),
    Claim(
        id="gradnormlorp:not-above-galore",
        statement="At the same rank and projection schedule, GradNormLoRP's best validation "
                  "loss is at or below GaLore's (weight normalisation helps the low-rank "
                  "optimizer)",
        source=SOURCE, arms={k: ARMS[k] for k in ("gnl", "galore")}, check=not_above_galore,
        package=__package__, budget_s=900,
    ),
    Claim(
        id="gradnormlorp:small-state",
        statement="GradNormLoRP's optimizer state (low-rank moments, projections and the "
                  "dense moments of what is not projected) is at most 40% of AdamW's",
        source=SOURCE + "; the abstract reports up to 89.5% less optimizer memory (8-bit)",
        arms={k: ARMS[k] for k in ("gnl", "adamw")}, check=small_state,
        package=__package__, budget_s=900,
    ),
]
