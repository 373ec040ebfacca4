"""Claims: a paper's headline result as a falsifiable check at small scale (public).

A claim is data plus a pure function. Its ``arms`` are experiment files (package data of the
plugin, same format as any experiment); each arm is run once per seed (a sweep when the file
has a ``sweep:`` block). The numbers of one seed reach ``check`` as flat ``Metrics``:

- a run arm gives ``"<arm>/<metric>"`` (e.g. ``"lion/val/loss"``, ``"lion/cost/wall_s"``);
- a sweep arm gives ``"<arm>/best/<metric>"`` and ``"<arm>/best/<dotted.param>"`` of its best
  trial, and ``"<arm>/trials/<n>/<name>"`` for every parameter and every final metric of every
  finished trial ``n`` (read them with :func:`trials`).

``check`` returns a :class:`Verdict` holding the claim's **effects** for that seed: each one
number with the side the paper is on (:func:`at_least`, :func:`at_most`, :func:`between`).
The verdict over seeds is statistical (:func:`decide`): for every effect, a Student-t
interval of its mean over seeds (95% by default, sized to the number of seeds):

- PASS when the interval lies on the paper's side of the threshold, for every effect;
- FAIL when, for some effect, it lies entirely on the other side;
- INCONCLUSIVE when it straddles (the summary says which way the mean leans, and how far).

One seed gives no interval, so a single-seed (smoke) run is never a PASS. At a true null
effect the rule passes about 2.5% of the time (one-sided), whatever the number of seeds.

An effect read off a grid (a ratio of tuned learning rates, a count) moves in steps, and seeds
that land on the same grid point have zero spread: a zero-width interval, a PASS from three
lucky seeds (at a null effect halfway between two grid points, 1 time in 8). Such an effect
declares its ``resolution`` (the grid's step, in the effect's units: express a ratio on a
log grid as its log), and its per-seed spread is never taken below that of rounding to the
grid (``resolution / sqrt(12)``).

A check may instead return a **guard**, a verdict of its own with its reason, which takes
precedence over the statistic: ``INVALID`` (an arm's baseline diverged or sits at chance),
``NOT-ESTABLISHED`` (a tuned optimum at the edge of its grid: a bound, not a measurement) or
``VACUOUS`` (the premise never happened, e.g. no outliers were detected at all).

A claim may declare that seeds are added while the verdict is inconclusive
(``max_seeds``, ``seed_step``); the rule is part of the claim, fixed before any number is seen.
Every added look at the data is another chance to cross a threshold by luck (at a null effect,
3 seeds growing to 9 by 2 pass about 6.7% of the time at a plain 95%), so
:meth:`Claim.decide` splits the error rate over the looks the rule allows (Bonferroni: each
of ``k`` looks uses ``1 - 0.05 / k``), which keeps the null PASS rate at or below 2.5%.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from assay.lib.optimum import grid_at_edge, grid_optimum

Metrics = Mapping[str, float]
GuardKind = Literal["INVALID", "NOT-ESTABLISHED", "VACUOUS"]
GUARDS: tuple[GuardKind, ...] = ("INVALID", "NOT-ESTABLISHED", "VACUOUS")   # by precedence
STATUSES = ("PASS", "FAIL", "INCONCLUSIVE", *GUARDS)

__all__ = [
    "STATUSES",
    "Claim",
    "Decision",
    "Effect",
    "EffectSummary",
    "Guard",
    "Metrics",
    "Verdict",
    "above",
    "at_least",
    "at_most",
    "baseline_guard",
    "below",
    "best",
    "between",
    "decide",
    "diverged",
    "edge_guard",
    "grid_at_edge",
    "grid_optimum",
    "invalid",
    "not_established",
    "sweep_guard",
    "sweep_trials",
    "t_interval",
    "trial_constant",
    "trials",
    "vacuous",
]


# --- what a check returns ---------------------------------------------------------------------

@dataclass(frozen=True)
class Effect:
    """One number a claim is decided on, for one seed, with the paper's side: the paper holds
    when ``value >= low`` (if set) and ``value <= high`` (if set); with ``strict``, ``>`` and
    ``<`` (so that a tie, e.g. two identical arms, is not the paper's side)."""

    name: str
    value: float
    low: float | None = None
    high: float | None = None
    resolution: float = 0.0        # the step of a quantised effect (its grid's spacing)
    strict: bool = False           # the bound itself is not the paper's side

    def __post_init__(self) -> None:
        if not self.resolution >= 0:
            raise ValueError(f"effect {self.name!r}: resolution must be >= 0")
        if self.low is None and self.high is None:
            raise ValueError(f"effect {self.name!r}: give low, high or both")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"effect {self.name!r}: low {self.low} > high {self.high}")

    @property
    def side(self) -> str:
        """The paper's side in words, e.g. ``">= 0.95"`` or ``"in [3, 10]"``."""
        if self.low is not None and self.high is not None:
            return (f"in ({self.low:g}, {self.high:g})" if self.strict
                    else f"in [{self.low:g}, {self.high:g}]")
        ge, le = (">", "<") if self.strict else (">=", "<=")
        return f"{ge} {self.low:g}" if self.low is not None else f"{le} {self.high:g}"


