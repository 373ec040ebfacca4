"""Loki: predict with the Frechet mean of the observed classes (Roberts et al., 2023).

A classifier trained on K observed classes of a larger label space Y can only ever answer one
of those K with argmax. When Y carries a metric d, the probability vector P over the observed
classes lambda_1..lambda_K says more than its largest entry: Loki answers the label that is
closest, in the P-weighted squared-distance sense, to all observed classes at once,

    y_hat = argmin_{y in Y} sum_i P_i d(y, lambda_i)^2,

which can be a label no training example had. On a line (d = |i - j|) that is the label
nearest to the P-weighted mean position; with the discrete metric (d = 1 when labels differ)
it is argmax again, which is why the discrete metric is this plugin's negative control.

The rule needs no training, so the ``loki-frechet`` trainer runs the standard loop unchanged
and, after the last step, applies both rules to the same model's outputs on the test split
(the validation split when there is none) and records their numbers.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Paper, Trainer

from assay_loki_frechet.config import LokiConfig, Metric

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="Geometry-Aware Adaptation for Pretrained Models", arxiv="2307.12226",
              year=2023)


def label_distances(n_labels: int, metric: Metric) -> torch.Tensor:
    """(n_labels, n_labels) distances between the labels 0..n-1: ``line`` places label i at
    position i (an ordinal label space); ``discrete`` puts every pair at distance 1."""
    pos = torch.arange(n_labels, dtype=torch.float64)
    if metric == "line":
        return (pos[:, None] - pos[None, :]).abs()
    return (pos[:, None] != pos[None, :]).to(torch.float64)


def frechet_predict(probs: torch.Tensor, dist_to_observed: torch.Tensor) -> torch.Tensor:
    """Loki's prediction for each row of ``probs`` (N, K): the index y of the label space
    minimising sum_i P_i d(y, lambda_i)^2, with ``dist_to_observed`` (|Y|, K) holding
    d(y, lambda_i). The objective is linear in P, so all rows are one matrix product."""
    cost = probs.to(torch.float64) @ dist_to_observed.pow(2).T      # (N, |Y|)
    return cost.argmin(dim=1)


def compare_rules(logits: torch.Tensor, y: torch.Tensor, observed: torch.Tensor,
                  metric: Metric) -> dict[str, float]:
    """argmax and Loki on the same outputs, scored by the line distance of the label space
    (the task's own metric, whatever metric the rule uses): mean squared label distance,
    exact accuracy, and on the examples whose label was never observed, how often each rule
    names it exactly."""
    n_labels = logits.shape[1]
    probs = torch.softmax(logits[:, observed].double(), dim=1)     # the K-class model's P
    rules = {"argmax": observed[probs.argmax(dim=1)],
             "loki": frechet_predict(probs, label_distances(n_labels, metric)[:, observed])}
    unseen = ~torch.isin(y, observed)
    out: dict[str, float] = {"loki/n_unseen": float(unseen.sum())}
    for name, pred in rules.items():
        out[f"{name}/msd"] = float((pred - y).double().pow(2).mean())
        out[f"{name}/acc"] = float((pred == y).double().mean())
        out[f"{name}/unseen_exact"] = (float((pred[unseen] == y[unseen]).double().mean())
                                       if unseen.any() else float("nan"))
        out[f"{name}/unseen_share"] = float((~torch.isin(pred, observed)).double().mean())
    return out


class Loki(Trainer):
    """The standard loop, then argmax and Loki's Frechet-mean rule on the test split."""

    name = "loki-frechet"
    Config = LokiConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "dataset": {"name": "loki-frechet-ordinal", "n_train": 200, "n_val": 100,
                    "n_test": 200},
        "model": {"name": "linear"},
        "methods": {"trainer": {"name": "loki-frechet"},
                    "optimizer": {"name": "adamw", "lr": 3e-2}},
    }

    def train(self, ctx: RunContext) -> None:
        ctx.run_steps(ctx.total_steps)

    def after_train(self, ctx: RunContext) -> None:
        x, y = ctx.data.test if ctx.data.test is not None else ctx.data.val
        observed = ctx.data.train[1].unique()          # the classes training ever showed
        was_training = ctx.model.training
        ctx.model.eval()
        with torch.no_grad():
            logits = torch.cat([ctx.model(x[i:i + 1024].to(ctx.device)).cpu()
                                for i in range(0, len(x), 1024)])
        ctx.model.train(was_training)
        ctx.final_metrics.update(compare_rules(logits, y, observed, self.config.metric))
        ctx.final_metrics["loki/n_observed"] = float(len(observed))
