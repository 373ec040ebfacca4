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
from pathlib import Path

from assay.errors import UserError

# No typing, tomllib or dataclasses at import: every command reads its settings, and those
# imports took longer than the rest of a cached `assay plugins` (issue 16).
TYPE_CHECKING = False                   # typing.TYPE_CHECKING's value; checkers read it as such
if TYPE_CHECKING:
    from typing import Any

KEYS = {"tracking_uri": ("MLFLOW_TRACKING_URI", str), "study_storage": ("ASSAY_STUDY_STORAGE", str),
        "scheduler": ("ASSAY_SCHEDULER", str), "workers": ("ASSAY_WORKERS", int)}


class Settings:
    """The resolved connection settings, and where each came from (``source``: key -> the
    flag, variable or file that set it)."""

    def __init__(self, file: Path | None = None) -> None:
        self.tracking_uri: str | None = None
        self.study_storage: str | None = None
        self.scheduler: str | None = None
        self.workers: int | None = None
        self.source: dict[str, str] = {}
        self.file = file

    def __repr__(self) -> str:
        return f"Settings({vars(self)!r})"


def find_config(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "assay.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path) -> dict[str, Any]:
    import tomllib

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


# --- checks, run before any command connects (problem text, or None) ---------------------------

MLFLOW_SCHEMES = ("http", "https", "file", "sqlite", "postgresql", "mysql", "mssql",
                  "databricks", "databricks-uc", "uc")
"""The tracking URI schemes MLflow stores runs in (SQL ones may name a driver: ``+psycopg2``)."""
DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "mysql": 3306, "mssql": 1433}


def tracking_uri_problem(uri: str) -> str | None:
    from urllib.parse import urlsplit

    if not uri.strip():
        return "is empty; give a URI such as http://HOST:5000, or leave it unset"
    scheme = urlsplit(uri).scheme.lower()
    if len(scheme) <= 1:                       # a folder (MLflow's file store)
        return None
    base = scheme.split("+")[0]
    if base not in MLFLOW_SCHEMES:
        return (f"MLflow cannot store runs at a {scheme!r} URI; use http(s)://HOST:PORT (an "
                "MLflow server), sqlite:///PATH.db, postgresql+psycopg2://USER@HOST/DB, or "
                "leave it unset for ./assay-runs")
    if base in ("http", "https") and not urlsplit(uri).hostname:
        return f"names no host; write {base}://HOST:PORT"
    if base in ("sqlite", "postgresql", "mysql", "mssql"):
        return database_problem(uri)
    return None


def study_storage_problem(url: str) -> str | None:
    if "://" not in url:
        return ("is not a database URL; write e.g. postgresql+psycopg2://USER@HOST/DB or "
                "sqlite:///PATH.db, or leave it unset for a journal file beside the store")
    return database_problem(url)


def database_problem(url: str) -> str | None:
    """A SQLAlchemy URL whose dialect and driver are installed, and whose sqlite file can
    be created; the server itself is checked by ``unreachable``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        u = make_url(url)
    except (ArgumentError, ValueError):
        return "is not a database URL; write DIALECT://USER@HOST/DB, e.g. sqlite:///PATH.db"
    try:
        dialect = u.get_dialect()
    except NoSuchModuleError:
        return (f"names an unknown database {u.drivername!r}; use postgresql+psycopg2, mysql "
                "or sqlite")
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        return (f"needs a database driver that is not installed ({exc}); install it, or name "
                "one that is, e.g. postgresql+psycopg2:// (pip install \"assay[team]\")")
    if u.get_backend_name() == "sqlite":
        if not u.database or u.database == ":memory:":
            return "is an in-memory database, lost at exit; name a file: sqlite:///PATH.db"
        folder = Path(u.database).expanduser().parent
        if not folder.is_dir():
            return f"is in a folder that does not exist ({folder}); create it first"
    return None


def scheduler_problem(address: str) -> str | None:
    scheme, _, rest = address.rpartition("://")
    scheme = scheme or "tcp"
    if scheme not in ("tcp", "tls", "ws", "wss", "ucx", "inproc"):
        return f"is not a Dask address ({scheme!r}); write tcp://HOST:PORT"
    if scheme == "inproc":
        return None
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return "is not a Dask address; write tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786"
    return None


def unreachable(url: str, timeout: float = 5.0) -> str | None:
    """Why nothing answers at ``url``'s host and port (a TCP connect), or None. MLflow retries
    an absent server for minutes and a database driver may hang, so the CLI asks first."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    base = parts.scheme.split("+")[0]
    try:
        host, port = parts.hostname, parts.port or DEFAULT_PORTS.get(base)
    except ValueError:
        return "has an invalid port"
    if not host or not port:
        return None                                # a file, a socket path, a managed service
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return f"does not answer: nothing reachable at {host}:{port} ({reason}); is it running?"
    return None
