"""Optimizer building blocks for plugins: torch parameter groups from a parameterization's
multipliers (``scaled_groups``), and the optimizer-slot wrapper (``WrappedOptimizer``,
``InnerConfig``) that changes gradients and hands them to any other optimizer.

The inner optimizer of an optimizer-slot wrapper (a method that changes gradients and
then hands them to any other optimizer, e.g. grad-noise, tract): ``inner: {name, **config}``,
resolved through the plugin registry like any ``methods.optimizer`` entry.

The reference is validated (and completed with the inner optimizer's defaults) when the
experiment loads, against the installed plugins; an optimizer that only a ``--plugin`` file
provides is checked when the run starts, against the run's own registry.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from assay.errors import UserError
from assay.kinds import Config, Optimizer
from assay.lib.configs import INNER_PATH, InnerConfig, complete_inner, optimizer_class

if TYPE_CHECKING:
    from assay._plugins.registry import Registry
    from assay.kinds import RunContext

__all__ = ["InnerConfig", "WrappedOptimizer", "scaled_groups"]


def scaled_groups(groups: list[dict[str, Any]], lr: float, weight_decay: float
                  ) -> list[dict[str, Any]]:
    """Torch param groups from parameterization groups: each group's ``lr_mult`` and
    ``wd_mult`` (default 1) scale the optimizer's ``lr`` and ``weight_decay``."""
    return [{"params": g["params"], "lr": lr * g.get("lr_mult", 1.0),
             "weight_decay": weight_decay * g.get("wd_mult", 1.0)} for g in groups]

PATH = INNER_PATH


def complete(ref: Any) -> dict[str, Any]:
    """Validate ``ref`` against the installed plugins and fill in its defaults (load time);
    ``assay.lib.configs.complete_inner``."""
    return complete_inner(ref)


def instantiate(reg: Registry, ref: Mapping[str, Any]) -> Optimizer:
    """The inner optimizer method, built from its full ``{name, **config}``."""
    from assay._experiment.resolve import resolve_component

    full = resolve_component(reg, "method", ref, PATH)
    cls = optimizer_class(reg, full["name"])
    return cls(cls.Config.model_validate({k: v for k, v in full.items() if k != "name"}))


class WrappedOptimizer(Optimizer):
    """Base of an optimizer-slot method that wraps another optimizer (``config.inner``).

    The inner optimizer is built in ``setup`` from this run's plugins, gets every hook the
    wrapper gets, and builds the torch optimizer; a subclass changes what reaches it by
    overriding :meth:`wrap` (e.g. a step pre-hook that edits gradients) or ``before_step``.
    """

    Config = InnerConfig

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self.inner: Optimizer | None = None

    def setup(self, ctx: RunContext) -> None:
        inner = ctx.build("method", self.config.inner)  # type: ignore[attr-defined]
        if not isinstance(inner, Optimizer):
            raise UserError(f"{PATH}.name: {inner.name!r} is not an optimizer")
        self.inner = inner
        self.inner.setup(ctx)

    def after_step(self, ctx: RunContext, step: int) -> None:
        assert self.inner is not None
        self.inner.after_step(ctx, step)

    def inner_optimizer(self) -> Optimizer:
        """The inner optimizer (outside a run, e.g. in a test: from the installed plugins)."""
        if self.inner is None:
            from assay._plugins.registry import registry

            self.inner = instantiate(registry(), self.config.inner)
        return self.inner

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        return self.wrap(self.inner_optimizer().build(param_groups))

    def wrap(self, opt: torch.optim.Optimizer) -> torch.optim.Optimizer:
        """Change the inner optimizer (register hooks, wrap it); the default keeps it."""
        return opt
