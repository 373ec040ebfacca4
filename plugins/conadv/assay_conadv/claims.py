"""ConAdv's claims at small scale: an MLP on MNIST-1D at batch 2048 (about half the training
set per step) for 120 steps with LAMB. Three arms share everything but the perturbation:
ConAdv (FGSM from the weights one step old), synchronous FGSM adversarial training, and
vanilla training. The number compared is the final validation accuracy, paired by seed (same
initial weights and batch order in every arm).

Each check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``), with seeds added while it is inconclusive (5, then 7, then 9).
Guard: INVALID when a baseline arm (sync or vanilla) ends at chance (10 classes) or not
finite.
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict
from assay.claims import at_least, baseline_guard

ACC = "val/acc"
CHANCE, MARGIN = 0.1, 0.05
SYNC_GAP_PTS = -0.5        # ConAdv loses at most 0.5 points to synchronous adversarial training
VANILLA_GAP_PTS = 0.0      # ... and is not below vanilla large-batch training


def gap(m: Metrics, baseline: str, threshold: float) -> Verdict:
    stale, base = m["conadv/" + ACC], m[f"{baseline}/{ACC}"]
    pts = 100 * (stale - base)
    return Verdict(f"val/acc ConAdv {stale:.4f} vs {baseline} {base:.4f}: {pts:+.2f} pts "
                   f"(paper: >= {threshold:+.1f})",
                   [at_least(f"acc_gap_{baseline}_pts", pts, threshold)],
                   guard=baseline_guard(m, [baseline], metric=ACC, chance=CHANCE, margin=MARGIN),
                   numbers={"conadv_acc": stale, f"{baseline}_acc": base})


def matches_sync(m: Metrics) -> Verdict:
    return gap(m, "sync", SYNC_GAP_PTS)


def not_below_vanilla(m: Metrics) -> Verdict:
    return gap(m, "vanilla", VANILLA_GAP_PTS)


ARMS = {"conadv": "configs/conadv_mnist1d.yaml", "sync": "configs/sync_mnist1d.yaml",
        "vanilla": "configs/vanilla_mnist1d.yaml"}
SMOKE = {"train.steps": 40, "train.eval_every": 20}

CLAIMS = [
    Claim(
        id="conadv:matches-sync",
        statement="At batch 2048, FGSM adversarial training whose perturbations come from "
                  "weights one step stale (so both gradients could run concurrently) ends "
                  "within 0.5 points of synchronous adversarial training's validation accuracy",
        source="arXiv:2106.00221, Sec. 5 (Table 1 and Fig. 3: ConAdv against DisAdv on "
               "ResNet-50/ImageNet at 32K-64K)",
        arms={k: ARMS[k] for k in ("conadv", "sync")}, check=matches_sync,
        package=__package__, seeds=5, max_seeds=9, budget_s=900, smoke=SMOKE,
    ),
    Claim(
        id="conadv:not-below-vanilla",
        statement="At batch 2048, ConAdv ends at or above the validation accuracy of vanilla "
                  "large-batch training with the same optimizer and schedule",
        source="arXiv:2106.00221, Sec. 5 (Table 1: ConAdv against vanilla LAMB/LARS "
               "large-batch training)",
        arms={k: ARMS[k] for k in ("conadv", "vanilla")}, check=not_below_vanilla,
        package=__package__, seeds=5, max_seeds=9, budget_s=900, smoke=SMOKE,
    ),
]
