"""The record stage's entry point: ``Tracker``, the one writer of runs to MLflow.

The stage, module by module: ``store`` (where the store is, creating it once), ``ops`` (the
writes: a run created, a result recorded), ``bulk`` (those writes as bulk SQL on a SQL
store), ``index`` (the run cache: finished run keys), ``tags`` (what a run says about
itself). Callers import from here.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from assay._record import bulk
from assay._record.index import finished_keys
from assay._record.ops import Create, Handle, Op, Record, metric_rows, result_tags
from assay._record.store import Store, open_store
from assay._record.tags import MLFLOW_STATUS, git_commit, reuse_tags, run_tags, user

if TYPE_CHECKING:
    from assay._run.result import RunResult

__all__ = ["EXPERIMENT_KIND", "MLFLOW_STATUS", "TRAINING_KIND", "Create", "Handle", "Op",
           "Record", "Store", "Tracker", "git_commit", "open_store", "reuse_tags", "run_tags"]


# MLflow 3's UI opens an experiment by this tag (mlflow/server/js: ExperimentKind): without it,
# it infers one and, by default, shows the GenAI view, with the runs table a click away.
EXPERIMENT_KIND = "mlflow.experimentKind"
TRAINING_KIND = {EXPERIMENT_KIND: "custom_model_development"}


class Tracker:
    """Writes runs to MLflow in few transactions.

    On a SQL store (the embedded sqlite, or a database URI) a batch of creates and records is
    written in ONE transaction (``assay._record.bulk``). MLflow's client spends 4 transactions
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
                    exp_id = self.client.create_experiment(name, artifact_location=art,
                                                           tags=TRAINING_KIND)
                    exp = self.client.get_experiment(exp_id)
                elif exp.tags.get(EXPERIMENT_KIND) != TRAINING_KIND[EXPERIMENT_KIND]:
                    # made before assay tagged experiments: tagged at its next write
                    self.client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND,
                                                   TRAINING_KIND[EXPERIMENT_KIND])
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
            except Exception as exc:
                self._fell_back(ops, exc)
        for op in ops:
            if isinstance(op, Create):
                if not op.handle.run_id:             # a retried batch: create only once
                    self._create_client(op)
            else:
                self._record_client(op)
        self._after(ops)

    def _apply_sql(self, ops: Sequence[Op]) -> None:
        bulk.write(self._sql, ops, self._new_run)

    def _new_run(self, op: Create) -> bulk.NewRun:
        exp_id = self.experiment_id(op.experiment)
        return bulk.NewRun(exp_id, self._artifacts[exp_id], self._run_tags(op))

    def _fell_back(self, ops: Sequence[Op], exc: Exception) -> None:
        for op in ops:
            if isinstance(op, Create):
                op.handle.run_id = ""
        if not self._warned:
            self._warned = True
            logging.getLogger("assay").warning(
                "assay: bulk MLflow write failed (%s: %s); using MLflow's client calls",
                type(exc).__name__, exc)

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

    def finished_keys(self, keys: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        """run key -> {run_id, experiment_id, metrics} for every finished run."""
        return finished_keys(self.client, keys)

    def _run_tags(self, op: Create) -> dict[str, str]:
        tags = {"mlflow.runName": op.name, "mlflow.user": user(), **op.tags}
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
        metrics = [Metric(k, v, now, step) for k, v, step in metric_rows(result)]
        tag_items = [RunTag(k, v) for k, v in result_tags(result).items()]
        param_items = [Param(k, str(v)[:6000]) for k, v in op.params.items()]
        first = True
        while first or metrics or param_items:  # per call: 1000 metrics, 100 params, 100 tags
            p, param_items = param_items[:100], param_items[100:]
            m, metrics = metrics[:900 - len(p)], metrics[900 - len(p):]
            self.client.log_batch(run_id, metrics=m, params=p, tags=tag_items if first else [],
                                  synchronous=True)
            first = False
        self.end_run(run_id, result.status)


def _sql_store(client: Any) -> Any:
    """MLflow's SQLAlchemy store behind ``client``, or None (an HTTP server, a file store)."""
    try:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store = client._tracking_client.store
    except Exception:
        return None
    return store if isinstance(store, SqlAlchemyStore) else None

