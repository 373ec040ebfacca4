"""Gradient noise's claim at small scale: a 20-layer MLP from a poor init, plain SGD with and
without annealed noise, each with its learning rate picked from the same 3-point grid.

The check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). The plain arm at chance is the paper's premise (the deep network is
untrainable without noise), so it is not a divergence guard here. A best learning rate at the
edge of its grid makes the comparison a bound (NOT-ESTABLISHED); an arm that stays at chance
at every rate has no optimum to locate, so the edge test skips it.
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict
from assay.claims import at_least, best, diverged, grid_at_edge, not_established, sweep_trials

MIN_GAIN = 0.10     # ten points of validation accuracy
ACC = "val/acc"
LR = {"plain": "methods.optimizer.lr", "noise": "methods.optimizer.inner.lr"}
CHANCE, MARGIN = 0.1, 0.05     # ten digit classes; within 5 points of chance: never learned


def edged(m: Metrics, arm: str) -> bool:
    """The arm learned, and its best rate (by accuracy) is its grid's smallest or largest."""
    if diverged(best(m, arm, ACC), chance=CHANCE, margin=MARGIN):
        return False
    return grid_at_edge([(lr, -acc) for lr, acc in sweep_trials(m, arm, LR[arm], metric=ACC)])


def noise_rescues_deep_mlp(m: Metrics) -> Verdict:
    noise, plain = best(m, "noise", ACC), best(m, "plain", ACC)
    gain = noise - plain
    at_edge = [arm for arm in ("noise", "plain") if edged(m, arm)]
    guard = not_established(f"best lr at the grid's edge for {', '.join(at_edge)}") \
        if at_edge else None
    return Verdict(f"best val/acc with noise {noise:.3f} vs without {plain:.3f}: gain "
                   f"{gain:+.3f} (paper: >= +{MIN_GAIN})",
                   [at_least("acc_gain", gain, MIN_GAIN)], guard=guard,
                   numbers={"noise_acc": noise, "plain_acc": plain})


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
