"""Calibration of ``assay law``: does its 95% interval cover a known exponent 95% of the time,
and how far do its holdout predictions land from the true optimum?

Many law studies run in this process on synthetic objectives whose optimum follows a known
law, lr*(width) = c * width^a, through the same design and fit code the real command uses
(``assay._drive.law.run_design`` with an in-process search: Optuna's sampler as the sweep
block names it, the bracket-and-widen rule, per-point bootstraps, the random-effects fit).
Only the training is replaced by a formula, so no MLflow and no torch are needed.

    loss(lr; width, seed) = 1 + K * shape(d) + noise,   d = log2(lr) - log2(lr*(width)) - shift

- ``shape``: ``symmetric`` d^2, or ``lopsided`` 2(e^d - d - 1) (the same curvature at the
  optimum, gentle below it, a cliff above it, as a learning rate that diverges), both capped
  at a chance-level plateau;
- ``noise``: Gaussian per trial (``trial_sd``), plus a shift of each (point, seed)'s optimum
  (``seed_sd`` octaves, as a training seed moves it): lack of fit the law cannot explain;
- the design is the demo's (examples/mup_transfer.yaml): widths 16-256, holdout 512, 12 TPE
  trials per point widened by 2 octaves up to 24, range 3e-4..6e-2; exponents 0, -0.5, -1
  and c drawn per study so that some optima lie beyond the range's edges.

    .venv/bin/python bench/law_calibration.py                 # 60 studies per cell (~15 min)
    .venv/bin/python bench/law_calibration.py --studies 10    # a quick look

Coverage counts studies whose law was fitted. Holdout error is the prediction's distance from
the true optimum at width 512 (the population law, without the holdout seed's own shift),
over studies where every point and the holdout bracketed their optimum.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from assay._drive.law import InProcessSearch, LawSpec, run_design
from assay._experiment.space import SweepSpec

LR = "methods.optimizer.lr"
WIDTH = "model.width"
K = 0.01                       # loss rise per octave^2 at the optimum
CAP = 1.0                      # chance plateau: at most 1 + CAP
EXPONENTS = (0.0, -0.5, -1.0)
NOISE = {"low": (0.002, 0.05), "medium": (0.005, 0.1), "high": (0.015, 0.2)}
SHAPES = {
    "symmetric": lambda d: d * d,
    "lopsided": lambda d: 2 * (math.exp(min(d, 30.0)) - d - 1),
}
DESIGN = {
    "law": {"scale": {WIDTH: [16, 32, 64, 128, 256]}, "tune": [LR], "trials": 12,
            "seeds": [0], "holdout": [{WIDTH: 512}], "window": 2.0,
            "widen": {"octaves": 2, "max_trials": 24}},
    "sweep": {"sampler": "tpe", "n_startup_trials": 4,
              "space": {LR: {"log_uniform": [3.0e-4, 6.0e-2]}}},
}


@dataclass
class Truth:
    """One synthetic study: its law and noise."""

    shape: str
    exponent: float
    log2_c: float              # log2 lr* at width 1
    trial_sd: float
    seed_sd: float
    seed: int

    def log2_opt(self, width: float) -> float:
        return self.log2_c + self.exponent * math.log2(width)


class Objective:
    def __init__(self, truth: Truth) -> None:
        self.truth = truth
        self.rng = np.random.default_rng([truth.seed, 1])
        self.shifts: dict[tuple[float, int], float] = {}

    def shift(self, width: float, seed: int) -> float:
        key = (width, seed)
        if key not in self.shifts:
            rng = np.random.default_rng([self.truth.seed, 2, int(width), seed])
            self.shifts[key] = float(rng.normal(0, self.truth.seed_sd))
        return self.shifts[key]

    def __call__(self, scale: Mapping[str, float], seed: int, params: Mapping[str, Any]) -> float:
        t, w = self.truth, scale[WIDTH]
        d = math.log2(params[LR]) - t.log2_opt(w) - self.shift(w, seed)
        return 1 + min(K * SHAPES[t.shape](d), CAP) + t.trial_sd * float(self.rng.normal())


def truths(shape: str, noise: str, n: int, base_seed: int = 0) -> list[Truth]:
    """``n`` studies of one cell: exponents in turn, lr*(64) drawn in [2^-10.5, 2^-5.5], so
    that with exponent -1 the optima at widths 16 and 256 may lie up to ~0.8 octaves beyond
    the range and the design must widen it."""
    trial_sd, seed_sd = NOISE[noise]
    out = []
    for i in range(n):
        rng = np.random.default_rng([base_seed, i, len(shape), len(noise)])
        a = EXPONENTS[i % len(EXPONENTS)]
        log2_at_64 = float(rng.uniform(-10.5, -5.5))
        out.append(Truth(shape, a, log2_at_64 - 6 * a, trial_sd, seed_sd,
                         seed=int(rng.integers(2 ** 31))))
    return out


def run_study(truth: Truth, design: Mapping[str, Any] = DESIGN) -> dict[str, Any]:
    """One study through the real design and fit; what it got right and wrong."""
    law = LawSpec.model_validate(design["law"])
    sweep = SweepSpec.model_validate({**design["sweep"], "seed": truth.seed % 10_000})
    search = InProcessSearch(Objective(truth), sweep)
    res = run_design(law, sweep, search, name=f"calib-{truth.seed}")
    points = res.points + res.holdout
    out: dict[str, Any] = {
        "truth": truth, "fitted": bool(res.fitted.fits), "trials": search.calls,
        "censored": sum(not p.optima[LR].bracketed for p in res.points),
        "coincident": sum(p.coincident for p in points),
        "all_bracketed": all(p.optima[LR].bracketed for p in points) and bool(res.holdout)}
    if not res.fitted.fits:
        return out
    fit = res.fitted.fits[LR]
    lo, hi = float(fit.ci_low[1]), float(fit.ci_high[1])
    h = res.holdout[0]
    hold = law.holdout[0][WIDTH]
    pred = res.predictions[0]["predicted"][LR]
    true_log2 = truth.log2_opt(hold)
    out.update({
        "exponent": float(fit.coef[1]), "low": lo, "high": hi,
        "covers": lo <= truth.exponent <= hi, "width": hi - lo,
        "holdout_error": math.log2(pred["value"]) - true_log2,
        "holdout_interval_covers": (math.log2(pred["interval"][0]) <= true_log2
                                    <= math.log2(pred["interval"][1])),
        "measured_error": math.log2(h.optima[LR].value) - true_log2,
        "vs_measured": math.log2(pred["value"] / h.optima[LR].value)})
    return out


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    fitted = [r for r in rows if r["fitted"]]
    good = [r for r in fitted if r["all_bracketed"]]
    signed = np.array([r["holdout_error"] for r in good]) if good else np.array([math.nan])
    err = np.abs(signed)
    vs_measured = np.abs([r["vs_measured"] for r in good]) if good else np.array([math.nan])
    return {
        "studies": len(rows), "fitted": len(fitted),
        "coverage": np.mean([r["covers"] for r in fitted]) if fitted else math.nan,
        "width": float(np.median([r["width"] for r in fitted])) if fitted else math.nan,
        "bias": float(np.mean([r["exponent"] - r["truth"].exponent for r in fitted]))
        if fitted else math.nan,
        "bracketed": len(good),
        "censored_points": sum(r["censored"] for r in rows),
        "coincident": sum(r["coincident"] for r in rows),
        "err_median": float(np.median(err)), "err_p90": float(np.percentile(err, 90)),
        "within_025": float(np.mean(err <= 0.25)), "err_mean": float(np.mean(signed)),
        "vs_measured": float(np.median(vs_measured)),
        "pred_cover": np.mean([r["holdout_interval_covers"] for r in good]) if good else math.nan,
        "trials": float(np.mean([r["trials"] for r in rows])),
    }


HEADER = ("| landscape | noise (trial sd, seed sd oct) | studies (fitted) | exponent coverage "
          "| median interval width | exponent bias | all bracketed | censored points "
          "| coincident | holdout error vs truth: median / p90 (mean) | within 0.25 oct "
          "| holdout interval covers | vs measured holdout: median | trials per study |\n"
          + "|---" * 14 + "|")


def row(shape: str, noise: str, s: dict[str, Any]) -> str:
    ts, ss = NOISE[noise]
    return (f"| {shape} | {noise} ({ts}, {ss}) | {s['studies']} ({s['fitted']}) "
            f"| {s['coverage']:.1%} | {s['width']:.2f} | {s['bias']:+.3f} | {s['bracketed']} "
            f"| {s['censored_points']} | {s['coincident']} "
            f"| {s['err_median']:.2f} / {s['err_p90']:.2f} ({s['err_mean']:+.2f}) "
            f"| {s['within_025']:.0%} | {s['pred_cover']:.0%} | {s['vs_measured']:.2f} "
            f"| {s['trials']:.0f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--studies", type=int, default=60, help="studies per cell")
    ap.add_argument("--shapes", nargs="*", default=list(SHAPES))
    ap.add_argument("--noise", nargs="*", default=list(NOISE))
    ap.add_argument("--seed", type=int, default=0, help="base seed of the cells' studies")
    args = ap.parse_args(argv)
    started, cpu = time.perf_counter(), time.process_time()
    print(HEADER, flush=True)
    pooled: list[dict[str, Any]] = []
    for shape in args.shapes:
        for noise in args.noise:
            rows = [run_study(t) for t in truths(shape, noise, args.studies, args.seed)]
            pooled += rows
            print(row(shape, noise, summarise(rows)), flush=True)
    s = summarise(pooled)
    print(f"\npooled: coverage {s['coverage']:.1%} over {s['fitted']} fitted studies; holdout "
          f"error median {s['err_median']:.2f}, p90 {s['err_p90']:.2f} octaves over "
          f"{s['bracketed']} fully bracketed ones; {time.perf_counter() - started:.0f} s wall, "
          f"{time.process_time() - cpu:.0f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
