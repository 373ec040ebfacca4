"""The inline executor (``--workers 0``): runs in the driver's process, one at a time, for
debugging and for tests that need no cluster."""
from __future__ import annotations

import queue
from collections.abc import Callable, Mapping

from assay._dispatch.base import Message
from assay._dispatch.worker import init_state
from assay.spec import RunSpec


class InlineExecutor:
    """Runs wait in a list until the driver lends its thread (``work``)."""

    def __init__(self, inbox: queue.Queue[Message], state_dir: str | None = None) -> None:
        self.inbox, self.state_dir = inbox, state_dir
        self.pending: list[tuple[int, RunSpec]] = []
        self.pruned: set[int] = set()
        self.n_slots = 1
        self.interrupted = False

    def start(self) -> None:
        pass

    def set_warm(self, plugins: tuple[str, ...], run_json: str | None,
                 max_retries: int | None = None) -> None:
        pass

    def wait_ready(self) -> None:
        pass

    def rebind(self, inbox: queue.Queue[Message], topic: str) -> None:
        self.inbox = inbox

    def submit(self, tid: int, run: RunSpec, resources: Mapping[str, float] | None = None) -> None:
        self.pending.append((tid, run))

    def prune(self, tid: int) -> None:
        self.pruned.add(tid)

    def work(self, on_report: Callable[[Message], None]) -> None:
        """Run the next pending run to its end; reports go straight to ``on_report`` (so a
        pruning decision reaches the run at its next report)."""
        from assay._run.loop import execute

        if not self.pending or self.interrupted:
            return
        tid, run = self.pending.pop(0)

        def report(step: int, metrics: Mapping[str, float]) -> bool:
            on_report(Message("report", tid, step, dict(metrics)))
            return tid in self.pruned or self.interrupted

        result = execute(run, report, init_state=init_state(run, self.state_dir))
        if not self.interrupted:                   # a stopped run's result is dropped
            self.inbox.put(Message("result", tid, result=result))

    def interrupt(self) -> None:
        self.interrupted = True

    def cancel(self) -> None:
        self.interrupted = True
        self.pending.clear()

    def close(self) -> None:
        self.pending.clear()
