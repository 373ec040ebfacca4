"""``assay plugins``: the installed plugins, their components, papers and claims.

Printed as plain lines, styled with ANSI codes only on a terminal, without rich: importing
rich costs ~30 ms, more than answering from the plugin cache does, and this command is run
often enough for that to show (issue 16: within 2x of ``python -c "import pluggy"``). The
lines and their order are the ones the rich version printed; long lines are not wrapped, so
a pipe or a narrow terminal gets whole names either way.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

_CODES = {"bold": "1", "dim": "2", "red": "31", "yellow": "33", "cyan": "36", "bold red": "1;31"}


def _color() -> bool:
    """As rich decides: a terminal that is not dumb, unless NO_COLOR; FORCE_COLOR forces it."""
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()


def _styled(text: str, style: str, color: bool) -> str:
    return f"\x1b[{_CODES[style]}m{text}\x1b[0m" if color and style else text


def lines(found: dict, color: bool = False) -> list[str]:
    """What ``assay plugins`` prints for a registry summary (``assay._plugins.cache``)."""
    out = [_styled(f"warning: plugin {name!r} is broken and was skipped: {err}", "yellow",
                   color) for name, err in found["broken"].items()]
    for plugin in found["plugins"]:
        head = _styled(plugin["name"], "bold", color) + f" {plugin['version']}"
        if plugin["source"] not in ("builtin", "entry-point"):
            head += _styled(f"  ({plugin['source']})", "dim", color)
        out.append(head)
        out += [_styled(f"  paper: {paper}", "cyan", color) for paper in plugin["papers"]]
        for kind in ("dataset", "model", "method", "backend"):
            comps = plugin["components"].get(kind, [])
            if comps:
                label = ", ".join(c + (f" ({slot})" if kind == "method" else "")
                                  for c, slot in comps)
                out.append(f"  {kind}s: {label}")
        if plugin["claims"]:
            out.append(f"  claims: {', '.join(plugin['claims'])}")
    out += [_styled(name, "bold red", color) + _styled(f" BROKEN: {err}", "red", color)
            for name, err in found["broken"].items()]
    return out


def cmd_plugins(args: argparse.Namespace) -> int:
    """From the plugin cache (assay._plugins.cache): no plugin, torch or MLflow import when
    nothing installed changed."""
    from assay._plugins.cache import summary
    from assay._plugins.sources import absolute_source

    found = summary(tuple(absolute_source(p, Path(".")) for p in args.plugin))
    sys.stdout.write("".join(line + "\n" for line in lines(found, _color())))
    return 0
