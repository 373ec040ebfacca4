"""The inner optimizer of an optimizer-slot wrapper (a method that changes gradients and
then hands them to any other optimizer, e.g. grad-noise, tract): ``inner: {name, **config}``,
resolved through the plugin registry like any ``methods.optimizer`` entry.

The reference is validated (and completed with the inner optimizer's defaults) when the
experiment loads, against the installed plugins; an optimizer that only a ``--plugin`` file
provides is checked when the run starts, against the run's own registry.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from assay import Config, Optimizer, UserError

if TYPE_CHECKING:
    from assay.plugins import Registry

PATH = "methods.optimizer.inner"


def _optimizer_class(reg: Registry, name: str) -> type[Optimizer]:
    cls = reg.get("method", name, path=f"{PATH}.name")
    if getattr(cls, "slot", "") != "optimizer":
        choices = [n for n in reg.names("method") if getattr(reg.get("method", n), "slot", "")
                   == "optimizer"]
        raise UserError(f"{PATH}.name: {name!r} is not an optimizer; valid: {', '.join(choices)}")
    return cls  # type: ignore[return-value]


def complete(ref: Any) -> dict[str, Any]:
    """Validate ``ref`` against the installed plugins and fill in its defaults (load time)."""
    from assay.plugins import registry
    from assay.spec import resolve_component

    if isinstance(ref, str):
        ref = {"name": ref}
    if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str):
        raise ValueError("expected a mapping with an optimizer 'name', e.g. {name: sgd, lr: 0.1}")
    reg = registry()
    if ref["name"] not in reg.components.get("method", {}):
        return dict(ref)             # maybe a --plugin file's optimizer: checked at run start
    _optimizer_class(reg, ref["name"])
    return resolve_component(reg, "method", ref, PATH)


def instantiate(reg: Registry, ref: Mapping[str, Any]) -> Optimizer:
    """The inner optimizer method, built from its full ``{name, **config}``."""
    from assay.spec import resolve_component

    full = resolve_component(reg, "method", ref, PATH)
    cls = _optimizer_class(reg, full["name"])
    return cls(cls.Config.model_validate({k: v for k, v in full.items() if k != "name"}))


class InnerConfig(Config):
    """Config base of an optimizer-slot wrapper: the ``inner`` optimizer that takes the step,
    validated and completed with its defaults when the experiment loads."""

    inner: dict[str, Any] = Field(
        default_factory=lambda: {"name": "sgd"}, validate_default=True,
        description="The optimizer that takes the step, as {name, **config}: any "
                    "optimizer-slot method (e.g. {name: adamw, lr: 0.003})")

    @field_validator("inner")
    @classmethod
    def _complete_inner(cls, v: Any) -> dict[str, Any]:
        return complete(v)
