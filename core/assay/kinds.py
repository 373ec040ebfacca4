"""The component kinds: small base classes, each with one method to implement.

A component is a class with a unique ``name``, a pydantic ``Config`` (every knob typed,
described, bounded) and, where it comes from a paper, ``paper``. Instances hold their
validated config in ``self.config``.
"""
from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import torch
    from torch import nn

    from assay.spec import RunSpec

from assay.spec import SLOTS  # noqa: F401 - re-exported: the method slots


class Config(BaseModel):
    """Base for every component config: unknown fields are errors, instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Paper(BaseModel):
    """The paper a component implements: shown by ``assay plugins`` and tagged on runs."""

    model_config = ConfigDict(frozen=True)
    title: str
    arxiv: str = ""
    year: int | None = None

    def __str__(self) -> str:
        return f"{self.title} (arXiv:{self.arxiv}, {self.year})" if self.arxiv else self.title


class Component:
    """Common base: ``name``, ``Config``, optional ``paper``."""

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    Config: ClassVar[type[Config]] = Config
    paper: ClassVar[Paper | None] = None

    def __init__(self, config: Config | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"


# --- datasets -------------------------------------------------------------------------------

Task = Literal["classification", "regression", "lm"]


@dataclass
class Data:
    """Splits as tensors. ``x`` rows are examples; for ``lm`` x and y are (N, T) token ids."""

    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    task: Task
    n_outputs: int                      # classes, regression targets, or vocabulary size
    input_shape: tuple[int, ...]        # shape of one example of x
    test: tuple[torch.Tensor, torch.Tensor] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_train(self) -> int:
        return int(self.train[0].shape[0])


class Dataset(Component, abc.ABC):
    """A source of train/val (and optional test) tensors, deterministic in (config, seed)."""

    kind = "dataset"

    @abc.abstractmethod
    def load(self, seed: int) -> Data:
        """Return the splits; must be deterministic for a given config and seed."""


# --- models ---------------------------------------------------------------------------------

class Model(Component, abc.ABC):
    """Builds a torch module. Core models expose ``readout`` (the output Linear) and
    ``hidden_width`` so parameterizations (e.g. muP) can find the layers they rescale."""

    kind = "model"

    @abc.abstractmethod
    def build(self, data: Data) -> nn.Module:
        """A fresh, initialised module for inputs of ``data.input_shape``."""


# --- the run as a method sees it ---------------------------------------------------------------

class RunContext(Protocol):
    """What every method hook receives: one run, on the worker that trains it.

    Attributes a method may read or change:

    - ``run``: the resolved :class:`assay.spec.RunSpec` (``run.train.steps``, ``run.seed``...);
    - ``data``: the :class:`Data` (``data.train``, ``data.val`` tensors, ``data.task``);
    - ``model``, ``device``, ``methods`` (slot -> method instance);
    - ``optimizer`` (built after ``setup``) and ``param_groups`` (what it is built from);
    - ``train_idx``: the training subset chosen by a data-selection method (or None);
    - ``generator``: the run's seeded torch generator (batch order);
    - ``history``: ``(step, metrics)`` of every evaluation so far;
    - ``final_metrics``: end-of-run numbers a method adds (recorded with the run);
    - ``total_steps``, ``eval_every``, ``steps_taken``, ``last_train_loss``.

    A custom :class:`Trainer` takes its steps with :meth:`optimizer_step` (or
    :meth:`run_steps`) so that every other method's hooks run, and reports with
    :meth:`evaluate_and_report`.
    """

    run: RunSpec
    data: Data
    model: nn.Module
    device: torch.device
    methods: dict[str, Method]
    backend: Backend
    generator: torch.Generator
    train_idx: torch.Tensor | None
    optimizer: torch.optim.Optimizer | None
    param_groups: list[dict[str, Any]]
    history: list[tuple[int, dict[str, float]]]
    final_metrics: dict[str, float]
    last_train_loss: float
    steps_taken: int

    @property
    def total_steps(self) -> int: ...

    @property
    def eval_every(self) -> int: ...

    def batch(self, batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A random training batch from the run's generator (``train_idx`` when set)."""

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The training loss of a batch: the ``loss`` method's, else :meth:`default_loss`."""

    def default_loss(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy for classification and LM, mean squared error for regression."""

    def evaluate(self, split: str = "val") -> dict[str, float]:
        """``{split}/loss`` (and ``{split}/acc`` for classification) of the current model."""

    def evaluate_and_report(self, step: int, extra: Mapping[str, float] | None = None) -> None:
        """Evaluate, record and report step ``step``; raises when the pruner stops the run
        and when the validation loss is not finite."""

    def set_lr(self, step: int) -> None:
        """Set every group's learning rate from the schedule at ``step`` (from 0)."""

    def optimizer_step(self, loss: torch.Tensor, step: int | None = None) -> None:
        """zero_grad, backward, clip, every ``before_step``, the step, every ``after_step``."""

    def hooked_step(self, update: Callable[[], Any], step: int | None = None) -> None:
        """Every ``before_step``, ``update()``, every ``after_step``: a step that is not a
        backward pass (e.g. zeroth-order), with the other methods' hooks still around it."""

    def run_steps(self, n_steps: int, set_lr: Callable[[int], None] | None = None) -> None:
        """``n_steps`` steps of the standard loop, with ``set_lr(step)`` as the rate rule."""

    def build(self, kind: str, ref: Mapping[str, Any] | str) -> Component:
        """A component from a config reference, validated against this run's plugins."""


# --- methods (one per slot; an experiment fills several slots at once) -----------------------

class Method(Component):
    """A paper's contribution to training. Subclass one of the slot bases below.

    ``setup`` runs once before training, ``before_step`` between backward and the optimizer
    step (gradients in ``p.grad``), ``after_step`` after each optimizer step; all optional.
    The slot base names the one method each slot must implement.
    """

    kind = "method"
    slot: ClassVar[str] = ""

    def setup(self, ctx: RunContext) -> None:
        """Optional: inspect or change the run context before the first step."""

    def before_step(self, ctx: RunContext, step: int) -> None:
        """Optional: called after backward (and gradient clipping) and before optimizer step
        ``step`` (from 1): read or change the gradients (noise, projections, statistics)
        without wrapping the optimizer."""

    def after_step(self, ctx: RunContext, step: int) -> None:
        """Optional: called after every optimizer step (step counts from 1)."""

    def after_train(self, ctx: RunContext) -> None:
        """Optional: called once after the last step, before the final metrics are collected
        (end-of-run measurements go into ``ctx.final_metrics``)."""


class Optimizer(Method, abc.ABC):
    """The ``optimizer`` slot: builds the torch optimizer from the run's parameter groups."""

    slot = "optimizer"

    @abc.abstractmethod
    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        """Build the optimizer. Each group has ``params`` and may carry ``lr_mult`` /
        ``wd_mult`` (set by a parameterization); multiply your base lr / decay by them."""


class Schedule(Method, abc.ABC):
    """The ``schedule`` slot: the learning-rate multiplier at each step."""

    slot = "schedule"

    @abc.abstractmethod
    def factor(self, step: int, total_steps: int) -> float:
        """Learning-rate multiplier at ``step`` (0-based) of ``total_steps``."""


class Parameterization(Method, abc.ABC):
    """The ``parameterization`` slot: initialisation and per-group lr/wd multipliers
    (e.g. muP), applied to the fresh model before any adapter."""

    slot = "parameterization"

    @abc.abstractmethod
    def apply(self, model: nn.Module, data: Data) -> list[dict[str, Any]]:
        """Re-initialise / rescale ``model`` in place; return optimizer param groups
        (``params`` plus ``lr_mult``/``wd_mult``)."""


class Adapter(Method, abc.ABC):
    """The ``adapter`` slot: wraps or freezes parts of the model (e.g. LoRA); only what it
    leaves trainable is optimized."""

    slot = "adapter"

    @abc.abstractmethod
    def apply(self, model: nn.Module, data: Data) -> nn.Module:
        """Add adapters, freeze what should not train; return the model to train."""


class Pruning(Method, abc.ABC):
    """The ``pruning`` slot: updates and applies weight masks after every optimizer step."""

    slot = "pruning"

    @abc.abstractmethod
    def prune(self, ctx: RunContext, step: int) -> None:
        """Update and apply masks after optimizer step ``step`` (1-based)."""

    def after_step(self, ctx: RunContext, step: int) -> None:
        self.prune(ctx, step)


class DataSelection(Method, abc.ABC):
    """The ``data`` slot: chooses the training subset before the first step."""

    slot = "data"

    @abc.abstractmethod
    def select(self, ctx: RunContext) -> torch.Tensor:
        """Indices of the training examples to keep (may train probe models on the way)."""


class Loss(Method, abc.ABC):
    """The ``loss`` slot: replaces the task's default training loss."""

    slot = "loss"

    @abc.abstractmethod
    def compute(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                data: Data) -> torch.Tensor:
        """Scalar training loss for a batch (may avoid calling ``model(x)`` whole)."""


class Trainer(Method, abc.ABC):
    """The ``trainer`` slot: replaces the standard loop. Take each step with
    ``ctx.optimizer_step(loss)`` (or ``ctx.run_steps``) so every other method's hooks run."""

    slot = "trainer"

    @abc.abstractmethod
    def train(self, ctx: RunContext) -> None:
        """Replace the standard loop: take ``ctx.total_steps`` steps on ``ctx.model``,
        calling ``ctx.evaluate_and_report(step)`` every ``ctx.eval_every`` steps."""


SLOT_BASES: dict[str, type[Method]] = {
    b.slot: b for b in (Optimizer, Schedule, Parameterization, Adapter, Pruning, DataSelection,
                        Loss, Trainer)
}


# --- backends -------------------------------------------------------------------------------

class Backend(Component, abc.ABC):
    """Where a run executes: device, threads, precision, and the Dask resources it needs."""

    kind = "backend"

    @abc.abstractmethod
    def device(self) -> torch.device:
        """The device runs on this backend use (called on the worker)."""

    def resources(self) -> dict[str, float]:
        """Dask worker resources one run needs, e.g. ``{"GPU": 1}``."""
        return {}

    def concrete(self) -> dict[str, Any] | None:
        """The backend reference this one stands for on the machine that loads the experiment
        (``auto`` -> ``cpu``/``cuda``/``mps``), or None when it is concrete itself. A run is
        keyed by its concrete backend: the device is part of what changes its numbers."""
        return None

    def setup(self, seed: int) -> None:
        """Seed every generator and pin threads; called on the worker before data is built."""
        import random

        import numpy as np
        import torch

        random.seed(seed)
        np.random.seed(seed % 2**32)
        # the CPU generator directly: torch.manual_seed's wrapper costs ~5-15 ms per call
        torch.random.default_generator.manual_seed(seed)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()


def iter_kinds() -> Iterator[type[Component]]:
    yield from (Dataset, Model, Method, Backend)
