"""PiSSA's claims at small scale: an MLP pretrained on MNIST-1D digits 0-4 is adapted to
digits 5-9 with rank-8 adapters on every Linear layer; each arm picks its best learning rate
from one grid, per seed.

Each check reports its effect per seed; the verdict is the t-interval over seeds
(``assay.claims.decide``). Guards: a LoRA arm (the baseline) whose every trial diverged or
stayed at chance accuracy on the five new digits is INVALID; a best learning rate at the edge
of the grid makes the comparison a bound (NOT-ESTABLISHED).
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Guard, at_most, diverged, grid_at_edge, invalid, not_established, sweep_trials, trials,
)

LR, LOSS = "methods.optimizer.lr", "val/loss"
CHANCE_ACC = 0.2           # a uniform guess over the five digits the arms adapt to
MARGIN = 0.02


def guard(m: Metrics, method: str, baseline: str) -> Guard | None:
    """INVALID when the baseline never beat chance (or has no finite trial); NOT-ESTABLISHED
    when either arm's best learning rate is the smallest or largest of the grid."""
    accs = [t["val/acc"] for t in trials(m, baseline) if "val/acc" in t]
    if not accs or diverged(max(accs), chance=CHANCE_ACC, margin=MARGIN):
        return invalid(f"{baseline}: best val/acc {max(accs, default=float('nan')):.3f}, "
                       f"not above chance {CHANCE_ACC} + {MARGIN}")
    edged = [a for a in (method, baseline) if grid_at_edge(sweep_trials(m, a, LR, metric=LOSS))]
    if edged:
        return not_established(f"best lr at the grid's edge for {', '.join(edged)}")
    return None


def faster_than_lora(m: Metrics) -> Verdict:
    ratio = m[f"pissa/best/{LOSS}"] / m[f"lora/best/{LOSS}"]
    return Verdict(f"val/loss after 300 adaptation steps, pissa/lora = {ratio:.3f} "
                   f"(paper: <= 0.95)", [at_most("loss_ratio", ratio, 0.95)],
                   guard=guard(m, "pissa", "lora"))


def better_final(m: Metrics) -> Verdict:
    ratio = m[f"pissa-long/best/{LOSS}"] / m[f"lora-long/best/{LOSS}"]
    return Verdict(f"val/loss after 1500 adaptation steps, pissa/lora = {ratio:.3f} "
                   f"(paper: <= 1.00)", [at_most("loss_ratio", ratio, 1.0)],
                   guard=guard(m, "pissa-long", "lora-long"))


SMOKE = {"train.steps": 20, "train.eval_every": 10, "sweep.trials": 2,
         "pretrain.train.steps": 20, "pretrain.train.eval_every": 10}

CLAIMS = [
    Claim(
        id="pissa:faster-than-lora",
        statement="Adapting a pretrained model for a short budget, PiSSA reaches a validation "
                  "loss at least 5% lower than LoRA's at the same rank and step count (learning "
                  "rate tuned for each on one grid)",
        source="arXiv:2404.02948, Sec. 5.1 (loss curves, Fig. 4) and abstract",
        arms={"lora": "configs/lora_mnist1d.yaml", "pissa": "configs/pissa_mnist1d.yaml"},
        check=faster_than_lora, package=__package__, budget_s=300, smoke=SMOKE,
    ),
    Claim(
        id="pissa:better-final",
        statement="With five times the budget, PiSSA still ends at a validation loss no higher "
                  "than LoRA's (learning rate tuned for each on one grid)",
        source="arXiv:2404.02948, Sec. 5.1 (Table 1) and abstract",
        arms={"lora-long": "configs/lora-long_mnist1d.yaml",
              "pissa-long": "configs/pissa-long_mnist1d.yaml"},
        check=better_final, package=__package__, budget_s=720, smoke=SMOKE,
    ),
]
