"""AdAdaGrad's claim at small scale: MNIST-1D (4000 training examples), an MLP 40-128-128-10,
AdaGrad-Norm updates, 80,000 examples processed by each arm (20 epochs). The adaptive arm
starts at batch 32 and grows its batch by the norm test (eta 0.9); the baseline keeps batch
32. Each arm's step size is swept on one 5-point grid and its best trial (lowest final
validation loss) is compared.

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guards: INVALID when the fixed-batch baseline is at chance or an
arm has no finished trial; NOT-ESTABLISHED when an arm's best step size is the smallest or
largest of the grid.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Guard,
    at_least,
    diverged,
    grid_at_edge,
    invalid,
    not_established,
    sweep_trials,
    trials,
)

LR = "methods.optimizer.lr"
ACC_PTS = -1.0            # the same final accuracy, within 1 point
MIN_STEP_RATIO = 2.0      # at least 2x fewer optimizer steps
CHANCE, MARGIN = 0.1, 0.05


def best_trial(m: Metrics, arm: str) -> dict[str, float] | None:
    """The arm's trial with the lowest finite final validation loss."""
    done = [t for t in trials(m, arm) if math.isfinite(t.get("val/loss", math.nan))
            and "adabatch/steps" in t]
    return min(done, key=lambda t: t["val/loss"]) if done else None


def guard_of(m: Metrics, runs: dict[str, dict[str, float] | None]) -> Guard | None:
    missing = [arm for arm, t in runs.items() if t is None]
    if missing:
        return invalid(f"no finished trial for {', '.join(missing)}")
    fixed = runs["fixed"]
    assert fixed is not None
    if diverged(fixed.get("val/acc", math.nan), chance=CHANCE, margin=MARGIN):
        return invalid(f"the fixed-batch baseline is at chance (val/acc "
                       f"{fixed.get('val/acc', math.nan):.3f})")
    edged = [arm for arm in runs if grid_at_edge(sweep_trials(m, arm, LR, metric="val/loss"))]
    if edged:
        return not_established(f"best step size at the grid's edge for {', '.join(edged)}")
    return None


def fewer_steps_same_accuracy(m: Metrics) -> Verdict:
    runs = {"adaptive": best_trial(m, "adaptive"), "fixed": best_trial(m, "fixed")}
    stop = guard_of(m, runs)
    if stop and stop.kind == "INVALID":
        return Verdict(stop.reason, guard=stop)
    ada, fix = runs["adaptive"], runs["fixed"]
    assert ada is not None and fix is not None
    gap = 100 * (ada["val/acc"] - fix["val/acc"])
    ratio = fix["adabatch/steps"] / ada["adabatch/steps"]
    return Verdict(f"adaptive: {ada['adabatch/steps']:.0f} steps, batch 32 -> "
                   f"{ada['adabatch/final_batch']:.0f}, val/acc {ada['val/acc']:.4f} (lr "
                   f"{ada[LR]:g}); fixed 32: {fix['adabatch/steps']:.0f} steps, val/acc "
                   f"{fix['val/acc']:.4f} (lr {fix[LR]:g}); accuracy gap {gap:+.2f} pts (paper: "
                   f">= {ACC_PTS}), step ratio {ratio:.2f} (paper: >= {MIN_STEP_RATIO})",
                   [at_least("acc_gap_pts", gap, ACC_PTS),
                    at_least("log_step_ratio", math.log(ratio), math.log(MIN_STEP_RATIO))],
                   guard=stop,
                   numbers={"step_ratio": ratio, "final_batch": ada["adabatch/final_batch"],
                            "increases": ada.get("adabatch/increases", math.nan),
                            "adaptive_lr": ada[LR], "fixed_lr": fix[LR]})


CLAIMS = [
    Claim(
        id="adadagrad:fewer-steps-same-accuracy",
        statement="Over the same 20 epochs, AdaGrad-Norm whose batch grows from 32 whenever "
                  "the norm test fails (eta 0.9) ends within 1 point of the validation "
                  "accuracy of AdaGrad-Norm at a fixed batch of 32, in at least 2x fewer "
                  "optimizer steps",
        source="arXiv:2402.11215, abstract and Sec. 5 (image-classification experiments: "
               "AdAdaGradNorm against fixed small batches)",
        arms={"adaptive": "configs/adaptive_mnist1d.yaml",
              "fixed": "configs/fixed_mnist1d.yaml"},
        check=fewer_steps_same_accuracy, package=__package__, seeds=5, budget_s=900,
    ),
]
