"""JSON Schemas of the experiment file and of every installed component's config.

``schemas/experiment.schema.json`` validates a whole experiment file in an editor (each
component reference is a ``oneOf`` over the installed components, keyed by ``name``);
``schemas/components/<kind>.<name>.json`` documents each component. Generated, never edited:
``tests/test_schemas.py`` fails when the checked-in files are stale.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assay._plugins.registry import Registry, registry
from assay._experiment.space import SweepSpec
from assay._experiment.resolve import ExperimentSpec, Objective, TrainSpec


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Replace local ``$ref``s by their definitions, so fragments can move between files."""
    if isinstance(node, dict):
        if "$ref" in node and node["$ref"].startswith("#/$defs/"):
            return _inline(defs[node["$ref"].split("/")[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _schema_of(model: Any) -> dict[str, Any]:
    raw = model.model_json_schema()
    return _inline(raw, raw.get("$defs", {}))


def component_schema(cls: Any) -> dict[str, Any]:
    schema = _schema_of(cls.Config)
    schema["properties"] = {"name": {"const": cls.name, "description": cls.__doc__.strip()
                                     .splitlines()[0] if cls.__doc__ else cls.name},
                            **schema.get("properties", {})}
    schema["required"] = ["name", *schema.get("required", [])]
    schema["title"] = f"{cls.kind} {cls.name}"
    schema["additionalProperties"] = False
    if getattr(cls, "paper", None):
        schema["description"] = f"Paper: {cls.paper}"
    return schema


def _one_of(reg: Registry, kind: str, slot: str | None = None) -> dict[str, Any]:
    options = []
    for name in reg.names(kind):
        cls = reg.get(kind, name)
        if slot is None or getattr(cls, "slot", None) == slot:
            options.append(component_schema(cls))
    return {"oneOf": options} if options else {"type": "object"}


def experiment_schema(reg: Registry) -> dict[str, Any]:
    from assay.kinds import SLOTS

    schema = _schema_of(ExperimentSpec)
    props = schema["properties"]
    props["dataset"] = {"description": "dataset: {name, ...config}", **_one_of(reg, "dataset")}
    props["model"] = {"description": "model: {name, ...config}", **_one_of(reg, "model")}
    props["backend"] = {"description": "backend: {name, ...config}", **_one_of(reg, "backend")}
    props["methods"] = {"type": "object", "additionalProperties": False,
                        "description": "slot -> method",
                        "properties": {s: _one_of(reg, "method", s) for s in SLOTS}}
    props["train"] = _schema_of(TrainSpec)
    props["objective"] = _schema_of(Objective)
    props["sweep"] = {"anyOf": [_schema_of(SweepSpec), {"type": "null"}]}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "assay experiment"
    return schema


def render(reg: Registry | None = None) -> dict[str, str]:
    """Relative path -> file text for every schema."""
    reg = reg or registry()
    dump = lambda obj: json.dumps(obj, indent=2, sort_keys=True) + "\n"  # noqa: E731
    files = {"experiment.schema.json": dump(experiment_schema(reg))}
    for kind, table in sorted(reg.components.items()):
        for name, cls in sorted(table.items()):
            files[f"components/{kind}.{name}.json"] = dump(component_schema(cls))
    return files


def write_schemas(out: Path) -> list[Path]:
    files = render()
    written = []
    (out / "components").mkdir(parents=True, exist_ok=True)
    for old in (out / "components").glob("*.json"):
        if f"components/{old.name}" not in files:
            old.unlink()
    for rel, text in files.items():
        path = out / rel
        path.write_text(text)
        written.append(path)
    return written
