"""The driver's single MLflow writer, on its own thread so that tracking stays off the trials'
path. Jobs run in order; a job may post a Message back to the driver when it is durable (the
driver tells Optuna only after the run is in MLflow, so a crash in between is re-asked and
then reused by run key, never run twice)."""
from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from typing import Any

from assay.executor import Message


class Writer:
    def __init__(self, tracker: Any, inbox: queue.Queue[Message]) -> None:
        self.tracker, self.inbox = tracker, inbox
        self.jobs: queue.Queue[tuple[Callable[[], Any], Message | None] | None] = queue.Queue()
        self.run_ids: dict[int, str] = {}      # tid -> MLflow run id
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._loop, name="assay-mlflow-writer", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            fn, done = job
            for attempt in range(3):
                try:
                    fn()
                    break
                except Exception:  # noqa: BLE001 - retried, then reported; never silent
                    if attempt == 2:
                        self.errors.append(traceback.format_exc(limit=3))
            if done is not None:
                self.inbox.put(done)

    def start_run(self, tid: int, experiment: str, name: str, tags: dict[str, str],
                  params: dict[str, str], parent: str | None) -> None:
        def job() -> None:
            self.run_ids[tid] = self.tracker.start_run(experiment, name, tags, params, parent)
        self.jobs.put((job, None))

    def record(self, tid: int, result: Any, params: dict[str, str] | None = None) -> None:
        def job() -> None:
            self.tracker.record(self.run_ids[tid], result, params or {})
        self.jobs.put((job, Message("written", tid)))

    def call(self, fn: Callable[[], Any], done: Message | None = None) -> None:
        self.jobs.put((fn, done))

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()
