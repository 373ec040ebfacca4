"""Parity claims: the same 1-layer diagonal LRNN (width 64, 600 AdamW steps on 3..40-bit
strings), once with transitions in [-1, 1] and once in [0, 1].

Each check reports its effects per seed; the verdict is the t-interval over seeds
(``assay.claims.decide``). The [0, 1] arm is expected at chance, so chance is not a guard
here; a run that diverged (non-finite loss or accuracy) is INVALID.
"""
from __future__ import annotations

import math
from collections.abc import Callable

from assay import Claim, Metrics, Verdict
from assay.claims import at_least, at_most, invalid

SOLVED = 0.9          # the paper's [-1, 1] models reach ~100%
CHANCE_BAND = 0.6     # the paper's [0, 1] models stay at random guessing (50%)


def _negative_solves(suffix: str, where: str) -> Callable[[Metrics], Verdict]:
    def check(m: Metrics) -> Verdict:
        arms = (f"negative{suffix}", f"positive{suffix}")
        neg, pos = (m[f"{a}/val/acc"] for a in arms)
        bad = [a for a in arms if not all(math.isfinite(m.get(f"{a}/{k}", math.nan))
                                          for k in ("val/loss", "val/acc"))]
        return Verdict(f"parity val/acc {where}: [-1,1] {neg:.3f} (paper: > {SOLVED}), [0,1] "
                       f"{pos:.3f} (paper: < {CHANCE_BAND})",
                       [at_least("negative_acc", neg, SOLVED),
                        at_most("positive_acc", pos, CHANCE_BAND)],
                       guard=invalid(f"diverged (non-finite loss): {', '.join(bad)}")
                       if bad else None)
    return check


learns_parity = _negative_solves("_len40", "at the trained length (40 bits)")
length_generalises = _negative_solves("_len256", "on 256-bit strings")

SMOKE = {"train.steps": 20, "train.eval_every": 10, "dataset.n_train": 512,
         "dataset.n_val": 64}

CLAIMS = [
    Claim(
        id="negative-eigen-lrnn:learns-parity",
        statement="A diagonal linear RNN with transitions in [-1, 1] learns parity (val acc > "
                  "0.9 on 40-bit strings) while the same model with transitions in [0, 1] "
                  "stays near chance (< 0.6)",
        source="arXiv:2411.12537, Fig. 1 and Sec. 5 (parity results)",
        arms={"negative_len40": "configs/negative_len40.yaml",
              "positive_len40": "configs/positive_len40.yaml"},
        check=learns_parity, package=__package__, budget_s=180, smoke=SMOKE,
    ),
    Claim(
        id="negative-eigen-lrnn:length-generalises",
        statement="Trained on strings of at most 40 bits, the [-1, 1] LRNN computes the parity "
                  "of 256-bit strings (val acc > 0.9) and the [0, 1] LRNN does not (< 0.6)",
        source="arXiv:2411.12537, Fig. 1 (train up to length 40, test 40 to 256)",
        arms={"negative_len256": "configs/negative_len256.yaml",
              "positive_len256": "configs/positive_len256.yaml"},
        check=length_generalises, package=__package__, budget_s=180, smoke=SMOKE,
    ),
]
