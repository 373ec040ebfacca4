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
