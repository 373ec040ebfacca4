"""Fira's claims at small scale: AdamW (full rank), GaLore and Fira (both rank 16 = width/4,
projection refreshed every 200 steps) each get their learning rate picked from the same 4-point
grid, per seed, on a 2-block byte-level transformer LM (600 steps)."""
from __future__ import annotations

from assay import Claim, Metrics, Verdict

LOSS = "best/val/loss"
NEAR_FULL_RANK = 1.03     # "comparable to full-rank training": within 3% of AdamW's val loss


def beats_galore(m: Metrics) -> Verdict:
    fira, galore = m[f"fira/{LOSS}"], m[f"galore/{LOSS}"]
    return Verdict(fira < galore,
                   f"best val/loss fira {fira:.4f} vs galore {galore:.4f} (pass: fira lower)",
                   {"fira_minus_galore": fira - galore})


def near_full_rank(m: Metrics) -> Verdict:
    ratio = m[f"fira/{LOSS}"] / m[f"adamw/{LOSS}"]
    return Verdict(ratio <= NEAR_FULL_RANK,
                   f"best val/loss fira/adamw = {ratio:.3f} (pass: <= {NEAR_FULL_RANK})",
                   {"loss_ratio": ratio})


ARMS = {"adamw": "configs/adamw_bytes.yaml", "galore": "configs/galore_bytes.yaml",
        "fira": "configs/fira_bytes.yaml"}

CLAIMS = [
    Claim(
        id="fira:beats-galore",
        statement="At the same rank and projection schedule, Fira's full-rank update (GaLore's "
                  "low-rank Adam step plus the norm-scaled residual gradient) reaches a lower "
                  "validation loss than GaLore",
        source="arXiv:2410.01623, Sec. 5.1, Table 2 (LLaMA pre-training on C4)",
        arms=ARMS, check=beats_galore, package=__package__, budget_s=900,
    ),
    Claim(
        id="fira:near-full-rank",
        statement="With rank width/4, Fira's validation loss is within 3% of full-rank "
                  "AdamW's (the paper reports Fira matching or beating full rank)",
        source="arXiv:2410.01623, Sec. 5.1, Table 2; Sec. 5.3 (varying ranks)",
        arms=ARMS, check=near_full_rank, package=__package__, budget_s=900,
    ),
]
