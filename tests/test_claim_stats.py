"""The claim statistic (assay.claims.decide and the seed rule): error rates measured by
simulation, guards on constructed cases, and the rule that adds seeds."""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable

import numpy as np
import pytest
from assay._drive.verify import decide_over_seeds
from assay.claims import (
    Claim,
    Verdict,
    at_least,
    at_most,
    between,
    decide,
    invalid,
    not_established,
    vacuous,
)

THRESHOLD = 1.0


def _seeds(values, make=lambda v: at_least("gain", v, THRESHOLD)) -> list[Verdict]:
    return [Verdict(f"gain {v}", [make(v)]) for v in values]


def _rates(n_seeds: int, mean: float, n_claims: int = 2000, seed: int = 0) -> dict[str, float]:
    """Share of each status over simulated claims whose per-seed effect is N(mean, 1)."""
    rng = np.random.default_rng(seed)
    counts: dict[str, int] = {}
    for row in rng.normal(mean, 1.0, size=(n_claims, n_seeds)):
        status = decide(_seeds(row)).status
        counts[status] = counts.get(status, 0) + 1
    return {s: counts.get(s, 0) / n_claims for s in ("PASS", "FAIL", "INCONCLUSIVE")}


@pytest.mark.parametrize("n_seeds", [3, 5])
def test_a_null_effect_rarely_passes(n_seeds):
    """At an effect exactly on the threshold the one-sided error of a 95% t-interval is 2.5%:
    over 2000 simulated claims, PASS stays near that and far below INCONCLUSIVE or FAIL."""
    rates = _rates(n_seeds, THRESHOLD)
    assert 0.01 <= rates["PASS"] <= 0.05, rates
    assert rates["INCONCLUSIVE"] + rates["FAIL"] >= 0.95, rates
    assert rates["INCONCLUSIVE"] > 10 * rates["PASS"], rates


def test_the_old_all_seeds_rule_passed_a_null_effect_far_more_often():
    """The rule this statistic replaced (every seed and the mean pass) passes 1 in 8 at a null
    effect with 3 seeds; the interval rule's rate is a fraction of that."""
    rng = np.random.default_rng(1)
    rows = rng.normal(THRESHOLD, 1.0, size=(2000, 3))
    old = np.mean([(r >= THRESHOLD).all() for r in rows])
    new = np.mean([decide(_seeds(r)).status == "PASS" for r in rows])
    assert old > 0.09 and new < old / 3, (old, new)


def test_a_clear_effect_passes_and_a_clear_opposite_fails():
    assert _rates(5, THRESHOLD + 3.0, n_claims=300)["PASS"] > 0.9
    assert _rates(5, THRESHOLD - 3.0, n_claims=300)["FAIL"] > 0.9
    assert decide(_seeds([1.9, 2.0, 2.1])).status == "PASS"
    assert decide(_seeds([0.1, 0.0, -0.1])).status == "FAIL"


def test_at_most_is_mirrored():
    make = lambda v: at_most("loss_ratio", v, 1.05)
    assert decide(_seeds([0.95, 0.96, 0.97], make)).status == "PASS"
    assert decide(_seeds([1.2, 1.21, 1.19], make)).status == "FAIL"


@pytest.mark.parametrize("values,status", [
    ([5.0, 5.1, 4.9], "PASS"),            # inside [3, 10]
    ([1.0, 1.1, 0.9], "FAIL"),            # below
    ([14.0, 14.2, 13.8], "FAIL"),         # above
    ([9.0, 11.0, 10.5], "INCONCLUSIVE"),  # straddles the upper end
    ([2.0, 4.0, 3.0], "INCONCLUSIVE"),    # straddles the lower end
])
def test_between_decides_on_both_sides(values, status):
    d = decide(_seeds(values, lambda v: between("lr_ratio", v, 3.0, 10.0)))
    assert d.status == status, d.reason


