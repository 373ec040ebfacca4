"""Where assay connects: command-line flags, then environment variables, then ``assay.toml``.

A team writes the shared servers once, in ``assay.toml`` at the project root (found from the
current folder upwards)::

    tracking_uri = "http://mlflow.lab:5000"        # or MLFLOW_TRACKING_URI
    study_storage = "postgresql://optuna@db.lab/optuna"   # or ASSAY_STUDY_STORAGE
    scheduler = "tcp://dask.lab:8786"              # or ASSAY_SCHEDULER
    workers = 2                                    # local workers when there is no scheduler

With none of them set, assay runs on the embedded defaults: a sqlite MLflow store and Optuna
journal files under ./assay-runs, and a local Dask cluster.
"""
from __future__ import annotations

import argparse
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.errors import UserError

KEYS = {"tracking_uri": ("MLFLOW_TRACKING_URI", str), "study_storage": ("ASSAY_STUDY_STORAGE", str),
        "scheduler": ("ASSAY_SCHEDULER", str), "workers": ("ASSAY_WORKERS", int)}


@dataclass
class Settings:
    tracking_uri: str | None = None
    study_storage: str | None = None
    scheduler: str | None = None
    workers: int | None = None
    source: dict[str, str] = field(default_factory=dict)   # key -> where it came from
    file: Path | None = None


def find_config(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "assay.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    data = data.get("assay", data)                 # [assay] table or top-level keys
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise UserError(f"{path}: unknown setting(s) {', '.join(unknown)}; "
                        f"known: {', '.join(KEYS)}")
    for key, value in data.items():
        kind = KEYS[key][1]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise UserError(f"{path}: {key} must be a {kind.__name__}, got {value!r}")
    return data


def resolve(args: argparse.Namespace | None = None, start: Path | None = None) -> Settings:
    path = find_config(start)
    from_file = load_config(path) if path else {}
    out = Settings(file=path)
    for key, (env, kind) in KEYS.items():
        flag = getattr(args, key, None) if args is not None else None
        if flag is not None:
            setattr(out, key, flag)
            out.source[key] = "--" + key.replace("_", "-")
        elif os.environ.get(env):
            try:
                setattr(out, key, kind(os.environ[env]))
            except ValueError:
                raise UserError(f"{env}={os.environ[env]!r} is not a {kind.__name__}") from None
            out.source[key] = env
        elif key in from_file:
            setattr(out, key, from_file[key])
            out.source[key] = str(path)
    return out


def apply(args: argparse.Namespace) -> Settings:
    """Fill the command's connection flags from the environment and assay.toml."""
    s = resolve(args)
    for key in KEYS:
        if hasattr(args, key) and getattr(args, key) is None:
            setattr(args, key, getattr(s, key))
    return s


def redact(url: str | None) -> str:
    """A URL fit to print or tag: the password replaced by ***."""
    if not url or "@" not in url or "://" not in url:
        return url or ""
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}://{creds}@{host}"
