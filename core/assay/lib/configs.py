"""The configs of ``assay.lib``'s components, in a module that imports no torch.

Validating an experiment imports each named component's ``Config`` from the module that
defines it (``assay._plugins.light``); kept here, the LoRA adapter's, the linear teacher's and
the optimizer wrapper's configs validate without importing torch. ``assay.lib.adapters``,
``assay.lib.data`` and ``assay.lib.optim`` export them too, beside the code that uses them;
plugins that subclass one of them in their own torch-free ``config.py`` import it from here.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from assay.errors import UserError
from assay.kinds import Config

if TYPE_CHECKING:
    from assay._plugins.light import LightRegistry
    from assay._plugins.registry import Registry
    from assay.kinds import Optimizer

__all__ = ["InnerConfig", "LinearTeacherConfig", "LoRAConfig", "complete_inner"]

INNER_PATH = "methods.optimizer.inner"


class LoRAConfig(Config):
    """Paper: https://arxiv.org/abs/2106.09685 - frozen weights plus trainable rank-r updates
    B @ A on the chosen Linear layers (B starts at zero)."""

    rank: int = Field(8, ge=1, le=4096, description="Rank r of each update (a layer narrower "
                                                    "than r gets rank min(in, out))")
    alpha: float = Field(16.0, gt=0, description="The update is scaled by alpha / rank")
    target: str = Field(".*", description="Regular expression that Linear layer names must "
                                          "fully match (default: every Linear, readout "
                                          "included; e.g. 'hidden\\..*' leaves the readout "
                                          "frozen)")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the adapter's input")

    @field_validator("target")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return v


class LinearTeacherConfig(Config):
    """A fixed low-rank linear map to learn (Saxe et al. 2014, arXiv:1312.6120, Sec. 2)."""

    n_train: int = Field(256, ge=2, le=1_000_000, description="Training examples")
    n_val: int = Field(256, ge=2, le=1_000_000, description="Validation examples")
    in_dim: int = Field(32, ge=1, le=4096, description="Input dimension")
    out_dim: int = Field(32, ge=1, le=4096, description="Output dimension")
    singular_values: list[float] = Field([3.0, 2.0, 1.0, 0.5, 0.25], min_length=1,
                                         description="Singular values of W* (its rank)")
    noise: float = Field(0.0, ge=0, description="Std of Gaussian noise added to targets")
    whiten: bool = Field(True, description="Make the training inputs' second moment exactly I")
    data_seed: int = Field(0, ge=0, description="Seed of the teacher and the inputs")
    per_seed: bool = Field(False, description="Draw the teacher and the inputs from (data_seed, "
                                              "the run's seed): each seed of a claim sees a "
                                              "new problem (False: data_seed alone)")


def optimizer_class(reg: Registry | LightRegistry, name: str) -> type[Optimizer]:
    """The optimizer-slot method ``name`` (its class, or its light record), or a UserError
    naming the optimizers there are."""
    cls = reg.get("method", name, path=f"{INNER_PATH}.name")
    if getattr(cls, "slot", "") != "optimizer":
        choices = [n for n in reg.names("method") if getattr(reg.get("method", n), "slot", "")
                   == "optimizer"]
        raise UserError(f"{INNER_PATH}.name: {name!r} is not an optimizer; "
                        f"valid: {', '.join(choices)}")
    return cls  # type: ignore[return-value]


def complete_inner(ref: Any) -> dict[str, Any]:
    """Validate an inner optimizer reference against the installed plugins and fill in its
    defaults (load time). Uses the registry validation uses (``validation_registry``: no
    plugin imported when the cache answers); what the light registry cannot answer is asked
    of the full one, so the result is the full registry's."""
    from assay._plugins.light import NeedsFull, validation_registry

    if isinstance(ref, str):
        ref = {"name": ref}
    if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str):
        raise ValueError("expected a mapping with an optimizer 'name', e.g. {name: sgd, lr: 0.1}")
    reg = validation_registry()
    try:
        return _complete(reg, ref)
    except NeedsFull:
        return _complete(reg.full(), ref)  # type: ignore[union-attr]


def _complete(reg: Registry | LightRegistry, ref: Mapping[str, Any]) -> dict[str, Any]:
    from assay._experiment.resolve import resolve_component

    if ref["name"] not in reg.components.get("method", {}):
        return dict(ref)             # maybe a --plugin file's optimizer: checked at run start
    optimizer_class(reg, ref["name"])
    return resolve_component(reg, "method", ref, INNER_PATH)


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
        return complete_inner(v)
