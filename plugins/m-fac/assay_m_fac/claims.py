"""M-FAC's claims at small scale: an MLP 64-64-10 on 8x8 digits (4736 prunable weights, few
enough for a dense d x d inverse), trained densely for 1000 steps, then pruned once to 80%
with no retraining, by OBS with M-FAC's inverse-Fisher products, by the Fisher's diagonal, or
by magnitude. Every arm of a seed starts from the same dense network.

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). The accuracy gain moves in steps of one validation example,
declared as its resolution. Guards: INVALID when the exactness check did not run, when the
dense network is at chance, or when the arms did not start from the same dense network.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import at_least, at_most, diverged, invalid

MAX_LOG10_ERR = -4.0      # relative error < 1e-4 against the dense inverse
GAIN_PTS = 5.0            # OBS with M-FAC keeps >= 5 points more than magnitude pruning
CHANCE, MARGIN = 0.1, 0.05


def ihvp_exact(m: Metrics) -> Verdict:
    err = m.get("mfac/mfac/ihvp_rel_err", math.nan)
    if not math.isfinite(err):
        stop = invalid("no exactness check recorded (check_exact off, or curvature identity)")
        return Verdict(stop.reason, guard=stop)
    value = math.log10(max(err, 1e-300))
    return Verdict(f"largest relative error of M-FAC's products and diagonal against the dense "
                   f"inverse: {err:.3g} (paper: exact; here < 1e-4)",
                   [at_most("log10_rel_err", value, MAX_LOG10_ERR)], numbers={"rel_err": err})


def obs_beats_magnitude(m: Metrics) -> Verdict:
    dense = {a: m.get(f"{a}/prune/dense_acc", math.nan) for a in ("mfac", "magnitude")}
    if diverged(dense["magnitude"], chance=CHANCE, margin=MARGIN):
        stop = invalid(f"the dense network is at chance (val/acc {dense['magnitude']:.3f})")
        return Verdict(stop.reason, guard=stop)
    if dense["mfac"] != dense["magnitude"]:
        stop = invalid(f"the arms pruned different dense networks (val/acc {dense['mfac']:.4f} "
                       f"vs {dense['magnitude']:.4f})")
        return Verdict(stop.reason, guard=stop)
    acc = {a: m[f"{a}/val/acc"] for a in ("mfac", "magnitude", "diagonal")}
    gain = 100 * (acc["mfac"] - acc["magnitude"])
    return Verdict(f"dense {dense['mfac']:.4f}; pruned 80% without retraining: M-FAC "
                   f"{acc['mfac']:.4f}, diagonal Fisher {acc['diagonal']:.4f}, magnitude "
                   f"{acc['magnitude']:.4f}; M-FAC - magnitude {gain:+.2f} pts (paper: >= "
                   f"{GAIN_PTS})",
                   [at_least("gain_pts", gain, GAIN_PTS,
                             resolution=100 / m.get("mfac/prune/n_val", math.inf))],
                   numbers={"gain_pts": gain, "diag_gain_pts":
                            100 * (acc["diagonal"] - acc["magnitude"]),
                            "sparsity": m.get("mfac/sparsity/actual", math.nan)})


ARMS = {"mfac": "configs/mfac_digits.yaml", "magnitude": "configs/magnitude_digits.yaml",
        "diagonal": "configs/diagonal_digits.yaml"}
SMOKE = {"train.steps": 20, "train.eval_every": 10, "methods.pruning.recomputations": 2}

CLAIMS = [
    Claim(
        id="m-fac:ihvp-exact",
        statement="M-FAC's matrix-free products with the inverse of a damped empirical Fisher "
                  "of 64 gradients, and its inverse diagonal, match the dense inverse to a "
                  "relative error below 1e-4",
        source="arXiv:2107.03356, Sec. 3 (the static algorithm: exact IHVPs and diagonal in "
               "O(dm) after O(dm^2) precomputation)",
        arms={"mfac": ARMS["mfac"]}, check=ihvp_exact, package=__package__, seeds=3,
        budget_s=120, smoke=SMOKE,
    ),
    Claim(
        id="m-fac:obs-beats-magnitude",
        statement="Pruned once to 80% sparsity with no retraining, a digits MLP keeps at least "
                  "5 points more validation accuracy when OBS uses M-FAC's inverse-Fisher "
                  "products than under global magnitude pruning",
        source="arXiv:2107.03356, Sec. 5 (pruning experiments: M-FAC against magnitude and "
               "diagonal-Fisher pruning)",
        arms=ARMS, check=obs_beats_magnitude, package=__package__, seeds=5, budget_s=300,
        smoke=SMOKE,
    ),
]