def at_least(name: str, value: float, low: float, *, resolution: float = 0.0) -> Effect:
    """The paper says ``value >= low``."""
    return Effect(name, float(value), low=low, resolution=resolution)


def at_most(name: str, value: float, high: float, *, resolution: float = 0.0) -> Effect:
    """The paper says ``value <= high``."""
    return Effect(name, float(value), high=high, resolution=resolution)


def above(name: str, value: float, low: float, *, resolution: float = 0.0) -> Effect:
    """The paper says ``value > low`` (a tie is not enough: e.g. "more accurate than")."""
    return Effect(name, float(value), low=low, resolution=resolution, strict=True)


def below(name: str, value: float, high: float, *, resolution: float = 0.0) -> Effect:
    """The paper says ``value < high``."""
    return Effect(name, float(value), high=high, resolution=resolution, strict=True)


def between(name: str, value: float, low: float, high: float, *,
            resolution: float = 0.0) -> Effect:
    """The paper says ``low <= value <= high``."""
    return Effect(name, float(value), low=low, high=high, resolution=resolution)


@dataclass(frozen=True)
class Guard:
    kind: GuardKind
    reason: str


def invalid(reason: str) -> Guard:
    """An arm cannot be compared: its baseline diverged or never left chance."""
    return Guard("INVALID", reason)


def not_established(reason: str) -> Guard:
    """A tuned optimum sits at the edge of its grid: the comparison rests on a bound."""
    return Guard("NOT-ESTABLISHED", reason)


def vacuous(reason: str) -> Guard:
    """The claim's premise did not occur, so its check says nothing."""
    return Guard("VACUOUS", reason)


@dataclass(frozen=True)
class Verdict:
    """What ``check`` returns for one seed: a sentence with the measured numbers, the
    effects the claim is decided on, and optionally a guard that overrides them."""

    detail: str
    effects: tuple[Effect, ...] = ()
    guard: Guard | None = None
    numbers: Mapping[str, float] = field(default_factory=dict)   # other numbers worth keeping

    def __post_init__(self) -> None:
        object.__setattr__(self, "effects", tuple(self.effects))
        if not self.effects and self.guard is None:
            raise ValueError("a Verdict needs at least one effect (or a guard)")


# --- the verdict over seeds -------------------------------------------------------------------

def t_interval(values: Sequence[float], confidence: float = 0.95, *,
               resolution: float = 0.0) -> tuple[float, float]:
    """Two-sided Student-t interval of the mean; (-inf, inf) for fewer than two values. The
    spread is at least that of rounding to a grid of step ``resolution``."""
    n = len(values)
    if n < 2:
        return -math.inf, math.inf
    from scipy import stats

    mean = statistics.fmean(values)
    sd = max(statistics.stdev(values), resolution / math.sqrt(12))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


