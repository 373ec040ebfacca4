"""The executor interface and the one message type executors and the writer send the driver."""
from __future__ import annotations

import queue
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from assay.spec import RunSpec


@dataclass
class Message:
    kind: str                     # report | result | lost | written | note
    tid: int
    step: int = 0
    metrics: Mapping[str, float] | None = None
    result: Any = None            # RunResult for "result"
    error: str = ""               # "lost": why; "note": the line to show


class Executor(Protocol):
    """Where runs execute. Results, reports and notes arrive as Messages in ``inbox``.

    Built by ``assay._dispatch.executor.make_executor`` (inline for ``workers=0``, else Dask).
    ``start`` may be called before the experiment is known (workers boot while the driver
    imports); ``set_warm`` then says what to pre-load, and ``wait_ready`` blocks until runs can
    be submitted.
    """

    inbox: queue.Queue[Message]
    n_slots: int                  # runs that can execute at once
    state_dir: str | None         # where pretrained weights are found

    def start(self) -> None: ...

    def set_warm(self, plugins: tuple[str, ...], run_json: str | None,
                 max_retries: int | None = None) -> None: ...

    def wait_ready(self) -> None: ...

    def rebind(self, inbox: queue.Queue[Message], topic: str) -> None:
        """Serve another driver (one at a time): a new inbox and event topic."""

    def submit(self, tid: int, run: RunSpec, resources: Mapping[str, float] | None = None
               ) -> None: ...

    def prune(self, tid: int) -> None:
        """Stop run ``tid`` at its next report (it ends as pruned)."""

    def work(self, on_report: Callable[[Message], None]) -> None:
        """Lend the driver's thread: the inline executor runs its next pending run here;
        Dask runs elsewhere and uses the call for its cheap housekeeping (lost workers)."""

    def interrupt(self) -> None:
        """Called from a signal handler: set a flag, nothing more. The inline executor stops
        its current run at the next report; Dask waits for ``cancel``."""

    def cancel(self) -> None:
        """Stop every run now; their results are dropped (the driver marks them preempted)."""

    def close(self) -> None: ...