def test_inconclusive_says_which_way_the_mean_leans():
    toward = decide(_seeds([1.1, 1.5, 0.9])).effects[0]
    against = decide(_seeds([0.9, 0.5, 1.1])).effects[0]
    assert toward.status == against.status == "INCONCLUSIVE"
    assert "toward" in toward.lean and "against" in against.lean
    assert f"{abs(statistics.fmean([0.9, 0.5, 1.1]) - THRESHOLD):.3g}" in against.lean


def test_one_seed_is_never_a_verdict():
    d = decide(_seeds([100.0]))
    assert d.status == "INCONCLUSIVE" and d.effects[0].interval == (-math.inf, math.inf)


@pytest.mark.parametrize("guard", [invalid("baseline at chance"),
                                   not_established("best lr at the grid's edge"),
                                   vacuous("no outliers detected")])
def test_each_guard_fires_and_overrides_a_clear_effect(guard):
    """A clear PASS on two seeds, the guard on one: the guard is the verdict, with its
    reason and the seed it came from; the measured effects stay in the record."""
    seeds = _seeds([3.0, 3.1]) + [Verdict("x", [at_least("gain", 2.9, THRESHOLD)], guard=guard)]
    d = decide(seeds)
    assert d.status == guard.kind
    assert f"seed 2: {guard.reason}" in d.reason
    assert d.effects and d.effects[0].values == (3.0, 3.1, 2.9)


def test_guards_take_precedence_in_order():
    seeds = [Verdict("a", guard=vacuous("v")), Verdict("b", guard=not_established("n")),
             Verdict("c", guard=invalid("i"))]
    assert decide(seeds).status == "INVALID"
    assert decide(seeds[:2]).status == "NOT-ESTABLISHED"
    assert decide(seeds[:1]).status == "VACUOUS"
    assert decide(seeds[:1]).effects == ()           # no effects: nothing to summarise


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_effect_is_invalid(bad):
    d = decide(_seeds([2.0, bad, 2.1]))
    assert d.status == "INVALID" and "seed 1" in d.reason and "gain" in d.reason


def test_mismatched_effect_names_across_seeds_raise():
    seeds = _seeds([2.0, 2.1]) + [Verdict("x", [at_least("other", 2.0, THRESHOLD)])]
    with pytest.raises(ValueError, match="same effects every seed"):
        decide(seeds)


def test_a_verdict_needs_an_effect_or_a_guard():
    with pytest.raises(ValueError):
        Verdict("nothing")


# --- the seed rule ------------------------------------------------------------------------

def _claim(values, **kw) -> tuple[Claim, list[int], Callable[[int], Verdict]]:
    """A claim whose seed ``s`` measures ``values[s]``; ``asked`` records the seeds run."""
    asked: list[int] = []
    claim = Claim(id="t:seeds", statement="s", source="src", arms={}, package="assay",
                  check=lambda m: Verdict("x", [at_least("gain", m["gain"], THRESHOLD)]), **kw)

    def verdict_of(seed: int) -> Verdict:
        asked.append(seed)
        return claim.check({"gain": values[seed]})

    return claim, asked, verdict_of


def test_adaptive_seeds_stop_at_max_seeds():
    straddling = [0.0, 2.0] * 10                  # stays INCONCLUSIVE however many seeds
    claim, asked, verdict_of = _claim(straddling, seeds=3, max_seeds=8, seed_step=2)
    d = decide_over_seeds(claim, 3, verdict_of, adaptive=True)
    assert d.status == "INCONCLUSIVE"
    assert asked == list(range(8))                # 3, then 5, 7, and the last one up to 8


def test_adaptive_seeds_stop_once_decided():
    claim, asked, verdict_of = _claim([0.5, 2.5, 2.6, 2.4, 2.5, 2.6, 2.5, 2.4, 2.5],
                                      seeds=3, max_seeds=9, seed_step=2)
    d = decide_over_seeds(claim, 3, verdict_of, adaptive=True)
    assert d.status == "PASS" and len(asked) in (5, 7)


