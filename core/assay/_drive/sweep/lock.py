"""One driver per study, on this machine and across machines.

Two drivers of one study would each repair the other's running trials as a dead driver's
(preempted, their MLflow runs KILLED) and then fail on trials the other told. So a driver
holds two locks while it runs:
- a file lock under the store's folder (``optuna/<study>.driver.lock``): drivers sharing
  this machine's store;
- for a study in a shared database, a lock held by the database itself on a connection of
  its own: PostgreSQL ``pg_try_advisory_lock``, MySQL/MariaDB ``GET_LOCK`` (a file lock
  beside a sqlite file). The database drops it when that connection ends, so a driver that
  dies (even by kill -9, or with its machine: TCP keepalives notice within ~1 min) never
  leaves a stale lock behind, and there are no heartbeats to tune.
A second driver is refused with a message naming the live one (host, pid, start time, from
the study's ``assay_driver`` attribute). To add capacity to a running sweep, add workers to
its Dask scheduler instead.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from assay.errors import UserError

ATTR = "assay_driver"       # study system attribute: who drives it


def holder() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S")}


class StudyLock:
    def __init__(self, root: Path, study: str, url: str | None = None) -> None:
        self.root, self.study, self.url = root, study, url
        folder = root / "optuna"
        folder.mkdir(parents=True, exist_ok=True)
        self.info_path = folder / f"{study}.driver.json"
        self._file: Any = None
        self._db: _DatabaseLock | None = None

    def acquire(self, storage: Any) -> None:
        """Take both locks, or raise UserError naming the driver that holds one."""
        from filelock import FileLock, Timeout

        self._file = FileLock(str(self.root / "optuna" / f"{self.study}.driver.lock"))
        try:
            self._file.acquire(timeout=0)
        except Timeout:
            raise UserError(self._refusal(self._local_holder(), "this machine's store")) \
                from None
        self.info_path.write_text(json.dumps(holder()))
        if self.url:
            self._db = _DatabaseLock(self.url, self.study)
            if self._db.acquire() is False:
                self._db = None
                self.release()
                from assay._experiment.settings import redact

                raise UserError(self._refusal(_study_holder(storage, self.study),
                                              f"the study storage {redact(self.url)}"))

    def announce(self, storage: Any, study_id: int) -> None:
        """Write this driver's identity into the study, for the message a second one gets."""
        storage.set_study_system_attr(study_id, ATTR, holder())

    def release(self) -> None:
        if self._db is not None:
            self._db.release()
            self._db = None
        if self._file is not None and self._file.is_locked:
            self._file.release()

    def _local_holder(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.info_path.read_text()))
        except (OSError, ValueError):
            return {}

    def _refusal(self, who: dict[str, Any], where: str) -> str:
        named = (f"host {who.get('host', '?')}, pid {who.get('pid', '?')}, "
                 f"since {who.get('since', '?')}") if who else "identity not recorded yet"
        return (f"study {self.study!r} is being driven by another assay process ({named}; "
                f"lock held in {where}). Wait for it to finish, stop it, or pass --study NAME "
                "for a separate study; to give the running sweep more capacity, add Dask "
                "workers to its scheduler")


def _study_holder(storage: Any, study: str) -> dict[str, Any]:
    try:
        attrs = storage.get_study_system_attrs(storage.get_study_id_from_name(study))
    except Exception:
        return {}
    return dict(attrs.get(ATTR) or {})


class _DatabaseLock:
    """A lock the database holds for one connection of ours (see the module docstring)."""

    def __init__(self, url: str, study: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        args: dict[str, Any] = {}
        if self.dialect == "postgresql" and parsed.get_driver_name() in ("psycopg2", "psycopg"):
            args = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                    "keepalives_count": 3}
        self.digest = hashlib.blake2b(f"assay-study:{study}".encode(), digest_size=8).digest()
        self.engine = create_engine(url, poolclass=NullPool, connect_args=args)
        self.database = parsed.database or ""
        self.conn: Any = None
        self.file: Any = None

    def acquire(self) -> bool | None:
        """True: held; False: another driver holds it; None: this database has no such lock."""
        if self.dialect == "sqlite":
            return self._sqlite()
        sql = {"postgresql": "SELECT pg_try_advisory_lock(:key)",
               "mysql": "SELECT GET_LOCK(:name, 0)", "mariadb": "SELECT GET_LOCK(:name, 0)"}
        if self.dialect not in sql:
            logging.getLogger("assay").warning(
                "assay: a %s study storage has no cross-machine driver lock; run one driver "
                "per study", self.dialect)
            return None
        from sqlalchemy import text

        self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = self.conn.execute(text(sql[self.dialect]), self._args()).scalar()
        if not got:
            self.release()
            return False
        return True

    def _args(self) -> dict[str, Any]:
        return {"key": int.from_bytes(self.digest, "big", signed=True),
                "name": f"assay-{self.digest.hex()}"}

    def _sqlite(self) -> bool | None:
        from filelock import FileLock, Timeout

        if not self.database or self.database == ":memory:":
            return None
        self.file = FileLock(f"{self.database}.{self.digest.hex()}.driver.lock")
        try:
            self.file.acquire(timeout=0)
        except Timeout:
            self.file = None
            return False
        return True

    def release(self) -> None:
        if self.conn is not None:
            from sqlalchemy import text

            unlock = {"postgresql": "SELECT pg_advisory_unlock(:key)"}.get(
                self.dialect, "SELECT RELEASE_LOCK(:name)")
            try:
                self.conn.execute(text(unlock), self._args())
            except Exception:
                pass
            self.conn.close()
            self.conn = None
        if self.file is not None:
            self.file.release()
            self.file = None
        self.engine.dispose()
