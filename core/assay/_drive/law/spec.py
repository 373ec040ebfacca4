"""The ``law:`` block of an experiment file: scale points, holdouts, tuned parameters and
the widening rule, validated (fewer than 3 fitted points is refused before any run)."""
from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay._experiment.space import SweepSpec
from assay.errors import UserError


class Widen(BaseModel):
    """How an unbracketed point keeps searching."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    octaves: float = Field(2.0, gt=0, le=10, description="octaves a censored side's range bound "
                           "moves per round (a linear range: half its width)")
    trials: int | None = Field(None, ge=1, description="trials added per round (default: half "
                               "the first round's, at least 4)")
    max_trials: int | None = Field(None, ge=1, description="trial budget per point, first round "
                                   "included (default: twice the first round)")


class LawSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    scale: dict[str, list[float]] = Field(..., description="dotted path -> scale values")
    tune: list[str] = Field(..., min_length=1, description="hyperparameters whose optimum is fitted")
    trials: int | None = Field(None, ge=5, description="trials per point in the first round "
                               "(default sweep.trials)")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1,
                             description="law seeds: each point is searched once per seed, with "
                                         "that training seed")
    holdout: list[dict[str, float]] = Field(default_factory=list, description="points to predict")
    window: float = Field(2.0, gt=0, le=10, description="half-width of the fitting window around "
                          "a point's optimum: octaves (a linear range: window/8 of its width)")
    widen: Widen = Field(default_factory=Widen, description="search rule for unbracketed points")
    warm_start: bool = Field(False, description="centre later points' search on the law so far")
    n_boot: int = Field(200, ge=20, description="bootstrap resamples per point")

    @model_validator(mode="after")
    def _check(self) -> LawSpec:
        if not self.scale or any(len(v) < 1 for v in self.scale.values()):
            raise ValueError("scale needs at least one axis with values")
        for h in self.holdout:
            if set(h) != set(self.scale):
                raise ValueError(f"holdout point {h} must give every scale axis {list(self.scale)}")
        for axis, values in self.scale.items():
            if len(set(values)) != len(values):
                raise ValueError(f"scale.{axis}: values must be distinct, got {values}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {self.seeds}")
        n, need = len(_points(self)), min_points(self.scale)
        if n < need:
            given = ", ".join(f"{k} {v}" for k, v in self.scale.items())
            raise ValueError(
                f"a law needs at least {need} scale points, this one has {n} ({given}): one "
                "point cannot give an exponent, and a fit with no spare point cannot be "
                "checked; add values to law.scale")
        return self

    def first_trials(self, sweep: SweepSpec) -> int:
        return self.trials or sweep.trials

    def max_trials(self, sweep: SweepSpec) -> int:
        return self.widen.max_trials or 2 * self.first_trials(sweep)

    def step_trials(self, sweep: SweepSpec) -> int:
        return self.widen.trials or max(4, self.first_trials(sweep) // 2)


def min_points(scale: Mapping[str, list[float]]) -> int:
    """Points a law over ``scale`` needs: 3, and always one more than its parameters."""
    varying = sum(len(set(v)) > 1 for v in scale.values())
    return max(3, varying + 2)


def parse_law(raw: dict[str, Any] | None) -> LawSpec:
    from assay._experiment.resolve import validate

    if raw is None:
        raise UserError("this experiment has no law: block")
    spec: LawSpec = validate(LawSpec, raw, "law")
    return spec


def check_law(law: LawSpec, sweep: SweepSpec) -> None:
    """What the law block and the sweep block must agree on, checked before any run."""
    for p in law.tune:
        if p not in sweep.space:
            raise UserError(f"law.tune: {p!r} needs a range in sweep.space")
        d = sweep.space[p]
        if d.kind == "choice" and not all(isinstance(c, (int, float)) and not isinstance(c, bool)
                                          and c > 0 for c in d.choice or []):
            raise UserError(f"sweep.space.{p}: a tuned hyperparameter needs positive numbers "
                            f"(a law is fitted to log(optimum)), got {d.choice}")
    first = law.first_trials(sweep)
    if first < 5:
        raise UserError(f"law.trials: {first} trials per point cannot bracket an optimum "
                        f"(need {2 * 2 + 1}: two each side of it and one near it); set "
                        "law.trials to at least 5")
    if law.max_trials(sweep) < first:
        raise UserError(f"law.widen.max_trials: {law.max_trials(sweep)} is below the first "
                        f"round's {first} trials")


# --- seeds, searches and what a point's search gives ----------------------------------------


def _points(spec: LawSpec) -> list[dict[str, float]]:
    axes = list(spec.scale)
    return [dict(zip(axes, combo)) for combo in itertools.product(*spec.scale.values())]
