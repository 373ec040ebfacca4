"""Plugin sources as given by the user, made usable anywhere (a module with no imports of its
own, so the CLI can use it before deciding whether to load any plugin)."""
from __future__ import annotations

from pathlib import Path


def absolute_source(source: str, base: Path) -> str:
    """A plugin file given relative to ``base`` (or the working folder) as an absolute path,
    as workers need it; a module name unchanged."""
    if source.endswith(".py"):
        p = Path(source)
        p = p if p.is_absolute() or p.exists() else base / p
        return str(p.resolve())
    return source
