"""LoRA-SB's claims at small scale: an MLP (width 256) pretrained on MNIST-1D digits 0-4 is
adapted to digits 5-9 with rank-8 adapters on every Linear layer for 300 steps; each arm picks
its best learning rate (by validation accuracy) from one grid, per seed.

Each check reports its effects per seed; the verdict comes from the t-interval over 5 seeds
(``assay.claims.decide``). Guards: INVALID when the LoRA baseline never left chance among the
five new digits (or a compared arm has no finite trial); NOT-ESTABLISHED when a compared arm's
best learning rate is the grid's smallest or largest. LoRA-XS at chance is not INVALID: a core
that cannot reach the new task from the weight's own subspace is the outcome the claim
measures, not a broken baseline.
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Guard,
    at_least,
    best,
    sweep_guard,
    trial_constant,
)

LR, ACC = "methods.optimizer.lr", "val/acc"
PARAMS = "cost/trainable_params"  # the same in every trial of an arm
WIDTH, RANK = 256, 8
MIN_PARAM_RATIO = WIDTH / (2 * RANK)   # "d/(2r) times fewer": 16
MATCH_PTS = -0.5                       # within 0.5 points of LoRA (or above)
BEAT_XS_PTS = 1.0                      # at least 1 point above LoRA-XS
CHANCE, MARGIN = 0.2, 0.02             # a uniform guess among the five new digits


def guard(m: Metrics, *arms: str, at_chance: tuple[str, ...] = ()) -> Guard | None:
    """INVALID when a compared arm has no finite trial or an arm of ``at_chance`` never beat
    chance; NOT-ESTABLISHED when an arm's best rate is at the grid's edge."""
    return sweep_guard(m, arms, LR, metric=ACC, baselines=at_chance, chance=CHANCE,
                       margin=MARGIN)


def matches_lora(m: Metrics) -> Verdict:
    stop = guard(m, "lora-sb", "lora", at_chance=("lora",))
    if stop is not None and stop.kind == "INVALID":
        return Verdict(stop.reason, guard=stop)
    gap = 100 * (best(m, "lora-sb", ACC) - best(m, "lora", ACC))
    ratio = trial_constant(m, "lora", PARAMS) / trial_constant(m, "lora-sb", PARAMS)
    return Verdict(f"val/acc lora-sb - lora = {gap:+.2f} pts (paper: >= {MATCH_PTS}) with "
                   f"{ratio:.1f}x fewer trainable parameters (>= d/(2r) = {MIN_PARAM_RATIO:g})",
                   [at_least("acc_gap_pts", gap, MATCH_PTS),
                    at_least("param_ratio", ratio, MIN_PARAM_RATIO)],
                   guard=stop, numbers={"acc_gap_pts": gap, "param_ratio": ratio})


def beats_lora_xs(m: Metrics) -> Verdict:
    stop = guard(m, "lora-sb", "lora-xs")
    if stop is not None and stop.kind == "INVALID":
        return Verdict(stop.reason, guard=stop)
    gain = 100 * (best(m, "lora-sb", ACC) - best(m, "lora-xs", ACC))
    return Verdict(f"val/acc lora-sb - lora-xs = {gain:+.2f} pts at equal trainable "
                   f"parameters (paper: >= {BEAT_XS_PTS})",
                   [at_least("acc_gain_pts", gain, BEAT_XS_PTS)], guard=stop,
                   numbers={"acc_gain_pts": gain})


SB = "configs/lora-sb_mnist1d.yaml"

CLAIMS = [
    Claim(
        id="lora-sb:matches-lora",
        statement="Adapting a pretrained MLP to new classes, LoRA-SB at rank 8 (only the 8x8 "
                  "cores trained) reaches validation accuracy within 0.5 points of LoRA at rank "
                  "8 (or above) with at least d/(2r) = 16 times fewer trainable parameters",
        source="arXiv:2411.19557, abstract (exceeds LoRA with 27-90x fewer parameters) and "
               "the LoRA comparisons of its experiments",
        arms={"lora-sb": SB, "lora": "configs/lora_mnist1d.yaml"},
        check=matches_lora, package=__package__, seeds=5, budget_s=420,
    ),
    Claim(
        id="lora-sb:beats-lora-xs",
        statement="At the same layout and trainable parameters, LoRA-SB's start (the first "
                  "update's SVD) beats LoRA-XS's (the weight's SVD, core near zero) by at "
                  "least 1 point of validation accuracy",
        source="arXiv:2411.19557, abstract (comprehensively outperforms LoRA-XS) and the "
               "LoRA-XS comparisons of its experiments",
        arms={"lora-sb": SB, "lora-xs": "configs/lora-xs_mnist1d.yaml"},
        check=beats_lora_xs, package=__package__, seeds=5, budget_s=420,
    ),
]
