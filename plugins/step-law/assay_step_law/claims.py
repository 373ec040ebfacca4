"""Step Law's directions at small scale: an MLP regressing a random teacher network.

Three scale points, each one grid sweep over learning rate x batch size (AdamW, fixed data
budget through the ``step-law`` trainer, 3 seeds): ``base`` (width 64, D = 16K examples),
``wide`` (width 256: ~12x the parameters N, same D) and ``long`` (width 64, 4x the
examples). Comparing wide with base moves only N; long with base moves only D.

A point's optimum is not the raw argmin of its grid: the lowest loss per value of the
parameter (a profile over the other one), then the vertex of a parabola in log space through
the best value and its two grid neighbours, clipped to them (``optimum``).
"""
from __future__ import annotations

import math


from assay import Claim, Metrics, Verdict
from assay.claims import grid_at_edge, grid_optimum, sweep_trials

from .formula import LR_D_EXP, LR_N_EXP

LR, BATCH, OBJECTIVE = "methods.optimizer.lr", "train.batch_size", "val/loss"
ARMS = {"base": "configs/base.yaml", "wide": "configs/wide.yaml", "long": "configs/long.yaml"}
WIDTH = {"base": 64, "wide": 256, "long": 64}            # must match the arm files (tested)
TOKENS = {"base": 16384, "wide": 16384, "long": 65536}


def mlp_params(width: int, depth: int = 2, n_in: int = 32, n_out: int = 1) -> int:
    """Parameters of the built-in ``mlp`` (no embeddings, so all of them count as N)."""
    return n_in * width + width + (depth - 1) * (width * width + width) + width * n_out + n_out


N = {arm: mlp_params(w) for arm, w in WIDTH.items()}
HALF_OCTAVE = math.sqrt(2)


def trials(m: Metrics, arm: str, *params: str, metric: str = OBJECTIVE) -> list[tuple[float, ...]]:
    """(param values..., metric) of every finished trial of ``arm`` with a finite metric."""
    return sweep_trials(m, arm, *params, metric=metric)


optimum, at_edge = grid_optimum, grid_at_edge   # shared with the other law plugins (core)


def best(m: Metrics, arm: str, param: str) -> tuple[float, bool]:
    """(the arm's optimum of ``param`` profiled over the other swept parameter, whether it
    is censored at the grid's edge); the raw best trial's value when per-trial numbers are
    missing."""
    other = BATCH if param == LR else LR
    rows = [(x, loss) for x, _, loss in trials(m, arm, param, other)]
    if rows:
        return optimum(rows), at_edge(rows)
    return m.get(f"{arm}/best/{param}", math.nan), False


def _compare(m: Metrics, param: str, arm: str, scale: dict[str, float]
             ) -> tuple[float, float, str]:
    """(ratio of optima arm/base, log-log slope against ``scale``, a note naming any optimum
    at its grid edge; a comparison using one is not established, so its claim cannot pass)."""
    (top, top_edge), (bottom, bottom_edge) = best(m, arm, param), best(m, "base", param)
    ratio = top / bottom
    edges = [f"{a} {param.rsplit('.', 1)[-1]} = {v:.3g}"
             for a, v, e in ((arm, top, top_edge), ("base", bottom, bottom_edge)) if e]
    note = f"; NOT ESTABLISHED: optimum at the grid edge ({', '.join(edges)})" if edges else ""
    return ratio, math.log(ratio) / math.log(scale[arm] / scale["base"]), note


def lr_falls_with_n(m: Metrics) -> Verdict:
    ratio, alpha, note = _compare(m, LR, "wide", N)
    return Verdict(ratio <= 1 / HALF_OCTAVE and not note,
                   f"best lr wide/base = {ratio:.3f} at {N['wide'] / N['base']:.1f}x N, "
                   f"exponent {alpha:.2f} (paper {LR_N_EXP}; pass: ratio <= 0.707, i.e. the "
                   f"best lr falls by at least half an octave){note}",
                   {"lr_ratio_n": ratio, "lr_exponent_n": alpha})


def lr_rises_with_d(m: Metrics) -> Verdict:
    ratio, beta, note = _compare(m, LR, "long", TOKENS)
    return Verdict(beta > 0 and not note,
                   f"best lr long/base = {ratio:.3f} at 4x D, exponent {beta:.2f} "
                   f"(paper +{LR_D_EXP}; pass: exponent > 0){note}",
                   {"lr_ratio_d": ratio, "lr_exponent_d": beta})


def batch_grows_with_d(m: Metrics) -> Verdict:
    ratio, gamma, note = _compare(m, BATCH, "long", TOKENS)
    return Verdict(ratio >= HALF_OCTAVE and not note,
                   f"best batch long/base = {ratio:.2f} at 4x D, exponent {gamma:.2f} "
                   f"(paper +0.571, i.e. 2.2x; pass: ratio >= 1.414){note}",
                   {"batch_ratio_d": ratio, "batch_exponent_d": gamma})


def batch_ignores_n(m: Metrics) -> Verdict:
    ratio, delta, note = _compare(m, BATCH, "wide", N)
    return Verdict(abs(math.log2(ratio)) < 1 and not note,
                   f"best batch wide/base = {ratio:.2f} at {N['wide'] / N['base']:.1f}x N, "
                   f"exponent {delta:.2f} (paper ~0; pass: within a factor 2){note}",
                   {"batch_ratio_n": ratio, "batch_exponent_n": delta})


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
