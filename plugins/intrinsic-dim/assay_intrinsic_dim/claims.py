"""Intrinsic-dimension claims on digits: one subspace-dimension scan (a grid sweep over
``methods.parameterization.dim``) and one full-parameter run per MLP width, per seed.

d_int90 is the smallest scanned d whose final val/acc reaches 90% of the full model's
(arXiv:1804.08838, Sec. 2: "the dimension at which performance first reaches 90% of the
baseline"). It is ``inf`` when no scanned d gets there.
"""
from __future__ import annotations

import math
import re

from assay import Claim, Metrics, Verdict

DIM = "methods.parameterization.dim"
WIDTHS = (32, 256)


def trials(m: Metrics, arm: str) -> dict[int, dict[str, float]]:
    """``<arm>/trials/<n>/<key>`` entries grouped by trial number."""
    out: dict[int, dict[str, float]] = {}
    pattern = re.compile(rf"^{re.escape(arm)}/trials/(\d+)/(.+)$")
    for key, value in m.items():
        hit = pattern.match(key)
        if hit:
            out.setdefault(int(hit.group(1)), {})[hit.group(2)] = value
    return out


def d_int90(m: Metrics, width: int) -> float:
    """Smallest scanned dim whose val/acc is >= 0.9 x the full model's val/acc."""
    target = 0.9 * m[f"full{width}/val/acc"]
    hits = [t[DIM] for t in trials(m, f"sub{width}").values()
            if DIM in t and t.get("val/acc", -1.0) >= target]
    return min(hits, default=math.inf)


def small_fraction(m: Metrics) -> Verdict:
    d = d_int90(m, 256)
    frac = d / m["full256/cost/params"]
    return Verdict(frac <= 0.05, f"width-256 MLP: d_int90 = {d:g} = {100 * frac:.2f}% of "
                   f"{m['full256/cost/params']:.0f} parameters (pass: <= 5%)",
                   {"d_int90": d, "fraction": frac})


def width_stable(m: Metrics) -> Verdict:
    small, large = d_int90(m, 32), d_int90(m, 256)
    ratio = large / small if math.isfinite(small) and math.isfinite(large) else math.nan
    params = m["full256/cost/params"] / m["full32/cost/params"]
    ok = math.isfinite(ratio) and 0.5 <= ratio <= 2.0
    return Verdict(ok, f"d_int90 width 256 / width 32 = {large:g}/{small:g} = {ratio:.2f} "
                   f"while parameters grow {params:.1f}x (pass: ratio in [0.5, 2])",
                   {"d_int90_32": small, "d_int90_256": large, "ratio": ratio})


ARMS = {f"{kind}{w}": f"configs/{kind}{w}.yaml" for kind in ("full", "sub") for w in WIDTHS}
SMOKE = {"train.steps": 20, "train.eval_every": 10, "sweep.trials": 2}

CLAIMS = [
    Claim(
        id="intrinsic-dim:small-fraction",
        statement="A random subspace of under 5% of the parameters suffices to reach 90% of "
                  "the full model's accuracy (digits, one-hidden-layer MLP of width 256)",
        source="arXiv:1804.08838, Sec. 3.1 (MNIST: d_int90 = 750 of 199k parameters)",
        arms=ARMS, check=small_fraction, package=__package__, budget_s=600, smoke=SMOKE,
    ),
    Claim(
        id="intrinsic-dim:width-stable",
        statement="d_int90 changes by at most 2x between MLP widths 32 and 256, while the "
                  "parameter count grows 8x",
        source="arXiv:1804.08838, Sec. 3.1, Fig. 3 (d_int90 nearly constant across FC sizes)",
        arms=ARMS, check=width_stable, package=__package__, budget_s=600, smoke=SMOKE,
    ),
]
