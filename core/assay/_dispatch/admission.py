"""Which workers may run an experiment: the plugins (and versions) its runs come from against
what a worker carries. Used on both sides: a worker checks itself before warming up, the
driver excludes unfit workers."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assay.spec import RunSpec


def expected_plugins(run: RunSpec) -> dict[str, str]:
    """plugin -> version that a run's components come from (``RunSpec.versions``)."""
    out = {"builtin": run.versions.get("assay", "")}
    for value in run.versions.values():
        if "==" in value:
            name, version = value.split("==", 1)
            out[name] = version
    return out


def mismatches(info: Mapping[str, Any], expect: Mapping[str, str]) -> list[str]:
    """Why a worker cannot run these runs ([] when it can)."""
    problems = []
    have = info.get("plugins", {})
    for name, version in sorted(expect.items()):
        if name not in have:
            why = info.get("broken", {}).get(name)
            problems.append(f"plugin {name!r} " + (f"fails to import: {why}" if why else
                                                   "is not installed"))
        elif version and have[name] != version:
            problems.append(f"plugin {name!r} is {have[name]} (driver: {version})")
    return problems
