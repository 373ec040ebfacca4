"""Where a result opens: direct MLflow UI URLs and the local files behind artifacts.

The URL forms are MLflow 3's routes (its hash router, mlflow/server/js ``RoutePaths``):
``#/experiments/<id>/runs`` is the runs table, ``.../runs/<run>`` a run, and
``.../runs/<run>/artifacts/<path>`` an artifact shown in place (the form the UI's own
``Routes.getRunPageRoute(exp, run, path)`` builds). MLflow 3 keeps a
GenAI/machine-learning switch in the browser's localStorage, defaulting to GenAI; the
``workflowType=machine_learning`` query parameter overrides it for the page, so the printed
URL lands on the runs table whatever the browser remembered.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote, urlparse

from assay._record.store import Store

UI_PORT = 5000                              # ``assay ui``'s default port
VIEW = "workflowType=machine_learning"


def ui_base(store: Store, port: int = UI_PORT) -> str:
    """The UI's root: a tracking server serves its own UI; a local store is shown by
    ``assay ui`` on 127.0.0.1."""
    if store.tracking_uri.startswith(("http://", "https://")):
        return store.tracking_uri.rstrip("/")
    return f"http://127.0.0.1:{port}"


def runs_url(base: str, experiment_id: str) -> str:
    return f"{base}/#/experiments/{experiment_id}/runs?{VIEW}"


def run_url(base: str, experiment_id: str, run_id: str) -> str:
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}?{VIEW}"


def artifact_url(base: str, experiment_id: str, run_id: str, path: str) -> str:
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}/artifacts/{quote(path)}"


def artifact_location(client: Any, run_id: str, path: str) -> str:
    """The artifact's file path when the store is local, else its URI."""
    uri = f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{path}"
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def plot_lines(store: Store, client: Any, run_id: str, path: str) -> str:
    """Two lines a sweep or law ends with: the main plot's file, and where it opens."""
    exp_id = client.get_run(run_id).info.experiment_id
    return (f"main plot: {artifact_location(client, run_id, path)}\n"
            f"open it: {artifact_url(ui_base(store), exp_id, run_id, path)} (after: assay ui)")
