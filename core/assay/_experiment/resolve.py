"""Experiment files -> ExperimentSpec -> RunSpec.

Resolution has two stages: the experiment's own fields are validated first (component
references stay ``{name: ..., **params}``), then each reference is validated against the
``Config`` of the component it names. Every error names the dotted path, the bad value and,
for names, the valid choices.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from assay._plugins.registry import Registry
from assay.errors import UserError, did_you_mean, unknown_name
from assay.kinds import Component
from assay.spec import SLOTS, ExperimentSpec, Objective, RunSpec, TrainSpec, canonical

__all__ = ["ExperimentSpec", "Objective", "RunSpec", "TrainSpec", "canonical", "load_yaml",
           "parse_override", "apply_overrides", "parse_experiment", "resolve_component",
           "build_run", "instantiate", "SLOTS"]


# --- loading and overriding -------------------------------------------------------------------

def load_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"experiment file not found: {path}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{path}: malformed YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: an experiment file must be a mapping, got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise UserError(f"override {text!r} must look like path=value, e.g. "
                        "methods.optimizer.lr=3e-4")
    path, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return path.strip(), value


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


def _format_pydantic(exc: ValidationError, prefix: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        path = f"{prefix}.{loc}" if prefix and loc else prefix or loc
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        value = err.get("input")
        shown = "" if err["type"] in ("missing", "extra_forbidden") or isinstance(value, dict) \
            else f" (got {value!r})"
        lines.append(f"{path}: {msg}{shown}")
    return "; ".join(lines)


def parse_experiment(raw: Mapping[str, Any]) -> ExperimentSpec:
    try:
        return ExperimentSpec.model_validate(raw)
    except ValidationError as exc:
        raise UserError(_format_pydantic(exc, "")) from None


def resolve_component(reg: Registry, kind: str, ref: Any, path: str) -> dict[str, Any]:
    """Validate ``{name, **params}`` against the named component's Config; full config back."""
    if isinstance(ref, str):
        ref = {"name": ref}
    if not isinstance(ref, Mapping) or "name" not in ref:
        raise UserError(f"{path}: expected a mapping with a 'name', got {ref!r}")
    cls = reg.get(kind, str(ref["name"]), path=f"{path}.name")
    params = {k: v for k, v in ref.items() if k != "name"}
    try:
        cfg = cls.Config.model_validate(params)
    except ValidationError as exc:
        raise UserError(_format_pydantic(exc, path)) from None
    return {"name": cls.name, **cfg.model_dump(mode="json")}


def build_run(raw: Mapping[str, Any], reg: Registry, overrides: Mapping[str, Any] = {}
              ) -> tuple[ExperimentSpec, RunSpec]:
    """Experiment dict (+ dotted overrides) -> validated ExperimentSpec and its RunSpec."""
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


def instantiate(reg: Registry, kind: str, ref: Mapping[str, Any]) -> Component:
    cls = reg.get(kind, ref["name"])
    return cls(cls.Config.model_validate({k: v for k, v in ref.items() if k != "name"}))
