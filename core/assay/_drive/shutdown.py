"""SIGTERM and SIGINT: stop cleanly instead of dying with runs left RUNNING.

A driver installs ``StopSignals`` around its loop: the first signal only sets a flag (the
loop stops asking, marks its running trials preempted, ends its parent run KILLED and raises
``Interrupted``); a second signal raises at once. ``assay run`` uses ``raise_now=True``:
the signal raises in the training loop and the run is recorded as preempted (KILLED).
Handlers are installed only in the main thread (Python allows no other) and restored after.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A signal stopped the program cleanly; the CLI exits with 128 + the signal number."""

    def __init__(self, signum: int, result: Any = None) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum, self.result = signum, result

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopSignals:
    """Context manager: SIGINT/SIGTERM set ``signal`` (the first) or raise (a second one, or
    every one with ``raise_now``). ``on_signal`` runs inside the handler: it may only set
    flags."""

    def __init__(self, on_signal: Callable[[], None] | None = None, *,
                 raise_now: bool = False) -> None:
        self.on_signal, self.raise_now = on_signal, raise_now
        self.signal = 0
        self._saved: dict[int, Any] = {}

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name if self.signal else ""

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal or self.raise_now:
            self.signal = self.signal or signum
            raise Interrupted(signum)
        self.signal = signum
        if self.on_signal is not None:
            self.on_signal()

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        self._saved.clear()
