"""Where the Optuna study lives: a journal file beside the MLflow store, or a shared database.

Default: Optuna's journal file beside the MLflow store (readable by ``JournalFileBackend``,
``optuna.load_study`` and optuna-dashboard), written by the driver alone: see
``DriverJournal``. With ``url`` (``--study-storage``, ASSAY_STUDY_STORAGE or assay.toml), any
storage Optuna accepts: a database URL (postgresql://, mysql://, sqlite://) shared by a team.
One driver per study is enforced by ``assay._drive.sweep.lock``.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from assay._record.tracking import Store
from assay.errors import UserError


class _NoFlush:
    def flush(self) -> None:
        pass


# One RDBStorage (one SQLAlchemy pool) per database URL per process. A law runs a new
# sweep driver per search round, several at once; a storage each would keep a pool each
# (up to 15 connections apiece, alive until garbage-collected), and a team's PostgreSQL
# refuses clients past its max_connections (100 by default). Shared, a driver process holds
# at most 8 connections however many rounds it runs. RDBStorage is thread-safe.
_RDB: dict[str, Any] = {}
_RDB_LOCK = threading.Lock()


def study_storage(store: Store, name: str, url: str | None = None) -> tuple[Any, str, Any]:
    """(Optuna storage, where it is, flushable backend)."""
    import optuna

    if url:
        if "://" not in url:
            raise UserError(f"study storage {url!r} is not a URL (e.g. postgresql://HOST/DB)")
        with _RDB_LOCK:
            storage = _RDB.get(url)
            if storage is None:
                try:
                    pool = {} if url.startswith("sqlite") else {"pool_size": 2,
                                                                 "max_overflow": 6}
                    storage = optuna.storages.RDBStorage(
                        url, engine_kwargs={"pool_pre_ping": True, **pool})
                except Exception as exc:
                    from assay._experiment.settings import redact

                    raise UserError(f"cannot open the study storage {redact(url)}: "
                                    f"{type(exc).__name__}: {exc}") from None
                _RDB[url] = storage
        return storage, url, _NoFlush()
    path = store.root / "optuna" / f"{name}.journal"
    path.parent.mkdir(parents=True, exist_ok=True)
    backend = DriverJournal(str(path))
    return optuna.storages.JournalStorage(backend), str(path), backend


def _driver_journal_class() -> Any:
    from optuna.storages.journal import JournalFileBackend
    from optuna.storages.journal._file import get_lock_file

    class _DriverJournal(JournalFileBackend):
        """The study's journal while one driver holds its lock (``<study>.driver.lock``).

        Optuna's file backend re-opens and re-reads the file before every storage operation
        and fsyncs every append: ~10 file operations per trial, each one a point where the
        driver's thread gives up the GIL to Dask's and the writer's threads (~13 ms per trial
        measured here). No other process writes this file while the lock is held, so the
        driver replays from memory and appends in batches: ``flush()`` runs before runs are
        submitted (and before their MLflow runs are created) and after each round of results,
        and the file is fsynced at the end. A driver killed between two flushes loses only
        operations that the next run redoes (asked-but-unsubmitted trials; tells whose run is
        in MLflow, which the next start-up reads back: ``assay._drive.sweep.resume``).
        """

        def __init__(self, file_path: str) -> None:
            super().__init__(file_path)
            self._logs = list(super().read_logs(0))
            self._buffer: list[str] = []

        def read_logs(self, log_number_from: int) -> Any:
            return iter(self._logs[log_number_from:])

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            for log in logs:
                line = json.dumps(log, separators=(",", ":"))
                self._buffer.append(line)
                self._logs.append(json.loads(line))   # replayed exactly as read from disk

        def flush(self) -> None:
            if not self._buffer:
                return
            text = "\n".join(self._buffer) + "\n"
            with get_lock_file(self._lock):
                with open(self._file_path, "ab") as f:
                    f.write(text.encode("utf-8"))
            self._buffer.clear()

    return _DriverJournal


def DriverJournal(path: str) -> Any:
    global _DRIVER_JOURNAL
    if _DRIVER_JOURNAL is None:
        _DRIVER_JOURNAL = _driver_journal_class()
    return _DRIVER_JOURNAL(path)


_DRIVER_JOURNAL: Any = None


def fsync(path: str | Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())
