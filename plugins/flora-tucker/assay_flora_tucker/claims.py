"""FLoRA's claim at small scale: a 1-D CNN (3 conv layers of 32 channels, kernel 5)
pretrained on MNIST-1D digits 0-4 is adapted to digits 5-9 for 300 steps through adapters on
its two 32 -> 32 conv kernels (the readout trained too, in both arms): FLoRA's Tucker core
(ranks 13, 13, 4 over out, in, kernel) against LoRA rank 8 on the kernel reshaped to
(out, in * kernel), at no more trainable adapter numbers than LoRA's. Each arm picks its
learning rate (by validation accuracy) from one fixed grid, per seed.

Each check reports its effects per seed; the verdict comes from the t-interval over 5 seeds
(``assay.claims.decide``). Guards: INVALID when the LoRA baseline never left chance among the
five new digits (or an arm has no finite trial); NOT-ESTABLISHED when an arm's best rate is
the grid's smallest or largest value.
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Guard,
    at_least,
    at_most,
    best,
    sweep_guard,
    trial_constant,
)

LR, ACC = "methods.optimizer.lr", "val/acc"
PARAMS = "adapter/params"  # the same in every trial of an arm
GAIN_PTS = 0.5                 # FLoRA at least 0.5 points above LoRA on the reshaped kernel
MAX_PARAM_RATIO = 1.0          # at no more trainable adapter numbers than LoRA
CHANCE, MARGIN = 0.2, 0.02     # a uniform guess among the five new digits


def guard(m: Metrics) -> Guard | None:
    """INVALID when an arm has no finite trial or LoRA (the baseline) never beat chance;
    NOT-ESTABLISHED when an arm's best rate is at the grid's edge."""
    return sweep_guard(m, ("flora", "lora"), LR, metric=ACC, baselines=("lora",),
                       chance=CHANCE, margin=MARGIN)


def beats_reshaped_lora(m: Metrics) -> Verdict:
    stop = guard(m)
    if stop is not None and stop.kind == "INVALID":
        return Verdict(stop.reason, guard=stop)
    gain = 100 * (best(m, "flora", ACC) - best(m, "lora", ACC))
    ratio = trial_constant(m, "flora", PARAMS) / trial_constant(m, "lora", PARAMS)
    return Verdict(f"val/acc flora - lora = {gain:+.2f} pts (paper: >= {GAIN_PTS}) with "
                   f"{ratio:.3f}x LoRA's adapter parameters (<= {MAX_PARAM_RATIO:g})",
                   [at_least("acc_gain_pts", gain, GAIN_PTS),
                    at_most("param_ratio", ratio, MAX_PARAM_RATIO)],
                   guard=stop, numbers={"acc_gain_pts": gain, "param_ratio": ratio})


CLAIMS = [
    Claim(
        id="flora-tucker:beats-reshaped-lora",
        statement="Adapting a pretrained 1-D CNN to new classes through its conv kernels, a "
                  "Tucker-core update (FLoRA) reaches validation accuracy at least 0.5 points "
                  "above LoRA on the kernel reshaped to a matrix, at no more trainable adapter "
                  "parameters",
        source="arXiv:2405.14739, abstract and Sec. 4 (convolution experiments: FLoRA vs "
               "LoRA on reshaped kernels at comparable parameter budgets)",
        arms={"flora": "configs/flora_mnist1d.yaml", "lora": "configs/lora_mnist1d.yaml"},
        check=beats_reshaped_lora, package=__package__, seeds=5, budget_s=900,
    ),
]
