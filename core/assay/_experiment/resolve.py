"""Experiment files -> ExperimentSpec -> RunSpec.

Resolution has two stages: the experiment's own fields are validated first (component
references stay ``{name: ..., **params}``), then each reference is validated against the
``Config`` of the component it names. Every error names the dotted path, the bad value and,
for names, the valid choices.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from assay._experiment.reading import check_numbers, parse_yaml, read_file
from assay._plugins.light import LightRegistry, NeedsFull
from assay._plugins.registry import Registry
from assay.errors import UserError, did_you_mean, unknown_name
from assay.kinds import Component
from assay.spec import SLOTS, ExperimentSpec, Objective, RunSpec, TrainSpec, canonical

__all__ = [
    "SLOTS",
    "ExperimentSpec",
    "Objective",
    "RunSpec",
    "TrainSpec",
    "apply_overrides",
    "build_run",
    "canonical",
    "instantiate",
    "load_yaml",
    "parse_experiment",
    "parse_override",
    "resolve_component",
    "validate",
]


# --- loading and overriding -------------------------------------------------------------------

def load_yaml(path: str | Path) -> dict[str, Any]:
    """An experiment file as a dict (see ``reading``: what is refused, and why)."""
    return read_file(path)


def parse_override(text: str) -> tuple[str, Any]:
    """``-o PATH=VALUE`` -> (path, value); the value is YAML (``3e-4``, ``[1, 2]``, ``null``),
    or the text itself when it is not valid YAML."""
    example = "e.g. -o methods.optimizer.lr=3e-4"
    if "=" not in text:
        raise UserError(f"override {text!r} must look like path=value, {example}")
    path, raw = (part.strip() for part in text.split("=", 1))
    if not path:
        raise UserError(f"override {text!r} has nothing before '='; write path=value, {example}")
    if not _PATH.fullmatch(path):
        raise UserError(f"override {text!r}: {path!r} is not a dotted path (names joined by "
                        f"single dots, no spaces); write path=value, {example}")
    value = parse_yaml(raw, f"override {path}", malformed_as_text=True) if raw else ""
    return path, value


_PATH = re.compile(r"[^\s.=]+(\.[^\s.=]+)*")


def set_path(raw: dict[str, Any], path: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested dict, creating mappings on the way."""
    parts = path.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise UserError(f"{'.'.join(parts[:i + 1])} is {child!r}, not a mapping; cannot set "
                            f"{path}")
        node = child
    node[parts[-1]] = value


def apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    for path, value in overrides.items():
        set_path(out, path, value)
    return out


def _format_pydantic(exc: ValidationError, prefix: str,
                     model: type[BaseModel] | None = None) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        path = f"{prefix}.{loc}" if prefix and loc else prefix or loc
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            known = _fields_at(model, err["loc"][:-1])
            hint = did_you_mean(str(err["loc"][-1]), known) if known else ""
            msg = "unknown field" + ("." + hint if hint else "")
        value = err.get("input")
        shown = "" if err["type"] in ("missing", "extra_forbidden") or isinstance(value, dict) \
            or repr(value) in msg else f" (got {value!r})"
        lines.append(f"{path}: {msg}{shown}")
    return "; ".join(lines)


def _fields_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """The field names of the (nested) model at ``loc``, for did-you-mean; [] if unknown."""
    for part in loc:
        field = model.model_fields.get(str(part)) if model else None
        model = field.annotation if field else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
    return list(model.model_fields) if model else []


def validate(model: type[BaseModel], data: Any, prefix: str) -> Any:
    """``model`` validated from ``data``, or one UserError naming each bad path and value.

    Beyond pydantic: a boolean given for a number is refused (pydantic reads ``true`` as 1,
    so ``steps: true`` trained one step), and so is any given number that is not finite or is
    astronomically large (``check_numbers``), after pydantic's own coercions."""
    try:
        out = model.model_validate(data)
    except ValidationError as exc:
        raise UserError(_format_pydantic(exc, prefix, model)) from None
    if isinstance(data, Mapping):
        dumped = out.model_dump()
        refuse_bool_numbers(data, dumped, prefix)
        check_numbers({k: dumped[k] for k in data if k in dumped}, prefix)
    return out


def refuse_bool_numbers(given: Any, validated: Any, path: str) -> None:
    """A boolean in ``given`` that validation turned into a number is refused."""
    if isinstance(given, bool):
        if isinstance(validated, (int, float)) and not isinstance(validated, bool):
            raise UserError(f"{path}: {str(given).lower()} is a boolean, not a number; "
                            "write a number")
    elif isinstance(given, Mapping) and isinstance(validated, Mapping):
        for key, value in given.items():
            if key in validated:
                refuse_bool_numbers(value, validated[key], f"{path}.{key}" if path else str(key))
    elif isinstance(given, (list, tuple)) and isinstance(validated, (list, tuple)) \
            and len(given) == len(validated):
        for i, (a, b) in enumerate(zip(given, validated)):
            refuse_bool_numbers(a, b, f"{path}[{i}]")


def parse_experiment(raw: Mapping[str, Any]) -> ExperimentSpec:
    """Stage one: the experiment's own fields (component references are checked in stage
    two), and every number anywhere in it (sweep and law blocks included)."""
    check_numbers(raw)              # first: 1.0e+29 is "too large", not "unparsable as int"
    return validate(ExperimentSpec, raw, "")


