"""LoRA-GA's claims at small scale: an MLP pretrained on MNIST-1D digits 0-4 is adapted to
digits 5-9 with rank-8 adapters on every Linear layer (or fully fine-tuned); each arm picks its
best learning rate from one grid, per seed. The schedule is constant, so the 150-step arm is
exactly the first half of the 300-step one."""
from __future__ import annotations

from assay import Claim, Metrics, Verdict

LOSS = "best/val/loss"


def faster_than_lora(m: Metrics) -> Verdict:
    ratio = m[f"lora-ga/{LOSS}"] / m[f"lora/{LOSS}"]
    return Verdict(ratio <= 0.95, f"val/loss after 300 adaptation steps, lora-ga/lora = "
                                  f"{ratio:.3f} (pass: <= 0.95)", {"loss_ratio": ratio})


def twice_as_fast(m: Metrics) -> Verdict:
    ratio = m[f"lora-ga-half/{LOSS}"] / m[f"lora/{LOSS}"]
    return Verdict(ratio <= 1.0, f"val/loss of lora-ga after 150 steps / lora after 300 = "
                                 f"{ratio:.3f} (pass: <= 1.00)", {"loss_ratio": ratio})


def near_full_finetuning(m: Metrics) -> Verdict:
    ratio = m[f"lora-ga/{LOSS}"] / m[f"full/{LOSS}"]
    return Verdict(ratio <= 1.10, f"val/loss after 300 adaptation steps, lora-ga/full "
                                  f"fine-tuning = {ratio:.3f} (pass: <= 1.10)",
                   {"loss_ratio": ratio})


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
        check=faster_than_lora, package=__package__, budget_s=300, smoke=SMOKE,
    ),
    Claim(
        id="lora-ga:twice-as-fast",
        statement="LoRA-GA reaches LoRA's validation loss in at most half the steps (the paper "
                  "reports 2-4x faster convergence)",
        source="arXiv:2407.05000, abstract and Sec. 4 (Fig. 1)",
        arms={"lora": LORA, "lora-ga-half": "configs/lora-ga-half_mnist1d.yaml"},
        check=twice_as_fast, package=__package__, budget_s=300, smoke=SMOKE,
    ),
    Claim(
        id="lora-ga:near-full-finetuning",
        statement="After the same number of steps, LoRA-GA's validation loss is within 10% of "
                  "full fine-tuning's (learning rate tuned for each on one grid)",
        source="arXiv:2407.05000, abstract and Sec. 4 (Fig. 1, Table 1)",
        arms={"lora-ga": LORA_GA, "full": "configs/full_mnist1d.yaml"},
        check=near_full_finetuning, package=__package__, budget_s=300, smoke=SMOKE,
    ),
]
