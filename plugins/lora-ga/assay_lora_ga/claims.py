"""LoRA-GA's claims at small scale: an MLP pretrained on MNIST-1D digits 0-4 is adapted to
digits 5-9 with rank-8 adapters on every Linear layer (or fully fine-tuned); each arm picks its
best learning rate from one grid, per seed. The schedule is constant, so the 150-step arm is
exactly the first half of the 300-step one.

Each check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guards take precedence: a baseline whose validation loss is no
better than a uniform guess among the five new digits (or not finite) makes the comparison
INVALID, and a best learning rate at the edge of its grid makes it a bound (NOT-ESTABLISHED).
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Guard,
    at_most,
    baseline_guard,
    best,
    diverged,
    edge_guard,
)

LOSS = "val/loss"
LR = "methods.optimizer.lr"
CHANCE = math.log(5)      # cross-entropy of a uniform guess among the five new digits
MARGIN = 0.1              # nats: an arm this close to uniform never learned the new task


def at_chance(loss: float) -> bool:
    """Not finite, or no better than the uniform guess (within the margin)."""
    return diverged(loss, chance=CHANCE, margin=MARGIN, higher_is_better=False)


def guard(m: Metrics, baseline: str, *tuned: str) -> Guard | None:
    """INVALID when ``baseline`` never got below chance; NOT-ESTABLISHED when an arm in
    ``tuned`` has its best learning rate at its grid's smallest or largest value (an arm at
    chance at every rate has no optimum to locate, so the test skips it)."""
    learned = [a for a in tuned if not at_chance(best(m, a, LOSS))]
    return (baseline_guard(m, [baseline], metric=LOSS, prefix="best/", chance=CHANCE,
                           margin=MARGIN, higher_is_better=False)
            or edge_guard(m, learned, LR, metric=LOSS))


def faster_than_lora(m: Metrics) -> Verdict:
    ratio = best(m, "lora-ga", LOSS) / best(m, "lora", LOSS)
    return Verdict(f"val/loss after 300 adaptation steps, lora-ga/lora = {ratio:.3f} "
                   f"(paper: <= 0.95)", [at_most("loss_ratio", ratio, 0.95)],
                   guard=guard(m, "lora", "lora-ga", "lora"))


def twice_as_fast(m: Metrics) -> Verdict:
    ratio = best(m, "lora-ga-half", LOSS) / best(m, "lora", LOSS)
    return Verdict(f"val/loss of lora-ga after 150 steps / lora after 300 = {ratio:.3f} "
                   f"(paper: <= 1.00)", [at_most("loss_ratio", ratio, 1.0)],
                   guard=guard(m, "lora", "lora-ga-half", "lora"))


def near_full_finetuning(m: Metrics) -> Verdict:
    ratio = best(m, "lora-ga", LOSS) / best(m, "full", LOSS)
    return Verdict(f"val/loss after 300 adaptation steps, lora-ga/full fine-tuning = "
                   f"{ratio:.3f} (paper: <= 1.10)", [at_most("loss_ratio", ratio, 1.10)],
                   guard=guard(m, "full", "lora-ga", "full"))


SMOKE = {"train.steps": 20, "train.eval_every": 10, "sweep.trials": 2,
         "pretrain.train.steps": 20, "pretrain.train.eval_every": 10}
LORA = "configs/lora_mnist1d.yaml"
LORA_GA = "configs/lora-ga_mnist1d.yaml"

CLAIMS = [
    Claim(
        id="lora-ga:faster-than-lora",
        statement="Adapting a pretrained model for a short budget, LoRA-GA reaches a validation "
                  "loss at least 5% lower than LoRA's at the same rank and step count (learning "
                  "rate tuned for each on one grid)",
        source="arXiv:2407.05000, Sec. 4 (Fig. 1, Tables 1-2) and abstract",
        arms={"lora": LORA, "lora-ga": LORA_GA},
        check=faster_than_lora, package=__package__, budget_s=450, smoke=SMOKE,
    ),
    Claim(
        id="lora-ga:twice-as-fast",
        statement="LoRA-GA reaches LoRA's validation loss in at most half the steps (the paper "
                  "reports 2-4x faster convergence)",
        source="arXiv:2407.05000, abstract and Sec. 4 (Fig. 1)",
        arms={"lora": LORA, "lora-ga-half": "configs/lora-ga-half_mnist1d.yaml"},
        check=twice_as_fast, package=__package__, budget_s=450, smoke=SMOKE,
    ),
    Claim(
        id="lora-ga:near-full-finetuning",
        statement="After the same number of steps, LoRA-GA's validation loss is within 10% of "
                  "full fine-tuning's (learning rate tuned for each on one grid)",
        source="arXiv:2407.05000, abstract and Sec. 4 (Fig. 1, Table 1)",
        arms={"lora-ga": LORA_GA, "full": "configs/full_mnist1d.yaml"},
        check=near_full_finetuning, package=__package__, budget_s=450, smoke=SMOKE,
    ),
]