def test_no_seeds_added_without_a_rule_or_when_not_adaptive():
    claim, asked, verdict_of = _claim([0.0, 2.0, 1.0, 5.0, 5.0], seeds=3)
    assert decide_over_seeds(claim, 3, verdict_of, adaptive=True).status == "INCONCLUSIVE"
    assert asked == [0, 1, 2]
    claim, asked, verdict_of = _claim([0.0, 2.0, 1.0, 5.0, 5.0], seeds=3, max_seeds=5)
    decide_over_seeds(claim, 3, verdict_of, adaptive=False)
    assert asked == [0, 1, 2]


def test_adding_seeds_does_not_raise_the_null_pass_rate():
    """Each look at the data is a chance to pass by luck: the claim splits its error rate over
    the looks its rule allows, so 3 seeds growing to 9 still pass a null effect <= ~2.5%."""
    rng = np.random.default_rng(2)
    passed = 0
    for _ in range(1000):
        values = list(rng.normal(THRESHOLD, 1.0, size=9))
        claim, _, verdict_of = _claim(values, seeds=3, max_seeds=9, seed_step=2)
        passed += decide_over_seeds(claim, 3, verdict_of, adaptive=True).status == "PASS"
    assert claim.looks == 4 and claim.look_confidence == pytest.approx(0.9875)
    assert passed / 1000 <= 0.04, passed


def _grid_null_pass_rate(n_seeds: int, resolution: float, n_claims: int = 1000) -> float:
    """A null effect read off a grid of step 1: the true value sits halfway between grid
    points 0 and 1, on the threshold 0.5, so each seed lands on either point."""
    rng = np.random.default_rng(3)
    rows = np.round(rng.normal(0.5, 0.3, size=(n_claims, n_seeds)))
    make = lambda v: at_least("grid_effect", v, 0.5, resolution=resolution)
    return float(np.mean([decide(_seeds(r, make)).status == "PASS" for r in rows]))


def test_a_quantised_effect_declares_its_resolution():
    """Seeds that agree on a grid point have zero spread: without a resolution three lucky
    seeds PASS a null effect 1 time in 8; with it, the spread is floored at the grid's
    rounding and the rate is back near the nominal 2.5%."""
    assert 0.09 < _grid_null_pass_rate(3, 0.0) < 0.16
    assert _grid_null_pass_rate(3, 1.0) == 0.0            # three seeds cannot beat the grid
    assert _grid_null_pass_rate(5, 1.0) <= 0.05
    assert decide(_seeds([3.0] * 5, lambda v: at_least("g", v, 1.0, resolution=1.0))
                  ).status == "PASS"                      # a clear effect still passes
    with pytest.raises(ValueError):
        at_least("g", 1.0, 0.0, resolution=-1.0)


def test_strict_effects_do_not_pass_on_a_tie():
    from assay.claims import Verdict, above, at_least, decide

    tie = [Verdict("tie", [above("gain", 0.0, 0.0)])] * 3
    assert decide(tie).status == "FAIL"                     # "more accurate" needs more
    assert decide([Verdict("tie", [at_least("gain", 0.0, 0.0)])] * 3).status == "PASS"
    better = [Verdict("s", [above("gain", v, 0.0)]) for v in (0.5, 0.6, 0.55)]
    assert decide(better).status == "PASS"
    assert above("gain", 1, 0).side == "> 0"


