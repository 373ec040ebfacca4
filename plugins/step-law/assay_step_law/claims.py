"""Step Law's directions at small scale: an MLP regressing a random teacher network.

Three scale points, each one grid sweep over learning rate x batch size (AdamW, fixed data
budget through the ``step-law`` trainer, 3 seeds): ``base`` (width 64, D = 16K examples),
``wide`` (width 256: ~12x the parameters N, same D) and ``long`` (width 64, 4x the
examples). Comparing wide with base moves only N; long with base moves only D.

A point's optimum is not the raw argmin of its grid: the lowest loss per value of the
parameter (a profile over the other one), then the vertex of a parabola in log space through
the best value and its two grid neighbours, clipped to them (``assay.lib.optimum``).

Each check reports its effect per seed; the verdict is the t-interval over seeds
(``assay.claims.decide``). Guards: an arm with no finite trial, or whose best validation loss
is no better than predicting the mean target, is INVALID; an optimum at the edge of its grid
is censored (the true one may lie beyond it), so a comparison using it is NOT-ESTABLISHED.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import (
    Guard,
    above,
    at_least,
    at_most,
    between,
    diverged,
    invalid,
    not_established,
    sweep_trials,
)
from assay.lib.optimum import grid_at_edge, grid_optimum

from .formula import LR_D_EXP, LR_N_EXP

LR, BATCH, OBJECTIVE = "methods.optimizer.lr", "train.batch_size", "val/loss"
ARMS = {"base": "configs/base.yaml", "wide": "configs/wide.yaml", "long": "configs/long.yaml"}
WIDTH = {"base": 64, "wide": 256, "long": 64}            # must match the arm files (tested)
TOKENS = {"base": 16384, "wide": 16384, "long": 65536}
MEAN_PREDICTOR_LOSS = 3.92   # val/loss of predicting the train targets' mean (tested)


def mlp_params(width: int, depth: int = 2, n_in: int = 32, n_out: int = 1) -> int:
    """Parameters of the built-in ``mlp`` (no embeddings, so all of them count as N)."""
    return n_in * width + width + (depth - 1) * (width * width + width) + width * n_out + n_out


N = {arm: mlp_params(w) for arm, w in WIDTH.items()}
HALF_OCTAVE = math.sqrt(2)


def profile(m: Metrics, arm: str, param: str) -> list[tuple[float, float]]:
    """(value of ``param``, val/loss) of every finished trial of ``arm`` with a finite loss;
    the other swept parameter varies, so the estimators take the lowest loss per value."""
    other = BATCH if param == LR else LR
    return [(x, loss) for x, _, loss in sweep_trials(m, arm, param, other, metric=OBJECTIVE)]


def optimum(m: Metrics, arm: str, param: str) -> float:
    """The arm's optimum of ``param`` profiled over the other swept parameter (nan when no
    trial finished with a finite loss)."""
    return grid_optimum(profile(m, arm, param))


def guard(m: Metrics, param: str, *arms: str) -> Guard | None:
    """INVALID when an arm never beat the mean predictor (or has no finite trial);
    NOT-ESTABLISHED when an arm's optimum of ``param`` is the smallest or largest tried."""
    dead = [a for a in arms if not profile(m, a, param) or diverged(
        min(loss for _, loss in profile(m, a, param)), chance=MEAN_PREDICTOR_LOSS,
        higher_is_better=False)]
    if dead:
        return invalid(f"no trial below the mean predictor's loss {MEAN_PREDICTOR_LOSS} for "
                       f"{', '.join(dead)}")
    edged = [f"{a} {param.rsplit('.', 1)[-1]} = {optimum(m, a, param):.3g}" for a in arms
             if grid_at_edge(profile(m, a, param))]
    if edged:
        return not_established(f"optimum at the grid edge ({', '.join(edged)})")
    return None


