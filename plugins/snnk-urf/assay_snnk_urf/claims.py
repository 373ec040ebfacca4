"""SNNK's claims at small scale.

1. ``urf-rate``: the URF estimate of a cosine unit cos(w^T x + b) (|w| = |x| = 1 in d = 32,
   b uniform in [0, 2 pi), 200 triples, 20 feature draws per m) has a relative mean squared
   error that falls as 1/m: the least-squares slope of log error against log m over m = 16 ..
   1024 lies in [-1.2, -0.8].
2. ``layer-swap``: on digits, an MLP (width 256, depth 2) whose second hidden layer is a
   ReLU-SNNK layer with m = 64 random features reaches validation accuracy within 2 points of
   the plain MLP (or above) with at least 2x fewer trainable parameters; each arm picks its
   learning rate from one fixed grid, per seed.

Each check reports its effects per seed; the verdict comes from the t-interval over 5 seeds
(``assay.claims.decide``). Guards: INVALID when an error is not finite (claim 1) or the plain
MLP never left chance or an arm has no finite trial (claim 2); NOT-ESTABLISHED when an arm's
best learning rate is the grid's smallest or largest value.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Guard,
    at_least,
    best,
    between,
    invalid,
    sweep_guard,
    trial_constant,
)

SLOPE_LOW, SLOPE_HIGH = -1.2, -0.8     # "relative MSE proportional to 1/m": slope -1 +- 0.2
LR, ACC = "methods.optimizer.lr", "val/acc"
PARAMS = "cost/trainable_params"  # the same in every trial of an arm
MATCH_PTS = -2.0                       # within 2 points of the plain MLP (or above)
MIN_PARAM_RATIO = 2.0                  # at least 2x fewer trainable parameters
CHANCE, MARGIN = 0.1, 0.05             # ten digit classes


def urf_rate(m: Metrics) -> Verdict:
    errors = {k: v for k, v in m.items() if k.startswith("urf/urf/rel_mse_m")}
    slope = m.get("urf/urf/slope", math.nan)
    if not errors or not all(math.isfinite(v) for v in errors.values()) \
            or not math.isfinite(slope):
        return Verdict("a URF error is not finite (or missing)",
                       guard=invalid("non-finite or missing URF error"))
    return Verdict(f"log-log slope of relative MSE against m = {slope:.3f} (paper: 1/m, "
                   f"slope in [{SLOPE_LOW}, {SLOPE_HIGH}])",
                   [between("loglog_slope", slope, SLOPE_LOW, SLOPE_HIGH)],
                   numbers={"loglog_slope": slope, **{k.removeprefix("urf/urf/"): v
                                                     for k, v in errors.items()}})


def guard(m: Metrics) -> Guard | None:
    """INVALID when an arm has no finite trial or the plain MLP never beat chance;
    NOT-ESTABLISHED when an arm's best rate is at the grid's edge."""
    return sweep_guard(m, ("snnk", "mlp"), LR, metric=ACC, baselines=("mlp",), chance=CHANCE,
                       margin=MARGIN)


def layer_swap(m: Metrics) -> Verdict:
    stop = guard(m)
    if stop is not None and stop.kind == "INVALID":
        return Verdict(stop.reason, guard=stop)
    gap = 100 * (best(m, "snnk", ACC) - best(m, "mlp", ACC))
    ratio = trial_constant(m, "mlp", PARAMS) / trial_constant(m, "snnk", PARAMS)
    return Verdict(f"val/acc snnk - mlp = {gap:+.2f} pts (paper: >= {MATCH_PTS}) with "
                   f"{ratio:.2f}x fewer trainable parameters (>= {MIN_PARAM_RATIO:g})",
                   [at_least("acc_gap_pts", gap, MATCH_PTS),
                    at_least("param_ratio", ratio, MIN_PARAM_RATIO)],
                   guard=stop, numbers={"acc_gap_pts": gap, "param_ratio": ratio})


CLAIMS = [
    Claim(
        id="snnk-urf:urf-rate",
        statement="The universal-random-feature estimate of a cosine unit cos(w^T x + b) is "
                  "unbiased with finite variance: its relative mean squared error falls as "
                  "1/m (log-log slope in [-1.2, -0.8] over m = 16..1024)",
        source="arXiv:2310.13225, Sec. 3.2 (URFs) and the point-wise kernel estimation "
               "experiments",
        arms={"urf": "configs/urf_cos.yaml"},
        check=urf_rate, package=__package__, seeds=5, budget_s=300,
    ),
    Claim(
        id="snnk-urf:layer-swap",
        statement="Replacing a digits MLP's second hidden layer by a ReLU-SNNK layer with 64 "
                  "random features keeps validation accuracy within 2 points of the MLP (or "
                  "above) with at least 2x fewer trainable parameters",
        source="arXiv:2310.13225, abstract (up to 5x fewer trainable parameters at "
               "competitive accuracy) and the uptraining experiments (SNNK layers in place "
               "of feedforward layers)",
        arms={"snnk": "configs/snnk_digits.yaml", "mlp": "configs/mlp_digits.yaml"},
        check=layer_swap, package=__package__, seeds=5, budget_s=600,
    ),
]
