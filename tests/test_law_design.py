"""The law design in process (no MLflow): independent sampler seeds, searching on until an
optimum is bracketed, censoring, refusing a fit on too few points."""
from __future__ import annotations

import math

import pytest
from assay._drive.law import (
    Design,
    InProcessSearch,
    LawSpec,
    SearchRound,
    derive_seed,
    run_design,
)
from assay._experiment.space import SweepSpec

LR = "lr"
SWEEP = {"sampler": "tpe", "n_startup_trials": 4, "seed": 3,
         "space": {LR: {"log_uniform": [1e-4, 1e-1]}}}


def law(**kw) -> LawSpec:
    base = {"scale": {"width": [16, 64, 256, 1024]}, "tune": [LR], "trials": 10, "n_boot": 50,
            "holdout": [{"width": 4096}], "widen": {"octaves": 2, "max_trials": 20}}
    return LawSpec.model_validate({**base, **kw})


def bowl(optimum):
    """loss = 1 + 0.05 * log2(lr / optimum(width))^2, no noise."""
    return lambda scale, seed, p: 1 + 0.05 * math.log2(p[LR] / optimum(scale["width"])) ** 2


def power(w: float) -> float:
    return 0.3 * w ** -0.5


class Recorder:
    def __init__(self, search):
        self.search, self.rounds = search, []

    def __call__(self, r: SearchRound):
        self.rounds.append(r)
        return self.search(r)


def test_every_search_has_its_own_seed_derived_from_the_study_seed():
    sweep = SweepSpec.model_validate(SWEEP)
    rec = Recorder(InProcessSearch(bowl(power), sweep))
    res = run_design(law(seeds=[0, 1]), sweep, rec)
    seeds = [r.sampler_seed for r in rec.rounds]
    assert len(seeds) == len(set(seeds)) >= 9            # 4 widths x 2 seeds + the holdout
    assert seeds[0] == derive_seed(3, "law", "fit", {"width": 16.0}, 0, 0)
    assert all(p.shared[LR] == 0 and not p.coincident for p in res.points + res.holdout)
    fit = res.fitted.fits[LR]
    assert fit.ci_low[1] < -0.5 < fit.ci_high[1]


def test_an_optimum_beyond_the_range_widens_it_until_bracketed():
    sweep = SweepSpec.model_validate(SWEEP)
    design = Design(law(), sweep, InProcessSearch(bowl(lambda w: 0.25), sweep), name="t")
    p = design.search_point("fit", {"width": 16}, 0)
    assert p.rounds >= 2 and p.ranges[LR][1] >= 0.4               # 0.1 * 2^2 (or more)
    assert p.optima[LR].bracketed and p.optima[LR].value == pytest.approx(0.25, rel=0.1)


def test_a_point_still_unbracketed_at_its_budget_is_censored_and_left_out():
    sweep = SweepSpec.model_validate(SWEEP)
    far = bowl(lambda w: 50.0 if w == 16 else power(w))   # 9 octaves above the range
    res = run_design(law(), sweep, InProcessSearch(far, sweep))
    p = res.points[0]
    assert p.optima[LR].censored == "high" and len(p.trials) == 20
    assert res.fitted.left_out[LR] == [p.label] and res.fitted.fits[LR].n_points == 3


def test_a_fit_on_fewer_than_three_bracketed_points_is_refused():
    sweep = SweepSpec.model_validate(SWEEP)
    far = bowl(lambda w: 50.0 if w <= 64 else power(w))
    res = run_design(law(), sweep, InProcessSearch(far, sweep))
    assert not res.fitted.fits and not res.predictions and not res.holdout
    assert "2 scale point(s) bracket their optimum and a law needs 3" in res.fitted.refused