@dataclass(frozen=True)
class EffectSummary:
    name: str
    side: str
    values: tuple[float, ...]
    mean: float
    interval: tuple[float, float]
    status: str                    # PASS | FAIL | INCONCLUSIVE
    lean: str                      # for INCONCLUSIVE: which way the mean leans, how far

    def line(self) -> str:
        lo, hi = self.interval
        seeds = ", ".join(f"{v:.4g}" for v in self.values)
        text = (f"{self.name} = {self.mean:.4g} [{lo:.4g}, {hi:.4g}] (paper: {self.side}; "
                f"seeds {seeds})")
        return f"{text}; {self.lean}" if self.lean else text


def _summarise(name: str, effects: Sequence[Effect], confidence: float) -> EffectSummary:
    first = effects[0]
    values = tuple(e.value for e in effects)
    mean = statistics.fmean(values)
    lo, hi = t_interval(values, confidence, resolution=first.resolution)
    low, high = first.low, first.high
    if first.strict:
        inside = (low is None or lo > low) and (high is None or hi < high)
        outside = (low is not None and hi <= low) or (high is not None and lo >= high)
    else:
        inside = (low is None or lo >= low) and (high is None or hi <= high)
        outside = (low is not None and hi < low) or (high is not None and lo > high)
    status = "PASS" if inside else "FAIL" if outside else "INCONCLUSIVE"
    lean = ""
    if status == "INCONCLUSIVE":
        holds = (low is None or mean >= low) and (high is None or mean <= high)
        edge = low if low is not None and (high is None or mean < low or
                                             abs(mean - low) <= abs(mean - high)) else high
        lean = (f"the mean leans {'toward' if holds else 'against'} the paper, "
                f"{abs(mean - edge):.3g} from its threshold {edge:g}")
    return EffectSummary(name, first.side, values, mean, (lo, hi), status, lean)


