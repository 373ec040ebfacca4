"""A small calibration guard: ``bench/law_calibration.py``'s synthetic studies (known
exponents, the demo's design, the real design and fit code in process), a few of them.

The coverage bound was set from the bench's measured coverage (see bench/README.md) before
this test was first run: with ``STUDIES`` studies at the bench's pooled coverage, at least
``MIN_COVERED`` cover the truth with probability above 99%. Fewer means the intervals have
become overconfident. The studies use a base seed the bench does not, so they are a fresh
sample, and fixed, so the test is deterministic.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from assay._drive.law import SearchRound

ROOT = Path(__file__).resolve().parents[1]
BENCH_COVERAGE = 353 / 360     # pooled coverage the bench measured (bench/README.md)
STUDIES = 12                   # 2 landscapes x 2 noise levels x 3 studies
MIN_COVERED = 10               # P(fewer | BENCH_COVERAGE) = 0.14%; P(fewer than 11) = 2.2%
SEED = 1000                    # not one of the bench's base seeds


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("law_calibration",
                                                  ROOT / "bench" / "law_calibration.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["law_calibration"] = module            # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("law_calibration", None)


def test_intervals_cover_known_exponents(bench):
    truths = [t for shape in ("symmetric", "lopsided") for noise in ("low", "medium")
              for t in bench.truths(shape, noise, STUDIES // 4, SEED)]
    rows = [bench.run_study(t) for t in truths]
    fitted = [r for r in rows if r["fitted"]]
    assert len(fitted) == STUDIES
    covered = sum(r["covers"] for r in fitted)
    misses = [(r["truth"].exponent, round(r["low"], 3), round(r["high"], 3))
              for r in fitted if not r["covers"]]
    assert covered >= MIN_COVERED, misses


def test_a_censored_design_is_flagged_and_left_out(bench):
    # lr*(16) = 2^-3.5, above the range (6e-2 = 2^-4.06), and no budget to widen toward it
    from assay._drive.law import InProcessSearch, LawSpec, run_design
    from assay._experiment.space import SweepSpec

    truth = bench.Truth("symmetric", -1.0, 0.5, 0.002, 0.0, seed=7)
    law = LawSpec.model_validate({**bench.DESIGN["law"],
                                  "widen": {"octaves": 2, "max_trials": 12}})
    sweep = SweepSpec.model_validate(bench.DESIGN["sweep"])
    res = run_design(law, sweep, InProcessSearch(bench.Objective(truth), sweep))
    censored = [p.label for p in res.points if p.censored]
    assert res.points[0].censored == {bench.LR: "high"}
    assert res.fitted.left_out[bench.LR] == censored
    assert res.fitted.fits[bench.LR].n_points == 5 - len(censored)
    # the same truth with the bench's widening rule: every point bracketed after widening
    row = bench.run_study(truth)
    assert row["censored"] == 0 and row["all_bracketed"]


def test_a_coincident_design_is_flagged(bench):
    from assay._drive.law import InProcessSearch, LawSpec, run_design
    from assay._experiment.space import SweepSpec

    truth = bench.truths("symmetric", "low", 1, SEED)[0]
    law = LawSpec.model_validate(bench.DESIGN["law"])
    sweep = SweepSpec.model_validate(bench.DESIGN["sweep"])
    search = InProcessSearch(bench.Objective(truth), sweep)

    def one_seed(r: SearchRound):            # every point on one sampler stream, as before
        return search(SearchRound(r.kind, r.scale, r.seed, r.round, r.space, r.trials, 0,
                                  r.study))

    res = run_design(law, sweep, one_seed)
    assert all(p.coincident for p in res.points + res.holdout)
    assert all(p.shared[bench.LR] >= 4 for p in res.points)      # the 4 start-up draws
    res = run_design(law, sweep, InProcessSearch(bench.Objective(truth), sweep))
    assert not any(p.coincident for p in res.points + res.holdout)
