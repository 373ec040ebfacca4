"""schemas/ is generated from the installed components and must not go stale."""
from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from assay._cli.schema import render

ROOT = Path(__file__).resolve().parents[1]


def test_checked_in_schemas_are_fresh():
    expected = render()
    on_disk = {str(p.relative_to(ROOT / "schemas")): p.read_text()
               for p in (ROOT / "schemas").rglob("*.json")}
    stale = sorted(k for k in expected if on_disk.get(k) != expected[k])
    extra = sorted(set(on_disk) - set(expected))
    assert not stale and not extra, (
        f"schemas/ is stale (changed: {stale[:5]}, removed: {extra[:5]}); "
        "regenerate with: assay schema")


@pytest.mark.parametrize("path", sorted((ROOT / "examples").rglob("*.yaml")), ids=lambda p: p.name)
def test_examples_validate_against_the_schema(path):
    import json

    if "plugins" in yaml.safe_load(path.read_text()):
        pytest.skip("uses a local --plugin file, whose components the schema cannot know")

    schema = json.loads(render()["experiment.schema.json"])
    jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_schema_rejects_a_bad_field():
    import json

    schema = json.loads(render()["experiment.schema.json"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"model": {"name": "mlp", "widht": 3}}, schema)
