"""Advani & Saxe's linear-student claims: N = 200 inputs, a unit-norm teacher with noise of
variance 1 (signal-to-noise 1), one new problem per seed, and P = alpha N training examples
for alpha in {0.25, 0.5, 0.75, 1, 1.5, 2, 4} (a grid sweep over ``dataset.n_train``). The
student is trained by full-batch GD (rate 0.05, 10^4 steps, training time 500) from initial
weights of norm 0.01 (arm ``small``) or 1, the teacher's norm (arm ``large``, alpha in
{0.5, 1, 2}). Test errors include the noise variance (they are errors on noisy targets).

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guard: INVALID when a run the check needs is missing or its test
error is not finite (a diverged run).
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_least, at_most, between, invalid, trials

N_IN = 200
FINAL, EARLY = "as/test_final", "as/test_early_stopped"
PEAK_RATIO = 3.0         # the alpha = 1 error at least 3x that at alpha = 0.5 and at alpha = 2
FLAT_RATIO = 1.5         # early-stopped errors within 1.5x of each other
FROZEN = (0.25, 0.75)    # theory: (1 - alpha) scale^2 = 0.5 at alpha = 0.5, scale = 1


def at_alpha(m: Metrics, arm: str, metric: str) -> dict[float, float]:
    """alpha -> the metric of the arm's run with P = alpha N examples."""
    return {t["dataset.n_train"] / N_IN: t.get(metric, math.nan) for t in trials(m, arm)
            if "dataset.n_train" in t}


def needs(values: dict[float, float], arm: str, *alphas: float) -> Guard | None:
    """INVALID when one of ``alphas`` has no run or a non-finite error."""
    bad = [a for a in alphas if not math.isfinite(values.get(a, math.nan))]
    if bad:
        return invalid(f"{arm}: no finite test error at alpha {bad}")
    return None


def overtraining_peak(m: Metrics) -> Verdict:
    err = at_alpha(m, "small", FINAL)
    guard = needs(err, "small", 0.5, 1.0, 2.0)
    if guard is not None:
        return Verdict(guard.reason, guard=guard)
    low, high = err[1.0] / err[0.5], err[1.0] / err[2.0]
    curve = ", ".join(f"{a:g}: {e:.3g}" for a, e in sorted(err.items()))
    return Verdict(f"final test error by alpha ({curve}); alpha 1 / 0.5 = {low:.2f}, 1 / 2 = "
                   f"{high:.2f} (paper: both >= {PEAK_RATIO:g})",
                   [at_least("peak_over_half", low, PEAK_RATIO),
                    at_least("peak_over_double", high, PEAK_RATIO)])


def early_stopping_flat(m: Metrics) -> Verdict:
    err = at_alpha(m, "small", EARLY)
    guard = needs(err, "small", 0.5, 1.0, 2.0)
    if guard is not None:
        return Verdict(guard.reason, guard=guard)
    three = [err[a] for a in (0.5, 1.0, 2.0)]
    spread = max(three) / min(three)
    curve = ", ".join(f"{a:g}: {e:.3g}" for a, e in sorted(err.items()))
    return Verdict(f"early-stopped test error by alpha ({curve}); max / min over alpha 0.5, 1, 2"
                   f" = {spread:.2f} (paper: <= {FLAT_RATIO:g})",
                   [at_most("early_stopped_spread", spread, FLAT_RATIO)])


def small_init(m: Metrics) -> Verdict:
    small, large = at_alpha(m, "small", FINAL), at_alpha(m, "large", FINAL)
    guard = needs(small, "small", 0.5) or needs(large, "large", 0.5)
    if guard is not None:
        return Verdict(guard.reason, guard=guard)
    gap = large[0.5] - small[0.5]
    return Verdict(f"final test error at alpha 0.5: initial norm 1 -> {large[0.5]:.3f}, 0.01 -> "
                   f"{small[0.5]:.3f}, difference {gap:+.3f} (theory: (1 - alpha) x 1 = 0.5; "
                   f"claim: in [{FROZEN[0]:g}, {FROZEN[1]:g}])",
                   [between("frozen_excess", gap, *FROZEN)],
                   numbers={"ratio": large[0.5] / small[0.5]})


ARMS = {"small": "configs/small_init.yaml", "large": "configs/large_init.yaml"}
SOURCE = "arXiv:1710.03667"
# every alpha at the smoke budget (20 steps are cheap), so that the checks' code paths run
SMOKE = {"train.steps": 20, "train.eval_every": 10, "sweep.trials": 7}

CLAIMS = [
    Claim(
        id="advani-saxe-highdim:overtraining-peak",
        statement="Trained long without early stopping, a linear student's test error peaks "
                  "where examples equal parameters: at alpha = P/N = 1 it is at least 3x its "
                  "value at alpha = 0.5 and at alpha = 2",
        source=f"{SOURCE}, Sec. 2-3 (overtraining is worst when the number of examples "
               f"equals the number of parameters; generalization error vs alpha)",
        arms={"small": ARMS["small"]}, check=overtraining_peak, package=__package__, seeds=5,
        budget_s=300, smoke=SMOKE,
    ),
    Claim(
        id="advani-saxe-highdim:early-stopping-flat",
        statement="With the best stopping time, the test error no longer peaks: it varies by at "
                  "most 1.5x across alpha = 0.5, 1 and 2",
        source=f"{SOURCE}, Sec. 3 (optimal early stopping removes the overtraining peak)",
        arms={"small": ARMS["small"]}, check=early_stopping_flat, package=__package__,
        seeds=5, budget_s=300, smoke=SMOKE,
    ),
    Claim(
        id="advani-saxe-highdim:small-init",
        statement="With fewer examples than parameters, initial weights as large as the "
                  "teacher's (norm 1 instead of 0.01) stay frozen in the directions the data do "
                  "not span and raise the final test error at alpha = 0.5 by (1 - alpha) = 0.5 "
                  "(between 0.25 and 0.75)",
        source=f"{SOURCE}, Sec. 2 (the frozen subspace; low generalization error requires "
               f"small initial weights)",
        arms=ARMS, check=small_init, package=__package__, seeds=5, budget_s=420, smoke=SMOKE,
    ),
]
