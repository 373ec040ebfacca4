"""DCT-AdamW's claims at small scale. Loss: full-rank AdamW, GaLore (fira's, SVD projection)
and DCT-AdamW, both at rank 16 = width/4 with the projection refreshed every 200 steps, each
get their learning rate from the same 5-point grid, per seed, on a 2-block byte-level
transformer LM (width 64, 600 steps). Speed: one projection refresh of a 512 x 512 gradient,
SVD against DCT selection, timed on one CPU thread.

Each check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). The loss checks use fira's guards (``assay_fira.claims.guard``):
INVALID when the baseline's best validation loss is at chance (uniform over 256 bytes) or not
finite, NOT-ESTABLISHED when a compared arm's best learning rate is at its grid's edge.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import at_least, invalid
from assay_fira.claims import loss_ratio

GALORE_RATIO = 1.02        # within 2% of GaLore's validation loss
ADAMW_RATIO = 1.05         # within 5% of full-rank AdamW's
SPEEDUP = 3.0              # the projection refresh at least 3x faster than the SVD


def matches_galore(m: Metrics) -> Verdict:
    return loss_ratio(m, "dct", "galore", GALORE_RATIO, label="dct-adamw")


def near_adamw(m: Metrics) -> Verdict:
    return loss_ratio(m, "dct", "adamw", ADAMW_RATIO, label="dct-adamw")


def faster_projection(m: Metrics) -> Verdict:
    svd = m.get("bench/cost/svd_refresh_ms", math.nan)
    dct = m.get("bench/cost/dct_refresh_ms", math.nan)
    if not (svd > 0 and dct > 0):
        stop = invalid(f"no projection timing (svd {svd}, dct {dct} ms)")
        return Verdict(stop.reason, guard=stop)
    return Verdict(f"projection refresh of a 512 x 512 gradient: SVD {svd:.2f} ms, DCT "
                   f"{dct:.2f} ms; speed-up {svd / dct:.2f} (paper: >= {SPEEDUP})",
                   [at_least("log_speedup", math.log(svd / dct), math.log(SPEEDUP))],
                   numbers={"svd_ms": svd, "dct_ms": dct})


ARMS = {"adamw": "configs/adamw_bytes.yaml", "galore": "configs/galore_bytes.yaml",
        "dct": "configs/dct_bytes.yaml"}
SOURCE = "arXiv:2505.17967, Sec. 5 (pre-training: DCT-AdamW against GaLore and AdamW)"

CLAIMS = [
    Claim(
        id="dct-adamw:matches-galore",
        statement="At the same rank (width/4) and refresh schedule, DCT-AdamW's best "
                  "validation loss is within 2% of GaLore's (SVD projection)",
        source=SOURCE, arms={k: ARMS[k] for k in ("dct", "galore")}, check=matches_galore,
        package=__package__, budget_s=900,
    ),
    Claim(
        id="dct-adamw:near-adamw",
        statement="At rank width/4, DCT-AdamW's best validation loss is within 5% of "
                  "full-rank AdamW's",
        source=SOURCE, arms={k: ARMS[k] for k in ("dct", "adamw")}, check=near_adamw,
        package=__package__, budget_s=900,
    ),
    Claim(
        id="dct-adamw:faster-projection",
        statement="Refreshing the projection of a 512 x 512 gradient by DCT column selection "
                  "is at least 3x faster on CPU than GaLore's SVD",
        source="arXiv:2505.17967, abstract and Sec. 4 (one matrix product and a sort instead "
               "of an SVD per layer)",
        arms={"bench": "configs/bench.yaml"}, check=faster_projection,
        package=__package__, budget_s=300, smoke={"train.steps": 1},
    ),
]
