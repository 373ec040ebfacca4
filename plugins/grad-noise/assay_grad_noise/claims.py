"""Gradient noise's claim at small scale: a 20-layer MLP from a poor init, plain SGD with and
without annealed noise, each with its learning rate picked from the same 3-point grid."""
from __future__ import annotations

from assay import Claim, Metrics, Verdict

MIN_GAIN = 0.10     # ten points of validation accuracy


def noise_rescues_deep_mlp(m: Metrics) -> Verdict:
    noise, plain = m["noise/best/val/acc"], m["plain/best/val/acc"]
    gain = noise - plain
    return Verdict(gain >= MIN_GAIN,
                   f"best val/acc with noise {noise:.3f} vs without {plain:.3f}: gain "
                   f"{gain:+.3f} (pass: >= +{MIN_GAIN})", {"acc_gain": gain})


CLAIMS = [
    Claim(
        id="grad-noise:deep-mlp",
        statement="From a poor N(0, 0.1^2) init, a 20-layer 50-unit ReLU MLP trained with plain "
                  "SGD reaches a validation accuracy at least 10 points higher when annealed "
                  "Gaussian noise (eta=0.01, gamma=0.55) is added to its gradients",
        source="arXiv:1511.06807, abstract; 20-layer MNIST network experiment (Table 1)",
        arms={"plain": "configs/plain_deep_mlp.yaml", "noise": "configs/noise_deep_mlp.yaml"},
        check=noise_rescues_deep_mlp, package=__package__, budget_s=900,
        smoke={"train.steps": 20, "train.eval_every": 10, "sweep.trials": 1},
    ),
]