def _compare(m: Metrics, param: str, arm: str, scale: dict[str, float]
             ) -> tuple[float, float, Guard | None]:
    """(ratio of optima arm/base, log-log slope against ``scale``, the guard of both arms)."""
    ratio = optimum(m, arm, param) / optimum(m, "base", param)
    slope = math.log(ratio) / math.log(scale[arm] / scale["base"]) if ratio > 0 else math.nan
    return ratio, slope, guard(m, param, arm, "base")


def lr_falls_with_n(m: Metrics) -> Verdict:
    ratio, alpha, g = _compare(m, LR, "wide", N)
    return Verdict(f"best lr wide/base = {ratio:.3f} at {N['wide'] / N['base']:.1f}x N, "
                   f"exponent {alpha:.2f} (paper {LR_N_EXP}; passes at ratio <= 0.707, i.e. "
                   f"the best lr falls by at least half an octave)",
                   [at_most("lr_ratio_n", ratio, 1 / HALF_OCTAVE)], guard=g,
                   numbers={"lr_ratio_n": ratio, "lr_exponent_n": alpha})


def lr_rises_with_d(m: Metrics) -> Verdict:
    ratio, beta, g = _compare(m, LR, "long", TOKENS)
    return Verdict(f"best lr long/base = {ratio:.3f} at 4x D, exponent {beta:.2f} "
                   f"(paper +{LR_D_EXP}; passes at exponent > 0)",
                   [above("lr_exponent_d", beta, 0.0)], guard=g,
                   numbers={"lr_ratio_d": ratio, "lr_exponent_d": beta})


def batch_grows_with_d(m: Metrics) -> Verdict:
    ratio, gamma, g = _compare(m, BATCH, "long", TOKENS)
    return Verdict(f"best batch long/base = {ratio:.2f} at 4x D, exponent {gamma:.2f} "
                   f"(paper +0.571, i.e. 2.2x; passes at ratio >= 1.414)",
                   [at_least("batch_ratio_d", ratio, HALF_OCTAVE)], guard=g,
                   numbers={"batch_ratio_d": ratio, "batch_exponent_d": gamma})


def batch_ignores_n(m: Metrics) -> Verdict:
    ratio, delta, g = _compare(m, BATCH, "wide", N)
    log2_ratio = math.log2(ratio) if ratio > 0 else math.nan
    return Verdict(f"best batch wide/base = {ratio:.2f} at {N['wide'] / N['base']:.1f}x N, "
                   f"exponent {delta:.2f} (paper ~0; passes within a factor 2)",
                   [between("batch_log2_ratio_n", log2_ratio, -1.0, 1.0)], guard=g,
                   numbers={"batch_ratio_n": ratio, "batch_exponent_n": delta})


SMOKE = {"methods.trainer.tokens": 2048, "train.eval_every": 10, "sweep.trials": 2}
SOURCE = "arXiv:2503.04715"


def _claim(short: str, statement: str, arms: list[str], check: object, where: str) -> Claim:
    return Claim(id=f"step-law:{short}", statement=statement, source=f"{SOURCE}, {where}",
                 arms={a: ARMS[a] for a in arms}, check=check,  # type: ignore[arg-type]
                 package=__package__, budget_s=600, smoke=SMOKE)


CLAIMS = [
    _claim("lr-falls-with-n", "With data size fixed, the best learning rate falls as the model "
           "grows (by at least half an octave for ~12x the parameters)",
           ["base", "wide"], lr_falls_with_n, "abstract and the fitted law eta ~ N^-0.713"),
    _claim("lr-rises-with-d", "With model size fixed, the best learning rate rises with the "
           "amount of training data (positive exponent)",
           ["base", "long"], lr_rises_with_d, "abstract and the fitted law eta ~ D^0.307"),
    _claim("batch-grows-with-d", "The best batch size grows with the amount of training data "
           "(by at least half an octave for 4x the data)",
           ["base", "long"], batch_grows_with_d, "abstract and the fitted law B ~ D^0.571"),
    _claim("batch-ignores-n", "The best batch size hardly depends on model size (within a "
           "factor 2 for ~12x the parameters)",
           ["base", "wide"], batch_ignores_n, "abstract (batch size primarily set by D)"),
]
