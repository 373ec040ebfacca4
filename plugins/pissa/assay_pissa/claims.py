"""PiSSA's claims at small scale: an MLP pretrained on MNIST-1D digits 0-4 is adapted to
digits 5-9 with rank-8 adapters on every Linear layer; each arm picks its best learning rate
from one grid, per seed."""
from __future__ import annotations

from assay import Claim, Metrics, Verdict

LOSS = "best/val/loss"


def faster_than_lora(m: Metrics) -> Verdict:
    ratio = m[f"pissa/{LOSS}"] / m[f"lora/{LOSS}"]
    return Verdict(ratio <= 0.95, f"val/loss after 300 adaptation steps, pissa/lora = "
                                  f"{ratio:.3f} (pass: <= 0.95)", {"loss_ratio": ratio})


def better_final(m: Metrics) -> Verdict:
    ratio = m[f"pissa-long/{LOSS}"] / m[f"lora-long/{LOSS}"]
    return Verdict(ratio <= 1.0, f"val/loss after 1500 adaptation steps, pissa/lora = "
                                 f"{ratio:.3f} (pass: <= 1.00)", {"loss_ratio": ratio})


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
