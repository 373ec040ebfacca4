"""User-facing errors: one clear message, exit code 2, never a traceback."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """Bad input from the user (file, field, value, name). The CLI prints it and exits 2."""

    exit_code = 2


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A hint naming the closest valid choice(s), or '' when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=2, cutoff=0.5)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def unknown_name(kind: str, name: str, choices: Iterable[str], path: str = "") -> UserError:
    choices = sorted(choices)
    where = f"{path}: " if path else ""
    return UserError(
        f"{where}unknown {kind} {name!r}.{did_you_mean(name, choices)}"
        f" Valid {kind}s: {', '.join(choices) or '(none installed)'}"
    )
