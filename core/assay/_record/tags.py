"""What a recorded run says about itself: its tags, and the MLflow status of each outcome."""
from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assay._plugins.registry import Registry
    from assay.spec import RunSpec

# assay's outcome -> MLflow's run status. "reused": a trial served from the run cache, whose
# own child run copies (and links to) the run that trained it.
MLFLOW_STATUS = {"finished": "FINISHED", "pruned": "KILLED", "failed": "FAILED",
                 "preempted": "KILLED", "running": "RUNNING", "reused": "FINISHED"}


@cache
def git_commit(cwd: str = ".") -> str:
    """The commit of the code that ran: the current folder's repository, else (running from
    outside it, e.g. a results folder) the repository assay itself is installed from."""
    for folder in (cwd, str(Path(__file__).resolve().parent.parent)):
        try:
            out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                                 text=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    return ""


@cache
def user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def run_tags(run: RunSpec, reg: Registry, extra: Mapping[str, str] = {}) -> dict[str, str]:
    from assay._version import __version__

    return {"assay.run_key": run.key, "assay.version": __version__,
            "assay.versions": json.dumps(run.versions, sort_keys=True),
            "assay.papers": ",".join(run.paper_ids(reg)), "assay.status": "running",
            "assay.seed": str(run.seed), **extra}


def reuse_tags(run_id: str, experiment_id: str) -> dict[str, str]:
    """Tags of a child run that stands for a trial served from the run cache: the original
    run's id, and a note with a link to it that the MLflow UI renders."""
    return {"assay.reused_from": run_id,
            "mlflow.note.content": (
                "Served from the run cache: this configuration was trained before, in "
                f"[run {run_id}](#/experiments/{experiment_id}/runs/{run_id}). This run copies "
                "its parameters and final metrics.")}