@dataclass(frozen=True)
class Decision:
    status: str                                   # one of STATUSES
    reason: str                                   # the guard's reason, or the effects in words
    effects: tuple[EffectSummary, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "PASS"


def decide(per_seed: Sequence[Verdict], confidence: float = 0.95) -> Decision:
    """The claim's verdict from its per-seed verdicts (see the module docstring)."""
    if not per_seed:
        raise ValueError("no seeds to decide on")
    for kind in GUARDS:
        hits = [(s, v.guard) for s, v in enumerate(per_seed) if v.guard and v.guard.kind == kind]
        if hits:
            reasons = "; ".join(f"seed {s}: {g.reason}" for s, g in hits)  # type: ignore[union-attr]
            return Decision(kind, reasons, _measured(per_seed, confidence))
    names = [e.name for e in per_seed[0].effects]
    for s, v in enumerate(per_seed):
        if [e.name for e in v.effects] != names:
            raise ValueError(f"seed {s} reports effects {[e.name for e in v.effects]}, "
                             f"seed 0 {names}: a check must report the same effects every seed")
        bad = [e.name for e in v.effects if not math.isfinite(e.value)]
        if bad:
            return Decision("INVALID", f"seed {s}: effect {', '.join(bad)} is not finite")
    summaries = tuple(_summarise(n, [v.effects[i] for v in per_seed], confidence)
                      for i, n in enumerate(names))
    statuses = {e.status for e in summaries}
    status = "FAIL" if "FAIL" in statuses else "PASS" if statuses == {"PASS"} else "INCONCLUSIVE"
    return Decision(status, "; ".join(e.line() for e in summaries), summaries)


def _measured(per_seed: Sequence[Verdict], confidence: float) -> tuple[EffectSummary, ...]:
    """The effects behind a guard, for the record (not a verdict): only when every seed
    reports the same, finite effects."""
    names = [e.name for e in per_seed[0].effects]
    if not names or any([e.name for e in v.effects] != names or
                        not all(math.isfinite(e.value) for e in v.effects) for v in per_seed):
        return ()
    return tuple(_summarise(n, [v.effects[i] for v in per_seed], confidence)
                 for i, n in enumerate(names))


# --- the claim --------------------------------------------------------------------------------

@dataclass
class Claim:
    id: str                                       # "<slug>:<short-kebab>"
    statement: str                                # the paper's result, in our words
    source: str                                   # "arXiv:2302.06675, Sec. 4.1, Fig. 3"
    arms: Mapping[str, str]                       # arm -> experiment file in ``package``
    check: Callable[[Metrics], Verdict]
    package: str                                  # the plugin package holding the files
    seeds: int = 3
    max_seeds: int | None = None                  # add seeds while INCONCLUSIVE, up to this
    seed_step: int = 2                            # ... this many at a time
    confidence: float = 0.95
    budget_s: float = 900                         # full budget on 2 CPU cores
    smoke: Mapping[str, Any] = field(default_factory=lambda: {
        "train.steps": 20, "train.eval_every": 10, "sweep.trials": 2})
    plugin: str = ""                              # filled in by the registry
    arm_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per-arm dotted overrides applied after the arm's file and the budget's: for
    negative controls (``assay.testing.negative_control``), not for claims' own designs."""

    def __post_init__(self) -> None:
        slug, _, short = self.id.partition(":")
        if not slug or not short or self.id != self.id.lower():
            raise ValueError(f"claim id {self.id!r} must look like '<slug>:<short-kebab>'")
        if self.seeds < 1 or (self.max_seeds is not None and self.max_seeds < self.seeds):
            raise ValueError(f"claim {self.id}: need 1 <= seeds <= max_seeds")
        if self.seed_step < 1 or not 0.5 < self.confidence < 1:
            raise ValueError(f"claim {self.id}: seed_step >= 1 and confidence in (0.5, 1)")

    def arm_path(self, arm: str) -> Path:
        return Path(str(resources.files(self.package).joinpath(self.arms[arm])))

    @property
    def looks(self) -> int:
        """How many times the seed rule may decide: 1, plus one per added batch of seeds."""
        if self.max_seeds is None:
            return 1
        return 1 + math.ceil((self.max_seeds - self.seeds) / self.seed_step)

    @property
    def look_confidence(self) -> float:
        """The confidence of each look: ``confidence`` with its error rate split over the
        looks (Bonferroni), so that adding seeds cannot raise the chance of a lucky verdict."""
        return 1 - (1 - self.confidence) / self.looks

    def decide(self, per_seed: Sequence[Verdict]) -> Decision:
        return decide(per_seed, self.look_confidence)

    def more_seeds(self, decision: Decision, n: int) -> int:
        """How many seeds to add after ``n`` gave ``decision`` (0: stop)."""
        if decision.status != "INCONCLUSIVE" or self.max_seeds is None:
            return 0
        return max(0, min(self.seed_step, self.max_seeds - n))


# --- helpers for checks -----------------------------------------------------------------------

def trials(m: Metrics, arm: str) -> list[dict[str, float]]:
    """Every finished trial of sweep arm ``arm``: its parameters (dotted paths) and its final
    metrics, from the ``"<arm>/trials/<n>/<name>"`` numbers, in trial order."""
    by_trial: dict[int, dict[str, float]] = {}
    prefix = f"{arm}/trials/"
    for key, value in m.items():
        if key.startswith(prefix):
            n, _, name = key[len(prefix):].partition("/")
            by_trial.setdefault(int(n), {})[name] = value
    return [by_trial[n] for n in sorted(by_trial)]


def sweep_trials(m: Metrics, arm: str, *params: str, metric: str) -> list[tuple[float, ...]]:
    """``(param values..., metric)`` of every trial of ``arm`` that has them, metric finite."""
    return [tuple(t[p] for p in (*params, metric)) for t in trials(m, arm)
            if all(p in t for p in (*params, metric)) and math.isfinite(t[metric])]


def best(m: Metrics, arm: str, name: str) -> float:
    """A number of the best trial of sweep arm ``arm`` (a parameter or a metric)."""
    return m[f"{arm}/best/{name}"]


def diverged(value: float, *, chance: float | None = None, margin: float = 0.0,
             higher_is_better: bool = True) -> bool:
    """True when ``value`` is not finite or no better than ``chance`` (plus ``margin``):
    e.g. ``diverged(acc, chance=0.1, margin=0.02)`` for 10 classes."""
    if not math.isfinite(value):
        return True
    if chance is None:
        return False
    return value <= chance + margin if higher_is_better else value >= chance - margin


def baseline_guard(m: Metrics, arms: Sequence[str], *, metric: str = "val/acc",
                   chance: float, margin: float = 0.0, higher_is_better: bool = True,
                   prefix: str = "") -> Guard | None:
    """INVALID when an arm's ``metric`` is missing, not finite or no better than ``chance``
    (plus ``margin``): a baseline that never trained cannot be compared with. ``prefix``
    picks a sweep arm's best trial (``"best/"``)."""
    values = {a: m.get(f"{a}/{prefix}{metric}", math.nan) for a in arms}
    bad = [a for a, v in values.items()
           if diverged(v, chance=chance, margin=margin, higher_is_better=higher_is_better)]
    if not bad:
        return None
    shown = ", ".join(f"{a} {metric} {values[a]:.4g}" for a in bad)
    return invalid(f"at chance ({chance:g}) or diverged: {shown}")


def edge_guard(m: Metrics, arms: Sequence[str], param: str, *,
               metric: str = "val/loss", higher_is_better: bool = False) -> Guard | None:
    """NOT-ESTABLISHED when a sweep arm's best ``param`` is the smallest or largest value it
    tried (by ``metric``, lowest best unless ``higher_is_better``): the tuned optimum is a
    bound, not a measurement."""
    sign = -1.0 if higher_is_better else 1.0
    edged = [a for a in arms if grid_at_edge(
        [(*ps, sign * v) for *ps, v in sweep_trials(m, a, param, metric=metric)])]
    if edged:
        return not_established(f"best {param} at the grid's edge for {', '.join(edged)}")
    return None


def sweep_guard(m: Metrics, arms: Sequence[str], param: str, *, metric: str = "val/acc",
                higher_is_better: bool = True, baselines: Sequence[str] = (),
                chance: float | None = None, margin: float = 0.0) -> Guard | None:
    """The guards of a claim that compares tuned sweep arms (``param``, e.g. the learning
    rate, swept in each): INVALID when an arm has no trial with a finite ``metric``, or when
    a baseline's best trial is no better than ``chance`` (``diverged``); otherwise
    NOT-ESTABLISHED when an arm's best ``param`` is at its grid's edge (``edge_guard``).
    Arms are checked in order, and the first INVALID reason is the one reported."""
    for arm in arms:
        values = [t[-1] for t in sweep_trials(m, arm, param, metric=metric)]
        if not values:
            return invalid(f"{arm}: no trial finished with a finite {metric}")
        top = max(values) if higher_is_better else min(values)
        if arm in baselines and diverged(top, chance=chance, margin=margin,
                                         higher_is_better=higher_is_better):
            return invalid(f"{arm} (the baseline) never left chance: best {metric} {top:.3f}")
    return edge_guard(m, arms, param, metric=metric, higher_is_better=higher_is_better)


def trial_constant(m: Metrics, arm: str, key: str) -> float:
    """A number every trial of sweep arm ``arm`` shares, such as a parameter count
    (``cost/trainable_params``): the first trial's, NaN when no trial reports it."""
    values = [t[key] for t in trials(m, arm) if key in t]
    return values[0] if values else math.nan
