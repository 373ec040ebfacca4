"""The law design: a search per point and law seed with its own sampler seed, bracketing
and widening, censoring, coincident-probe flags, the fit and the predictions. It only sees
a search function, so the calibration bench and the tests run it in process."""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from assay._drive.law.spec import (
    LawSpec,
    _points,
    check_law,
    min_points,
)
from assay._drive.lawfit import LawFit, fit_law, point_estimate
from assay._experiment.space import Dist, SweepSpec, make_sampler
from assay.errors import UserError
from assay.lib.optimum import Optimum, estimate_optimum

LN2 = math.log(2)
SHARED_FLAG = 2          # a point sharing this many probe values with another is flagged


def derive_seed(*parts: Any) -> int:
    """A sampler or bootstrap seed from the study's seed and what the stream is for: stable
    across runs and machines (a hash, not Python's salted ``hash``)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % (2 ** 31 - 1)


@dataclass(frozen=True)
class SearchRound:
    """One round of one point's search: finish ``trials`` trials in total in study ``study``
    over ``space``, with sampler seed ``sampler_seed``."""

    kind: str                        # fit | holdout
    scale: dict[str, float]
    seed: int                        # the law seed (the runs' training seed)
    round: int
    space: dict[str, Dist]
    trials: int
    sampler_seed: int
    study: str


Rows = list[tuple[dict[str, Any], float]]
Search = Callable[[SearchRound], Rows]     # every COMPLETE trial of the study so far


@dataclass
class PointResult:
    scale: dict[str, float]
    optima: dict[str, Optimum]
    best_loss: float
    trials: Rows = field(default_factory=list)
    kind: str = "fit"
    seed: int = 0
    rounds: int = 1
    sampler_seeds: list[int] = field(default_factory=list)
    ranges: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    shared: dict[str, int | None] = field(default_factory=dict)   # None: a grid, shared by design

    @property
    def label(self) -> str:
        return _label(self.scale) + (f" seed {self.seed}" if self.seed else "")

    @property
    def censored(self) -> dict[str, str]:
        return {hp: o.censored for hp, o in self.optima.items() if o.censored}

    @property
    def coincident(self) -> bool:
        return any(n is not None and n >= SHARED_FLAG for n in self.shared.values())


def _label(point: Mapping[str, float]) -> str:
    return ",".join(f"{k.split('.')[-1]}={v:g}" for k, v in point.items())


def _is_log(d: Dist) -> bool:
    if d.kind == "choice":
        vals = [v for v in d.choice or [] if isinstance(v, (int, float))]
        return bool(vals) and min(vals) > 0 and max(vals) / min(vals) > 8
    return d.kind.startswith("log")


def _bounds(d: Dist) -> tuple[float, float] | None:
    return None if d.kind == "choice" else tuple(getattr(d, d.kind))  # type: ignore[return-value]


# --- the design ---------------------------------------------------------------------------------

@dataclass
class Fitted:
    fits: dict[str, LawFit]
    refused: str = ""                 # why no law was fitted ("" when fitted)
    left_out: dict[str, list[str]] = field(default_factory=dict)   # hp -> censored points


class Design:
    """What to search and what the searches mean: the part of a law study that the real
    command, the calibration bench and the tests share."""

    def __init__(self, law: LawSpec, sweep: SweepSpec, search: Search, *, name: str,
                 say: Callable[[str], None] = lambda msg: None) -> None:
        check_law(law, sweep)
        self.law, self.sweep, self.search, self.name, self.say = law, sweep, search, name, say
        self.study_seed = sweep.seed

    def half_width(self, hp: str) -> float:
        d = self.sweep.space[hp]
        if _is_log(d):
            return self.law.window * LN2
        lo, hi = _bounds(d) or (0.0, 1.0)
        return self.law.window / 8 * (hi - lo)

    def search_point(self, kind: str, scale: dict[str, float], seed: int,
                     space: dict[str, Dist] | None = None) -> PointResult:
        """Search one point until every tuned optimum is bracketed or the budget is spent."""
        space = dict(space or self.sweep.space)
        target, cap = self.law.first_trials(self.sweep), self.law.max_trials(self.sweep)
        study = f"{self.name}.{kind}.{_label(scale)}.seed{seed}"
        seeds: list[int] = []
        for rnd in itertools.count():
            seeds.append(derive_seed(self.study_seed, self.name, kind, scale, seed, rnd))
            rows = self.search(SearchRound(kind, scale, seed, rnd, space, target, seeds[-1], study))
            if not rows:
                raise UserError(f"no trial finished at {kind} point {_label(scale)} (seed {seed})")
            optima = self._optima(rows, kind, scale, seed)
            todo = [hp for hp, o in optima.items() if o.censored and space[hp].kind != "choice"]
            if not todo or target >= cap:
                break
            space = {k: _widen(d, optima[k], self.half_width(k), self.law.widen.octaves)
                     if k in todo else d for k, d in space.items()}
            target = min(target + self.law.step_trials(self.sweep), cap)
            self.say(f"    not bracketed ({', '.join(f'{_short(k)} {optima[k].censored}' for k in todo)}"
                     f"): searching on to {target} trials" + "".join(
                         f", {_short(k)} in {_fmt_range(space[k])}" for k in todo))
        return PointResult(scale, optima, min(r[1] for r in rows), rows, kind, seed, rnd + 1,
                           seeds, {k: _bounds(space[k]) for k in self.law.tune})

    def _optima(self, rows: Rows, kind: str, scale: dict[str, float], seed: int
                ) -> dict[str, Optimum]:
        out = {}
        for hp in self.law.tune:
            xy = [(r[0][hp], r[1]) for r in rows if hp in r[0]]
            out[hp] = estimate_optimum(
                [p[0] for p in xy], [p[1] for p in xy], log=_is_log(self.sweep.space[hp]),
                half_width=self.half_width(hp), n_boot=self.law.n_boot,
                seed=derive_seed(self.study_seed, self.name, "bootstrap", kind, scale, seed, hp))
        return out

    def fit(self, points: list[PointResult]) -> Fitted:
        """The law per tuned hyperparameter from the bracketed points, or the reason not."""
        axes = list(self.law.scale)
        fits, left_out = {}, {}
        need = min_points(self.law.scale)
        for hp in self.law.tune:
            by_scale: dict[tuple[float, ...], list[Optimum]] = {}
            for p in points:
                if p.optima[hp].bracketed:
                    by_scale.setdefault(tuple(p.scale[a] for a in axes), []).append(p.optima[hp])
            left_out[hp] = [p.label for p in points if not p.optima[hp].bracketed]
            declared = {a for a in axes if len(set(self.law.scale[a])) > 1}
            fitted = {a for i, a in enumerate(axes) if len({s[i] for s in by_scale}) > 1}
            if len(by_scale) < need or fitted != declared:
                return Fitted({}, _refusal(hp, len(by_scale), need, left_out[hp]), left_out)
            fits[hp] = fit_law(axes, [list(s) for s in by_scale],
                               [point_estimate(v) for v in by_scale.values()])
        return Fitted(fits, "", left_out)


def _refusal(hp: str, n: int, need: int, censored: list[str]) -> str:
    return (f"no law for {hp}: {n} scale point(s) bracket their optimum and a law needs "
            f"{need}; censored: {', '.join(censored) or 'none'}. Widen sweep.space.{hp} "
            "or raise law.widen.max_trials")


def mark_coincident(points: list[PointResult], tune: list[str], space: Mapping[str, Dist]) -> None:
    """Count, per point, its probe values that another point (fit or holdout) also probed.
    Independent samplers on a continuous range never repeat a value; shared values mean
    shared sampler streams (and shared bias). A grid shares its values by design (None)."""
    for hp in tune:
        probes = [{f"{r[0][hp]:.12g}" for r in p.trials if hp in r[0]} for p in points]
        for i, p in enumerate(points):
            if space[hp].kind == "choice":
                p.shared[hp] = None
                continue
            others = set().union(*(v for j, v in enumerate(probes) if j != i))
            p.shared[hp] = len(probes[i] & others)


def _widen(d: Dist, o: Optimum, half_width: float, octaves: float) -> Dist:
    """``d`` with the censored side's bound moved out when the optimum's window reaches it;
    unchanged otherwise (the point then just gets more trials)."""
    if o.censored not in ("low", "high") or d.kind == "choice":
        return d
    lo, hi = getattr(d, d.kind)
    logs = _is_log(d)
    u = math.log(o.value) if logs else o.value
    if o.censored == "low" and (math.log(lo) if logs else lo) > u - half_width:
        lo = lo / 2 ** octaves if logs else lo - (hi - lo) / 2
    elif o.censored == "high" and (math.log(hi) if logs else hi) < u + half_width:
        hi = hi * 2 ** octaves if logs else hi + (hi - lo) / 2
    if d.kind in ("int", "log_int"):
        lo, hi = max(1 if logs else lo, math.floor(lo)), math.ceil(hi)
    return Dist(**{d.kind: (lo, hi)})


def _fmt_range(d: Dist) -> str:
    b = _bounds(d)
    return "grid" if b is None else f"[{b[0]:.3g}, {b[1]:.3g}]"


def _short(path: str) -> str:
    return path.split(".")[-1]


# --- an in-process search (bench, tests) ------------------------------------------------------

Objective = Callable[[Mapping[str, float], int, Mapping[str, Any]], float]


class InProcessSearch:
    """Searches on a Python objective ``objective(scale, seed, params) -> loss`` in this
    process: an in-memory Optuna study per point, with the sampler the sweep block names,
    built and (for a continued study) reseeded as the sweep driver does.
    Like the driver with two workers, up to ``depth`` trials are asked before the oldest is
    told (two running and one queued behind each), so a sampler sees what it would see
    there. A non-finite loss is a failed trial."""

    def __init__(self, objective: Objective, sweep: SweepSpec, depth: int = 4) -> None:
        self.objective, self.sweep, self.depth = objective, sweep, depth
        self.studies: dict[str, Any] = {}
        self.calls = 0

    def __call__(self, r: SearchRound) -> Rows:
        import optuna
        from optuna.trial import TrialState

        from assay._drive.sweep.resume import reseed

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sweep = self.sweep.model_copy(update={"space": r.space, "seed": r.sampler_seed,
                                              "trials": r.trials})
        study = self.studies.get(r.study)
        if study is None:
            study = self.studies[r.study] = optuna.create_study(direction="minimize")
        study.sampler = make_sampler(sweep, 1)
        reseed(study, sweep, 1)                       # a continued study, as the driver does
        done = sum(t.state != TrialState.RUNNING for t in study.trials)
        pending: list[Any] = []
        while done < r.trials or pending:
            while done + len(pending) < r.trials and len(pending) < self.depth:
                t = study.ask()
                pending.append((t, {k: d.suggest(t, k) for k, d in r.space.items()}))
            trial, params = pending.pop(0)
            loss = float(self.objective(r.scale, r.seed, params))
            self.calls += 1
            if math.isfinite(loss):
                study.tell(trial, loss)
            else:
                study.tell(trial, state=TrialState.FAIL)
            done += 1
        return [(dict(t.params), float(t.values[0])) for t in study.trials
                if t.state == TrialState.COMPLETE]


@dataclass
class DesignResult:
    """An in-process study's outcome (what ``LawStudy`` adds: MLflow, the run at the
    prediction)."""

    points: list[PointResult]
    fitted: Fitted
    predictions: list[dict[str, Any]]
    holdout: list[PointResult]


def run_design(law: LawSpec, sweep: SweepSpec, search: Search, name: str = "law") -> DesignResult:
    """A whole law study through ``search`` (no MLflow): fit points, law, predictions, then
    the holdouts searched independently."""
    design = Design(law, sweep, search, name=name)
    points = [design.search_point("fit", s, seed) for s in _points(law) for seed in law.seeds]
    fitted = design.fit(points)
    predictions = predict(law, fitted)
    holdout = [design.search_point("holdout", h, seed) for h in law.holdout
               for seed in law.seeds[:1]] if fitted.fits else []
    mark_coincident(points + holdout, law.tune, sweep.space)
    return DesignResult(points, fitted, predictions, holdout)


def predict(law: LawSpec, fitted: Fitted) -> list[dict[str, Any]]:
    out = []
    if not fitted.fits:
        return out
    for h in law.holdout:
        s = [h[a] for a in law.scale]
        out.append({"scale": h, "predicted": {
            hp: {"value": f.predict(s), "interval": f.predict_interval(s)}
            for hp, f in fitted.fits.items()}, "written_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    return out


# --- the study on the sweep machinery ----------------------------------------------------------
