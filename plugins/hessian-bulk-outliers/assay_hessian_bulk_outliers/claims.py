"""Outliers of the Hessian spectrum versus classes and width: one run per (classes, width)
on Gaussian-cluster data, each trained to near-zero loss, then measured by Lanczos."""
from __future__ import annotations

from assay import Claim, Metrics, Verdict

OUT = "hessian/outliers"
CASES = [(4, 32), (10, 32), (4, 128), (10, 128)]      # (classes, width)


def _count(m: Metrics, classes: int, width: int) -> float:
    return m[f"c{classes}w{width}/{OUT}"]


def outliers_track_classes(m: Metrics) -> Verdict:
    counts = {case: _count(m, *case) for case in CASES}
    ok = all(c - 1 <= n <= c + 1 for (c, _), n in counts.items())
    shown = ", ".join(f"{c} classes/width {w}: {n:g}" for (c, w), n in counts.items())
    return Verdict(ok, f"outliers {shown} (pass: within classes +-1 in every case)",
                   {f"outliers_c{c}_w{w}": n for (c, w), n in counts.items()})


def outliers_ignore_width(m: Metrics) -> Verdict:
    diffs = {c: abs(_count(m, c, 128) - _count(m, c, 32)) for c in (4, 10)}
    params = m["c10w128/hessian/n_params"] / m["c10w32/hessian/n_params"]
    ok = all(d <= 1 for d in diffs.values())
    shown = ", ".join(f"{c} classes: |width 128 - width 32| = {d:g}" for c, d in diffs.items())
    return Verdict(ok, f"{shown}, while parameters grow {params:.1f}x (pass: <= 1 each)",
                   {f"width_change_c{c}": d for c, d in diffs.items()})


ARMS = {f"c{c}w{w}": f"configs/c{c}w{w}.yaml" for c, w in CASES}
SMOKE = {"train.steps": 20, "train.eval_every": 10, "methods.trainer.lanczos_iters": 30}

CLAIMS = [
    Claim(
        id="hessian-bulk-outliers:outliers-track-classes",
        statement="After training, the training-loss Hessian has about as many outlier "
                  "eigenvalues above the bulk as there are classes (within +-1), for 4 and 10 "
                  "classes",
        source="arXiv:1706.04454, Sec. 3 (outliers set by the data's clusters) and Sagun et "
               "al. 2016 (arXiv:1611.07476)",
        arms=ARMS, check=outliers_track_classes, package=__package__, budget_s=300,
        smoke=SMOKE,
    ),
    Claim(
        id="hessian-bulk-outliers:outliers-ignore-width",
        statement="Widening the network 4x (about 10x the parameters) changes the number of "
                  "Hessian outliers by at most one",
        source="arXiv:1706.04454, Sec. 3 (more parameters only scale the bulk)",
        arms=ARMS, check=outliers_ignore_width, package=__package__, budget_s=300, smoke=SMOKE,
    ),
]
