"""The run cache's index: which run keys finished, in which run, with which metrics."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def finished_keys(client: Any, keys: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """run key -> {run_id, experiment_id, metrics} for every run that trained to its end
    (optionally only ``keys``). Runs that stand for a cached trial say ``reused``, not
    ``finished``: they never answer here."""
    filt = "tags.`assay.status` = 'finished'"
    if keys is not None and len(keys) == 0:
        return {}
    if keys is not None and len(keys) == 1:  # MLflow's filter has no IN for tags
        filt += f" and tags.`assay.run_key` = '{keys[0]}'"
    exp_ids = [e.experiment_id for e in client.search_experiments()]
    out: dict[str, dict[str, Any]] = {}
    token = None
    while exp_ids:
        page = client.search_runs(exp_ids, filt, max_results=1000, page_token=token)
        for r in page:
            if keys is not None and r.data.tags["assay.run_key"] not in keys:
                continue
            out[r.data.tags["assay.run_key"]] = {"run_id": r.info.run_id,
                                                 "experiment_id": r.info.experiment_id,
                                                 "metrics": dict(r.data.metrics)}
        token = page.token
        if not token:
            break
    return out


def finished_run_sql(db: str, key: str) -> dict[str, Any] | None:
    """``finished_keys(client, [key])[key]`` read straight from an embedded sqlite store,
    without importing MLflow (~1 s): for ``assay run`` of a run that already finished. The
    same rows MLflow's search returns: active runs of active experiments tagged finished
    with this key; with several, the oldest, as ``finished_keys`` keeps; metrics are the
    latest values. None when there is none (or the file is not such a store)."""
    import sqlite3
    from pathlib import Path

    if not Path(db).is_file():
        return None
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        row = con.execute(
            "SELECT r.run_uuid, r.experiment_id FROM runs r "
            "JOIN experiments e ON e.experiment_id = r.experiment_id "
            "JOIN tags s ON s.run_uuid = r.run_uuid AND s.key = 'assay.status' "
            "AND s.value = 'finished' "
            "JOIN tags k ON k.run_uuid = r.run_uuid AND k.key = 'assay.run_key' AND k.value = ? "
            "WHERE r.lifecycle_stage = 'active' AND e.lifecycle_stage = 'active' "
            "ORDER BY r.start_time ASC LIMIT 1", (key,)).fetchone()
        if row is None:
            return None
        metrics = {k: float("nan") if nan else float(v) for k, v, nan in con.execute(
            "SELECT key, value, is_nan FROM latest_metrics WHERE run_uuid = ?", (row[0],))}
    except sqlite3.Error:
        return None
    finally:
        con.close()
    return {"run_id": row[0], "experiment_id": str(row[1]), "metrics": metrics}
