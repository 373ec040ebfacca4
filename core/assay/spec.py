"""The experiment and run data model (public): ``ExperimentSpec`` is one experiment file,
``RunSpec`` one fully resolved run. A method sees its run as ``ctx.run`` (a ``RunSpec``);
observer hooks receive it too. Reading files and resolving component references against the
installed plugins is private (``assay._experiment.resolve``).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assay.errors import did_you_mean

SLOTS = ("data", "parameterization", "adapter", "optimizer", "schedule", "pruning", "loss",
         "trainer")
"""The method slots of an experiment, in the order their hooks run."""


MAX_STEPS = 10_000_000
"""Upper bounds that no real run reaches; beyond them a value is a typo (``1e29``)."""
MAX_BATCH = 1 << 20
MAX_SEED = 2**32 - 1          # numpy's seeds stop here


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TrainSpec(_Spec):
    steps: int = Field(500, ge=1, le=MAX_STEPS, description="Optimizer steps")
    batch_size: int = Field(64, ge=1, le=MAX_BATCH, description="Examples per step")
    eval_every: int = Field(50, ge=1, le=MAX_STEPS,
                            description="Evaluate (and report to the pruner) every k steps")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of initialisation and batch order")
    grad_clip: float | None = Field(None, gt=0, description="Clip the global grad norm (None: off)")


class Objective(_Spec):
    metric: str | list[str] = Field("val/loss", description="Metric(s) a sweep optimises")
    direction: Literal["minimize", "maximize"] | list[Literal["minimize", "maximize"]] = Field(
        "minimize", description="One direction per metric")

    @property
    def metrics(self) -> list[str]:
        return [self.metric] if isinstance(self.metric, str) else list(self.metric)

    @property
    def directions(self) -> list[str]:
        d = [self.direction] if isinstance(self.direction, str) else list(self.direction)
        return d * len(self.metrics) if len(d) == 1 else d


Ref = dict[str, Any]  # {name: ..., **config}; validated in stage two


class ExperimentSpec(_Spec):
    """One experiment file. ``sweep``/``law`` blocks are validated by their own modules."""

    name: str = Field("experiment", description="Experiment name (MLflow experiment)")
    dataset: Ref = Field(default_factory=lambda: {"name": "digits"})
    model: Ref = Field(default_factory=lambda: {"name": "mlp"})
    methods: dict[str, Ref] = Field(default_factory=lambda: {"optimizer": {"name": "adamw"}},
                                    description="slot -> method")
    backend: Ref = Field(default_factory=lambda: {"name": "auto"})
    train: TrainSpec = Field(default_factory=TrainSpec)
    objective: Objective = Field(default_factory=Objective)
    pretrain: dict[str, Any] | None = Field(None, description="An experiment (same format) "
                                            "whose trained model initialises this one")
    sweep: dict[str, Any] | None = None
    law: dict[str, Any] | None = None
    plugins: list[str] = Field(default_factory=list, description="Extra plugin files/modules")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        problem = name_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("methods")
    @classmethod
    def _slots(cls, v: dict[str, Ref]) -> dict[str, Ref]:
        for slot in v:
            if slot not in SLOTS:
                raise ValueError(f"unknown slot {slot!r}.{did_you_mean(slot, SLOTS)} "
                                 f"Slots: {', '.join(SLOTS)}")
        return v


NAME_PUNCTUATION = " ._-+=,@()"
MAX_NAME = 100


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name an experiment or study, or None. Names become file names
    (``<store>/optuna/<name>.journal``, ``<store>/laws/<name>/``) and MLflow search terms, so
    they keep to letters, digits and a little punctuation: no path separators, no leading dot
    (``../../x`` would write outside the store), no quotes."""
    if not name:
        return "a name cannot be empty"
    if len(name) > MAX_NAME:
        return f"a name is at most {MAX_NAME} characters (got {len(name)})"
    bad = "".join(sorted({c for c in name if not (c.isalnum() or c in NAME_PUNCTUATION)}))
    if bad:
        return (f"{name!r} contains {bad!r}; a name (used as a file name) keeps to letters, "
                f"digits, spaces and {NAME_PUNCTUATION.strip()}")
    if not name[0].isalnum():
        return f"{name!r} must start with a letter or digit"
    if name[-1] in " .":
        return f"{name!r} must not end with a space or a dot"
    return None


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


class RunSpec(_Spec):
    """One fully resolved run: every component with its complete config. Hashable; its
    ``key`` identifies the run across sweeps, laws and claims."""

    experiment: str
    dataset: dict[str, Any]
    model: dict[str, Any]
    methods: dict[str, dict[str, Any]]
    backend: dict[str, Any]
    train: TrainSpec
    versions: dict[str, str]          # component -> "plugin==version"
    plugins: tuple[str, ...] = ()     # extra plugin sources the worker must load
    pretrain: RunSpec | None = None   # a run whose trained weights initialise this one

    @property
    def init_from(self) -> str | None:
        """Run key of the weights this run starts from (saved by the driver beforehand)."""
        return self.pretrain.key if self.pretrain is not None else None

    @property
    def key(self) -> str:
        body = self.model_dump(mode="json", exclude={"experiment", "plugins"})
        if body.get("pretrain"):
            body["pretrain"] = self.pretrain.key  # type: ignore[union-attr]
        else:
            body.pop("pretrain", None)        # keys of runs without pretraining stay stable
        return hashlib.sha256(canonical(body).encode()).hexdigest()[:16]

    @property
    def seed(self) -> int:
        return self.train.seed

    def flat_params(self) -> dict[str, str]:
        """Dotted-path params for MLflow (values as strings)."""
        out: dict[str, str] = {}
        body = self.model_dump(mode="json", exclude={"experiment", "versions", "plugins"})
        _flatten(body, "", out)
        return out

    def paper_ids(self, reg: Any) -> list[str]:
        ids = []
        for kind, ref in self.components():
            paper = reg.get(kind, ref["name"]).paper
            if paper and paper.arxiv:
                ids.append(paper.arxiv)
        return sorted(set(ids))

    def components(self) -> Iterable[tuple[str, dict[str, Any]]]:
        yield "dataset", self.dataset
        yield "model", self.model
        yield from (("method", m) for m in self.methods.values())
        yield "backend", self.backend


def _flatten(obj: Any, prefix: str, out: dict[str, str]) -> None:
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            _flatten(v, f"{prefix}{k}.", out)
    else:
        out[prefix[:-1]] = json.dumps(obj) if isinstance(obj, (list, dict)) else str(obj)
