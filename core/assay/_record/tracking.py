"""MLflow: the embedded store, and the one writer that records runs.

Default store: ``./assay-runs/mlflow.db`` (sqlite) with artifacts in ``./assay-runs/artifacts``
(``ASSAY_HOME`` moves the folder; ``MLFLOW_TRACKING_URI`` or ``--tracking-uri`` replaces the
store). The driver creates and migrates the store once, under a file lock, before any worker
starts; after that it is the only process that writes to it.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from assay._run.loop import RunResult
    from assay._plugins.registry import Registry
    from assay._experiment.resolve import RunSpec

MLFLOW_STATUS = {"finished": "FINISHED", "pruned": "KILLED", "failed": "FAILED",
                 "preempted": "KILLED", "running": "RUNNING"}


@dataclass(frozen=True)
class Store:
    root: Path
    tracking_uri: str
    artifact_root: str

    @classmethod
    def resolve(cls, tracking_uri: str | None = None, root: str | Path | None = None) -> Store:
        root = Path(root or os.environ.get("ASSAY_HOME", "assay-runs")).resolve()
        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or \
            f"sqlite:///{root / 'mlflow.db'}"
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
    except Exception as exc:  # noqa: BLE001 - MLflow creates the store itself instead
        logging.getLogger("assay").debug("store template not used: %s", exc)
        for leftover in (db.with_suffix(".db.part"),):
            leftover.unlink(missing_ok=True)


def _sqlite_exec(path: str, sql: str, args: tuple[Any, ...] = ()) -> None:
    con = sqlite3.connect(path)
    try:
        con.execute(sql, args)
        con.commit()
    finally:
        con.close()


@cache
def git_commit(cwd: str = ".") -> str:
    """The commit of the code that ran: the current folder's repository, else (running from
    outside it, e.g. a results folder) the repository assay itself is installed from."""
    for folder in (cwd, str(Path(__file__).resolve().parent.parent)):
        try:
            out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                                 text=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    return ""


@dataclass
class Handle:
    """A run that is being written: its MLflow id once the create has landed."""
    run_id: str = ""


@dataclass
class Create:
    handle: Handle
    experiment: str
    name: str
    tags: Mapping[str, str]
    params: Mapping[str, str] = field(default_factory=dict)
    parent: str | None = None


@dataclass
class Record:
    handle: Handle
    result: RunResult
    params: Mapping[str, str] = field(default_factory=dict)


Op = Create | Record


class Tracker:
    """Writes runs to MLflow in few transactions.

    On a SQL store (the embedded sqlite, or a database URI) a batch of creates and records is
    written in ONE transaction through MLflow's own SQLAlchemy models, the rows MLflow's
    ``create_run``/``log_batch``/``update_run_info`` would write (checked field by field
    against the public client in tests/test_tracking.py). MLflow's client spends 4 transactions
    and ~27 ms per sweep trial here; a batch costs ~1-2 ms per run. Any other store (an MLflow
    server over HTTP) gets the public client calls: create, one ``log_batch`` per ~1000 values,
    terminate. If the bulk path ever fails (an MLflow schema this code does not know), the
    batch is retried through the public client and a warning says so once.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.client = open_store(store)
        self._experiments: dict[str, str] = {}
        self._artifacts: dict[str, str] = {}
        self._sql = _sql_store(self.client)
        self._warned = False

    def experiment_id(self, name: str) -> str:
        if name not in self._experiments:
            from filelock import FileLock

            with FileLock(str(self.store.root / ".store.lock")):
                exp = self.client.get_experiment_by_name(name)
                if exp is None:
                    art = f"{self.store.artifact_root}/{name}" if self.store.is_sqlite else None
                    exp_id = self.client.create_experiment(name, artifact_location=art)
                    exp = self.client.get_experiment(exp_id)
            self._experiments[name] = exp.experiment_id
            self._artifacts[exp.experiment_id] = exp.artifact_location
        return self._experiments[name]

    # --- the one write path -------------------------------------------------------------
    def apply(self, ops: Sequence[Op]) -> None:
        """Write creates and records, in order; on a SQL store in one transaction."""
        for op in ops:
            if isinstance(op, Create):
                self.experiment_id(op.experiment)          # outside the transaction
        if self._sql is not None:
            try:
                self._apply_sql(ops)
                self._after(ops)
                return
            except Exception as exc:  # noqa: BLE001 - fall back to the public client
                for op in ops:
                    if isinstance(op, Create):
                        op.handle.run_id = ""
                if not self._warned:
                    self._warned = True
                    logging.getLogger("assay").warning(
                        "assay: bulk MLflow write failed (%s: %s); using MLflow's client calls",
                        type(exc).__name__, exc)
        for op in ops:
            if isinstance(op, Create):
                if not op.handle.run_id:             # a retried batch: create only once
                    self._create_client(op)
            else:
                self._record_client(op)
        self._after(ops)

    def start_run(self, experiment: str, name: str, tags: Mapping[str, str],
                  params: Mapping[str, str] = {}, parent: str | None = None) -> str:
        handle = Handle()
        self.apply([Create(handle, experiment, name, tags, params, parent)])
        return handle.run_id

    def record(self, run_id: str, result: RunResult, params: Mapping[str, str] = {}) -> None:
        """Write a whole RunResult: params, metrics, status, error (and traceback artifact)."""
        self.apply([Record(Handle(run_id), result, params)])

    def end_run(self, run_id: str, status: str) -> None:
        self.client.set_terminated(run_id, MLFLOW_STATUS[status])

    def _run_tags(self, op: Create) -> dict[str, str]:
        tags = {"mlflow.runName": op.name, "mlflow.user": _user(), **op.tags}
        if op.parent:
            tags["mlflow.parentRunId"] = op.parent
        commit = git_commit()
        if commit:
            tags.setdefault("mlflow.source.git.commit", commit)
        return {k: str(v)[:8000] for k, v in tags.items()}

    def _after(self, ops: Sequence[Op]) -> None:
        for op in ops:
            if isinstance(op, Record) and op.result.traceback:
                self.client.log_text(op.handle.run_id, op.result.traceback, "traceback.txt")

    # --- public client (any store) ------------------------------------------------------
    def _create_client(self, op: Create) -> None:
        from mlflow.entities import Param

        tags = self._run_tags(op)
        run = self.client.create_run(self.experiment_id(op.experiment), tags=tags,
                                     run_name=op.name)
        op.handle.run_id = run.info.run_id
        items = [Param(k, str(v)[:6000]) for k, v in op.params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(op.handle.run_id, params=items[i:i + 100], synchronous=True)

    def _record_client(self, op: Record) -> None:
        from mlflow.entities import Metric, Param, RunTag

        run_id, result = op.handle.run_id, op.result
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v, step in _metric_rows(result)]
        tag_items = [RunTag(k, v) for k, v in _result_tags(result).items()]
        param_items = [Param(k, str(v)[:6000]) for k, v in op.params.items()]
        first = True
        while first or metrics or param_items:  # per call: 1000 metrics, 100 params, 100 tags
            p, param_items = param_items[:100], param_items[100:]
            m, metrics = metrics[:900 - len(p)], metrics[900 - len(p):]
            self.client.log_batch(run_id, metrics=m, params=p, tags=tag_items if first else [],
                                  synchronous=True)
            first = False
        self.end_run(run_id, result.status)

    # --- one transaction (SQL stores) ---------------------------------------------------
    def _apply_sql(self, ops: Sequence[Op]) -> None:
        """The rows of ``ops`` as a few bulk statements (SQLAlchemy's ORM bulk INSERT and
        UPDATE by primary key) in one transaction. Building an ORM object per row and
        querying each recorded run's tags and latest metrics cost the writer ~10 ms of CPU
        per sweep trial (a third of the driver's work per trial); this costs ~2 ms."""
        import uuid

        from mlflow.store.tracking.dbmodels.models import (
            SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag)
        from sqlalchemy import insert, select, update

        now = int(time.time() * 1000)
        runs: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        params: list[dict[str, Any]] = []
        metrics: list[dict[str, Any]] = []
        tag_updates: list[dict[str, Any]] = []
        ends: list[dict[str, Any]] = []
        tag_keys: dict[str, set[str]] = {}             # run -> tag keys it has
        latest: dict[tuple[str, str], tuple[int, int, float]] = {}   # (run, key) -> newest
        stored: set[tuple[str, str]] = set()            # latest rows already in the store
        for op in ops:
            if isinstance(op, Create):
                run_id = uuid.uuid4().hex
                exp_id = self.experiment_id(op.experiment)
                run_tags = self._run_tags(op)
                runs.append(dict(
                    name=op.name, run_uuid=run_id, experiment_id=exp_id,
                    artifact_uri=f"{self._artifacts[exp_id].rstrip('/')}/{run_id}/artifacts",
                    source_type="UNKNOWN", source_name="", entry_point_name="",
                    user_id=run_tags["mlflow.user"], status="RUNNING", start_time=now,
                    end_time=None, deleted_time=None, source_version="",
                    lifecycle_stage="active"))
                tags += [dict(key=k, value=v, run_uuid=run_id) for k, v in run_tags.items()]
                params += _param_rows(run_id, op.params)
                tag_keys[run_id] = set(run_tags)
                op.handle.run_id = run_id
        made = set(tag_keys)
        with self._sql.ManagedSessionMaker(read_only=False) as session:
            older = sorted({op.handle.run_id for op in ops
                            if isinstance(op, Record) and op.handle.run_id not in made})
            if older:                                  # runs created by an earlier batch
                for run_id, key in session.execute(select(SqlTag.run_uuid, SqlTag.key)
                                                   .where(SqlTag.run_uuid.in_(older))):
                    tag_keys.setdefault(run_id, set()).add(key)
                for row in session.execute(
                        select(SqlLatestMetric.run_uuid, SqlLatestMetric.key,
                               SqlLatestMetric.step, SqlLatestMetric.timestamp,
                               SqlLatestMetric.value)
                        .where(SqlLatestMetric.run_uuid.in_(older))):
                    latest[(row[0], row[1])] = (row[2], row[3], row[4])
                    stored.add((row[0], row[1]))
                missing = set(older) - set(session.scalars(
                    select(SqlRun.run_uuid).where(SqlRun.run_uuid.in_(older))))
                if missing:
                    raise KeyError(f"no MLflow run {sorted(missing)[0]}")
            fresh: dict[tuple[str, str], tuple[int, int, float]] = {}
            for op in ops:
                if not isinstance(op, Record):
                    continue
                run_id, result = op.handle.run_id, op.result
                have = tag_keys.setdefault(run_id, set())
                for k, v in _result_tags(result).items():
                    if k in have:
                        tag_updates.append(dict(key=k, run_uuid=run_id, value=v))
                    else:
                        tags.append(dict(key=k, value=v, run_uuid=run_id))
                        have.add(k)
                params += _param_rows(run_id, op.params)
                seen: set[tuple[str, int, float]] = set()
                for k, v, step in _metric_rows(result):
                    if (k, step, v) in seen:
                        continue
                    seen.add((k, step, v))
                    metrics.append(dict(run_uuid=run_id, key=k, value=v, timestamp=now,
                                        step=step, is_nan=False))
                    new = (step, now, v)
                    if (run_id, k) not in latest or new > latest[(run_id, k)]:
                        latest[(run_id, k)] = fresh[(run_id, k)] = new
                ends.append(dict(run_uuid=run_id, status=MLFLOW_STATUS[result.status],
                                 end_time=now))
            new_latest, old_latest = [], []
            for (r, k), (st, ts, v) in fresh.items():
                row = dict(run_uuid=r, key=k, step=st, timestamp=ts, value=v, is_nan=False)
                (old_latest if (r, k) in stored else new_latest).append(row)
            for model, batch in ((SqlRun, runs), (SqlTag, tags), (SqlParam, params),
                                 (SqlMetric, metrics), (SqlLatestMetric, new_latest)):
                if batch:
                    session.execute(insert(model), batch)
            for model, batch in ((SqlLatestMetric, old_latest), (SqlTag, tag_updates),
                                 (SqlRun, ends)):
                if batch:
                    session.execute(update(model), batch)

    def finished_keys(self, keys: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        """run key -> {run_id, metrics} for every finished run (optionally only ``keys``)."""
        filt = "tags.`assay.status` = 'finished'"
        if keys is not None and len(keys) == 0:
            return {}
        if keys is not None and len(keys) == 1:  # MLflow's filter has no IN for tags
            filt += f" and tags.`assay.run_key` = '{keys[0]}'"
        exp_ids = [e.experiment_id for e in self.client.search_experiments()]
        out: dict[str, dict[str, Any]] = {}
        token = None
        while exp_ids:
            page = self.client.search_runs(exp_ids, filt, max_results=1000, page_token=token)
            for r in page:
                if keys is not None and r.data.tags["assay.run_key"] not in keys:
                    continue
                out[r.data.tags["assay.run_key"]] = {"run_id": r.info.run_id,
                                                     "metrics": dict(r.data.metrics)}
            token = page.token
            if not token:
                break
        return out


def _sql_store(client: Any) -> Any:
    """MLflow's SQLAlchemy store behind ``client``, or None (an HTTP server, a file store)."""
    try:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store = client._tracking_client.store
    except Exception:  # noqa: BLE001 - any doubt: the public client path
        return None
    return store if isinstance(store, SqlAlchemyStore) else None


@cache
def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "unknown"


def _metric_rows(result: RunResult) -> list[tuple[str, float, int]]:
    """(key, value, step): every finite value of the history, then the final metrics not
    already in it, at the last step."""
    rows = [(k, float(v), step) for step, m in result.history for k, v in m.items()
            if _finite(v)]
    last_step = result.history[-1][0] if result.history else 0
    logged = {k for _, m in result.history for k in m}
    rows += [(k, float(v), last_step) for k, v in result.metrics.items()
             if _finite(v) and k not in logged]
    return rows


def _param_rows(run_id: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(key=k, value=str(v)[:6000], run_uuid=run_id) for k, v in params.items()]


def _result_tags(result: RunResult) -> dict[str, str]:
    tags = {"assay.status": result.status}
    if result.error:
        tags["assay.error"] = result.error[:8000]
    return tags


def _finite(v: Any) -> bool:
    try:
        return v == v and abs(float(v)) != float("inf")
    except (TypeError, ValueError):
        return False


def run_tags(run: RunSpec, reg: Registry, extra: Mapping[str, str] = {}) -> dict[str, str]:
    from assay._version import __version__

    return {"assay.run_key": run.key, "assay.version": __version__,
            "assay.versions": json.dumps(run.versions, sort_keys=True),
            "assay.papers": ",".join(run.paper_ids(reg)), "assay.status": "running",
            "assay.seed": str(run.seed), **extra}
