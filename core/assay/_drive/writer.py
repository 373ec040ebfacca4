"""The driver's single MLflow writer, on its own thread so that tracking stays off the trials'
path.

Jobs run in order. Run creates and records that are waiting when the writer wakes up are
written together, in one transaction on a SQL store (``Tracker.apply``): under load the
writer's cost per run falls instead of its queue growing. A record may post a Message back to
the driver once it is durable: the driver tells Optuna only after the run is in MLflow, so a
crash in between is re-asked and then reused by run key, never run twice.
"""
from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Mapping
from typing import Any

from assay._dispatch.base import Message
from assay._record.tracking import Create, Handle, Op, Record

MAX_BATCH = 256


class Writer:
    def __init__(self, tracker: Any, inbox: queue.Queue[Message]) -> None:
        self.tracker, self.inbox = tracker, inbox
        self.jobs: queue.Queue[tuple[Op, Message | None] | None] = queue.Queue()
        self.handles: dict[int, Handle] = {}   # tid -> its MLflow run
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._loop, name="assay-mlflow-writer", daemon=True)
        self.thread.start()

    @property
    def run_ids(self) -> dict[int, str]:
        return {tid: h.run_id for tid, h in self.handles.items() if h.run_id}

    def _loop(self) -> None:
        while True:
            pending = [self.jobs.get()]
            while len(pending) < MAX_BATCH:        # whatever else is already waiting
                try:
                    pending.append(self.jobs.get_nowait())
                except queue.Empty:
                    break
            batch = [job for job in pending if job is not None]
            self._write(batch)
            if len(batch) < len(pending):          # close() was called
                return

    def _write(self, batch: list[tuple[Op, Message | None]]) -> None:
        if not batch:
            return
        ops = [op for op, _ in batch]
        for attempt in range(3):
            try:
                self.tracker.apply(ops)
                break
            except Exception:
                if attempt == 2:
                    self.errors.append(traceback.format_exc(limit=3))
        for _, done in batch:
            if done is not None:
                self.inbox.put(done)

    def start_run(self, tid: int, experiment: str, name: str, tags: Mapping[str, str],
                  params: Mapping[str, str], parent: str | None) -> None:
        handle = self.handles[tid] = Handle()
        self.jobs.put((Create(handle, experiment, name, tags, params, parent), None))

    def record(self, tid: int, result: Any, params: Mapping[str, str] | None = None,
               notify: bool = True) -> None:
        """Write ``result`` to trial ``tid``'s run; then (``notify``) tell the driver."""
        done = Message("written", tid) if notify else None
        self.jobs.put((Record(self.handles[tid], result, params or {}), done))

    def write(self, ops: list[Op]) -> None:
        """Write runs the driver tells nobody about (children of trials already told)."""
        for op in ops:
            self.jobs.put((op, None))

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()