def test_baseline_and_edge_guards():
    import math

    from assay.claims import baseline_guard, edge_guard

    m = {"base/val/acc": 0.12, "other/val/acc": 0.9}
    g = baseline_guard(m, ["base", "other"], chance=0.1, margin=0.05)
    assert g.kind == "INVALID" and "base" in g.reason and "other" not in g.reason
    assert baseline_guard({"base/val/acc": math.nan}, ["base"], chance=0.1).kind == "INVALID"
    assert baseline_guard({}, ["base"], chance=0.1).kind == "INVALID"         # never evaluated
    assert baseline_guard(m, ["other"], chance=0.1, margin=0.05) is None
    grid = {f"a/trials/{i}/lr": lr for i, lr in enumerate((1e-3, 1e-2, 1e-1))}
    interior = {**grid, **{f"a/trials/{i}/val/loss": v for i, v in enumerate((2, 1, 3))}}
    edge = {**grid, **{f"a/trials/{i}/val/loss": v for i, v in enumerate((3, 2, 1))}}
    assert edge_guard(interior, ["a"], "lr") is None
    assert edge_guard(edge, ["a"], "lr").kind == "NOT-ESTABLISHED"


def _sweep(arm, lrs, accs, **extra):
    """Metrics of a sweep arm in the ``<arm>/trials/<n>/<key>`` layout."""
    m = {}
    for i, (lr, acc) in enumerate(zip(lrs, accs)):
        m |= {f"{arm}/trials/{i}/lr": lr, f"{arm}/trials/{i}/val/acc": acc,
              **{f"{arm}/trials/{i}/{k}": v for k, v in extra.items()}}
    return m


def test_edge_guard_reads_the_metric_in_its_direction():
    from assay.claims import edge_guard

    peak_inside = _sweep("a", (1e-3, 1e-2, 1e-1), (0.5, 0.9, 0.4))    # accuracy: higher wins
    assert edge_guard(peak_inside, ["a"], "lr", metric="val/acc", higher_is_better=True) is None
    # read as a loss, the same numbers put the optimum at the top edge (0.4 is "lowest")
    assert edge_guard(peak_inside, ["a"], "lr", metric="val/acc").kind == "NOT-ESTABLISHED"


def test_sweep_guard_checks_trials_then_baselines_then_edges():
    from assay.claims import sweep_guard

    lrs = (1e-3, 1e-2, 1e-1)
    good, chance, edged = (0.5, 0.9, 0.4), (0.19, 0.21, 0.2), (0.5, 0.6, 0.9)
    kw = {"metric": "val/acc", "chance": 0.2, "margin": 0.02}
    ok = _sweep("new", lrs, good) | _sweep("base", lrs, good)
    assert sweep_guard(ok, ["new", "base"], "lr", baselines=["base"], **kw) is None
    at_chance = _sweep("new", lrs, good) | _sweep("base", lrs, chance)
    g = sweep_guard(at_chance, ["new", "base"], "lr", baselines=["base"], **kw)
    assert g.kind == "INVALID" and "base" in g.reason and "0.210" in g.reason
    # an arm at chance that is not a baseline is a result, not a broken comparison
    assert sweep_guard(at_chance, ["base", "new"], "lr", baselines=["new"], **kw) is None
    nan = _sweep("new", lrs, (float("nan"),) * 3) | _sweep("base", lrs, good)
    g = sweep_guard(nan, ["new", "base"], "lr", baselines=["base"], **kw)
    assert g.kind == "INVALID" and g.reason.startswith("new: no trial")
    edge = _sweep("new", lrs, edged) | _sweep("base", lrs, good)
    g = sweep_guard(edge, ["new", "base"], "lr", baselines=["base"], **kw)
    assert g.kind == "NOT-ESTABLISHED" and "new" in g.reason and "base" not in g.reason


def test_trial_constant_reads_a_number_every_trial_shares():
    import math

    from assay.claims import trial_constant

    m = _sweep("a", (1e-3, 1e-2), (0.5, 0.6), **{"cost/trainable_params": 1234.0})
    assert trial_constant(m, "a", "cost/trainable_params") == 1234.0
    assert math.isnan(trial_constant(m, "a", "adapter/params"))
    assert math.isnan(trial_constant(m, "b", "cost/trainable_params"))