def resolve_component(reg: Registry | LightRegistry, kind: str, ref: Any, path: str) -> dict[str, Any]:
    """Validate ``{name, **params}`` against the named component's Config; full config back."""
    if isinstance(ref, str):
        ref = {"name": ref}
    if not isinstance(ref, Mapping) or "name" not in ref:
        raise UserError(f"{path}: expected a mapping with a 'name', got {ref!r}")
    cls = reg.get(kind, str(ref["name"]), path=f"{path}.name")
    params = {k: v for k, v in ref.items() if k != "name"}
    cfg = validate(cls.Config, params, path)
    return {"name": cls.name, **cfg.model_dump(mode="json")}


def build_run(raw: Mapping[str, Any], reg: Registry | LightRegistry,
              overrides: Mapping[str, Any] = {}) -> tuple[ExperimentSpec, RunSpec]:
    """Experiment dict (+ dotted overrides) -> validated ExperimentSpec and its RunSpec.

    With a :class:`LightRegistry` (validation without importing the plugins), whatever it
    cannot answer exactly starts the build again with the full registry: the result, errors
    included, is the full registry's."""
    if isinstance(reg, LightRegistry):
        try:
            return _build_run(raw, reg, overrides)
        except NeedsFull:
            reg = reg.full()
    return _build_run(raw, reg, overrides)


def _build_run(raw: Mapping[str, Any], reg: Registry | LightRegistry,
               overrides: Mapping[str, Any]) -> tuple[ExperimentSpec, RunSpec]:
    exp = parse_experiment(apply_overrides(dict(raw), overrides))
    methods = {}
    for slot, ref in exp.methods.items():
        name = ref.get("name") if isinstance(ref, Mapping) else ref
        in_slot = [n for n in reg.names("method") if reg.get("method", n).slot == slot]  # type: ignore[attr-defined]
        if isinstance(name, str) and name not in reg.components.get("method", {}):
            raise unknown_name(f"{slot} method", name, in_slot, f"methods.{slot}.name")
        resolved = resolve_component(reg, "method", ref, f"methods.{slot}")
        cls = reg.get("method", resolved["name"])
        if cls.slot != slot:  # type: ignore[attr-defined]
            raise UserError(f"methods.{slot}.name: {resolved['name']!r} is a "
                            f"{cls.slot} method, not a {slot} method; valid: "  # type: ignore[attr-defined]
                            f"{', '.join(n for n in reg.names('method') if reg.get('method', n).slot == slot)}")  # type: ignore[attr-defined]
        methods[slot] = resolved
    parts = {
        "dataset": resolve_component(reg, "dataset", exp.dataset, "dataset"),
        "model": resolve_component(reg, "model", exp.model, "model"),
        "backend": resolve_component(reg, "backend", exp.backend, "backend"),
    }
    concrete = _concrete(reg, parts["backend"])
    if concrete is not None:
        parts["backend"] = resolve_component(reg, "backend", concrete, "backend")
    versions = {"assay": reg.plugins["builtin"].version}
    for kind, ref in [("dataset", parts["dataset"]), ("model", parts["model"]),
                      ("backend", parts["backend"]), *(("method", m) for m in methods.values())]:
        versions[f"{kind}:{ref['name']}"] = reg.version_of(kind, ref["name"])
    pre = None
    if exp.pretrain is not None:
        inherit = {"backend": dict(raw.get("backend") or {"name": "auto"}), "name": "pretrain"}
        pre_raw = {**inherit, **{k: v for k, v in exp.pretrain.items() if k != "pretrain"}}
        pre_train = dict(pre_raw.get("train") or {})
        pre_train.setdefault("seed", exp.train.seed)   # a replicate pretrains with its own seed
        pre_raw["train"] = pre_train
        try:
            _, pre = build_run(pre_raw, reg)
        except UserError as exc:
            raise UserError(f"pretrain.{exc}") from None
    run = RunSpec(experiment=exp.name, methods=methods, train=exp.train, versions=versions,
                  plugins=tuple(reg.sources), pretrain=pre, **parts)
    return exp, run


def _concrete(reg: Registry | LightRegistry, ref: Mapping[str, Any]) -> dict[str, Any] | None:
    """The backend reference ``ref`` stands for on this machine (``auto`` -> cpu/cuda/mps),
    or None when it is concrete itself."""
    if isinstance(reg, LightRegistry):
        return reg.concrete_backend(ref)
    return instantiate(reg, "backend", ref).concrete()  # type: ignore[attr-defined]


def backend_resources(reg: Registry | LightRegistry, ref: Mapping[str, Any]
                      ) -> dict[str, float]:
    """The Dask worker resources a run on backend ``ref`` needs (e.g. ``{"GPU": 1}``)."""
    if isinstance(reg, LightRegistry):
        try:
            return reg.backend_resources(ref)
        except NeedsFull:
            reg = reg.full()
    return instantiate(reg, "backend", ref).resources()  # type: ignore[attr-defined]


def full_registry(reg: Registry | LightRegistry) -> Registry:
    """``reg`` itself, or the full registry a light one stands for (to build components)."""
    return reg.full() if isinstance(reg, LightRegistry) else reg


def instantiate(reg: Registry, kind: str, ref: Mapping[str, Any]) -> Component:
    cls = reg.get(kind, ref["name"])
    return cls(cls.Config.model_validate({k: v for k, v in ref.items() if k != "name"}))
