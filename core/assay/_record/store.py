"""The MLflow store: where it is, and creating it once.

Default store: ``./assay-runs/mlflow.db`` (sqlite) with artifacts in ``./assay-runs/artifacts``
(``ASSAY_HOME`` moves the folder; ``MLFLOW_TRACKING_URI`` or ``--tracking-uri`` replaces the
store). The driver creates and migrates the store once, under a file lock, before any worker
starts; after that it is the only process that writes to it.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


@dataclass(frozen=True)
class Store:
    root: Path
    tracking_uri: str
    artifact_root: str

    @classmethod
    def resolve(cls, tracking_uri: str | None = None, root: str | Path | None = None) -> Store:
        """The store: ``tracking_uri`` (else MLFLOW_TRACKING_URI) is an MLflow URI, or a plain
        folder, which becomes assay's whole store there (sqlite database, artifacts, journals:
        MLflow 3 refuses plain-folder file stores); without one, ``ASSAY_HOME`` or
        ``./assay-runs``."""
        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        if uri and "://" not in uri and not uri.startswith(("sqlite:", "file:")):
            root, uri = uri, None                       # a folder: the whole store there
        root = Path(root or os.environ.get("ASSAY_HOME", "assay-runs")).resolve()
        uri = uri or f"sqlite:///{root / 'mlflow.db'}"
        return cls(root, uri, (root / "artifacts").as_uri())

    @property
    def is_sqlite(self) -> bool:
        return self.tracking_uri.startswith("sqlite:")


@cache
def _sqlite_tuning() -> None:
    """WAL journal and synchronous=NORMAL on this process's sqlite connections: ~1.6x faster
    MLflow writes, still durable across a process crash (only an OS crash can lose the tail)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _pragmas(conn: Any, _record: Any) -> None:
        if isinstance(conn, sqlite3.Connection):
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()


def open_store(store: Store) -> MlflowClient:
    """Create (and migrate) the store once, under a lock; return a client bound to it."""
    from filelock import FileLock
    from mlflow.tracking import MlflowClient

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    store.root.mkdir(parents=True, exist_ok=True)
    if store.is_sqlite:
        _sqlite_tuning()
    with FileLock(str(store.root / ".store.lock")):
        if store.is_sqlite and store.tracking_uri == f"sqlite:///{store.root / 'mlflow.db'}":
            _seed_store(store)
        client = MlflowClient(tracking_uri=store.tracking_uri)
        client.search_experiments(max_results=1)  # forces creation + migration now
    return client


def _template_path() -> Path:
    import mlflow

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "assay"
    return cache / f"mlflow-{mlflow.__version__}-empty.db"


def _seed_store(store: Store) -> None:
    """A new embedded store starts as a copy of an empty, migrated one.

    MLflow creates a sqlite store by running every schema migration (~2-4 s here, the
    largest part of a short sweep's start-up). The first store on a machine is made that way
    and kept, empty, in ``~/.cache/assay/mlflow-<version>-empty.db``; later new stores copy it
    (~10 ms) and point its Default experiment at their own artifact folder. Anything odd
    (no cache folder, a damaged template) falls back to MLflow's own creation.
    """
    import shutil
    import tempfile

    db = store.root / "mlflow.db"
    if db.exists():
        return
    try:
        template = _template_path()
        if not template.exists():
            from mlflow.tracking import MlflowClient

            template.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=template.parent) as tmp:
                MlflowClient(tracking_uri=f"sqlite:///{tmp}/mlflow.db").search_experiments()
                _sqlite_exec(f"{tmp}/mlflow.db", "PRAGMA wal_checkpoint(TRUNCATE)")
                os.replace(f"{tmp}/mlflow.db", template)   # atomic: never half a template
        part = db.with_suffix(".db.part")
        shutil.copyfile(template, part)
        now = int(time.time() * 1000)
        _sqlite_exec(str(part), "UPDATE experiments SET artifact_location = ?, creation_time = ?, "
                     "last_update_time = ? WHERE experiment_id = 0",
                     (f"{store.artifact_root}/0", now, now))
        os.replace(part, db)
    except Exception as exc:
        logging.getLogger("assay").debug("store template not used: %s", exc)
        db.with_suffix(".db.part").unlink(missing_ok=True)


def _sqlite_exec(path: str, sql: str, args: tuple[Any, ...] = ()) -> None:
    con = sqlite3.connect(path)
    try:
        con.execute(sql, args)
        con.commit()
    finally:
        con.close()
