"""``assay run`` of a run that already finished, answered without loading plugins or torch.

The full path reads the experiment, loads every plugin (and torch with them) to validate it
and compute the run key, then asks MLflow whether that key finished: ~3 s to print "already
finished". The key is a function of the command's inputs, so after a run (trained or reused)
``remember`` writes, in the user's cache folder, what the full path resolved (run key, the
header line's fields, broken plugins) under a hash of those inputs: the experiment file's
bytes and path, the overrides, ``--plugin``, the working folder, every ``ASSAY_*`` and
``MLFLOW_*`` variable and ``assay.toml``. The record also holds what the plugin cache
watches (installed distributions; mtimes of editable plugin and core files), so an edit or
an install makes it stale, as it changes the key.

``lookup`` gives what the full path would print when the record is valid and the store still
has the finished run (read with sqlite alone for the embedded store); otherwise None, and
the full path runs. ``--rerun`` and ``ASSAY_NO_CACHE=1`` skip it.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from assay._plugins import cache

FORMAT = 1


def _record_path(args: Any) -> Path | None:
    exp = Path(args.experiment)
    try:
        body = exp.read_bytes()
        toml = Path("assay.toml").read_bytes() if Path("assay.toml").is_file() else b""
    except OSError:
        return None
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(("ASSAY_", "MLFLOW_")))
    parts = [str(FORMAT), sys.executable, str(exp.resolve()), hashlib.sha256(body).hexdigest(),
             repr(list(args.override)), repr(list(args.plugin)), str(args.tracking_uri),
             os.getcwd(), repr(env), hashlib.sha256(toml).hexdigest()]
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]
    return cache.cache_dir() / "runs" / f"{digest}.json"


def lookup(args: Any) -> dict[str, Any] | None:
    """What the full path would say of this ``assay run`` when it is a finished run: the
    record's fields plus ``run_id``, ``metrics`` and ``store``; else None (the full path
    must run)."""
    if args.rerun or os.environ.get(cache.NO_CACHE_ENV):
        return None
    path = _record_path(args)
    try:
        data = json.loads(path.read_text()) if path else None
        if not data or data.get("format") != FORMAT or not cache.unchanged(data):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    from assay._record.store import Store

    store = Store.resolve(args.tracking_uri)
    done = _finished(store, data["key"])
    if done is None:
        return None
    return {**data, "run_id": done["run_id"], "metrics": done["metrics"], "store": store}


def _finished(store: Any, key: str) -> dict[str, Any] | None:
    if store.is_sqlite:
        from assay._record.index import finished_run_sql

        return finished_run_sql(store.tracking_uri.removeprefix("sqlite:///"), key)
    from assay._record.tracking import Tracker

    try:
        return Tracker(store).finished_keys([key]).get(key)
    except Exception:  # noqa: BLE001 - a server that does not answer: the full path says so
        return None


def remember(args: Any, loaded: Any) -> None:
    """Write what the full path resolved for these inputs (see the module doc)."""
    if os.environ.get(cache.NO_CACHE_ENV):
        return
    path = _record_path(args)
    if path is None:
        return
    run = loaded.run
    cache.write(path, {"format": FORMAT, "distributions": cache.distributions(),
                       "watch": cache.watch(loaded.registry), "key": run.key,
                       "model": run.model["name"], "dataset": run.dataset["name"],
                       "steps": run.train.steps, "broken": dict(loaded.registry.broken)})
