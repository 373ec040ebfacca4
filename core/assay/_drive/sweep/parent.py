"""The study's MLflow parent run: found again on resume, and closed at the end (FINISHED, or
KILLED when a signal stopped the sweep). Every trial of the study is one child of it."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assay._experiment.resolve import canonical
from assay._record.tracking import Tracker


def open_parent(tracker: Tracker, experiment: str, study: str, journal: str, objective: Any,
                params: Mapping[str, str], extra_tags: Mapping[str, str]) -> str:
    """The study's parent run (RUNNING again if it exists), else a new one."""
    from assay._experiment.settings import redact

    client = tracker.client
    exp_id = tracker.experiment_id(experiment)
    found = client.search_runs([exp_id], f"tags.`assay.study` = '{study}' and "
                               "tags.`assay.kind` = 'sweep'", max_results=1)
    if found:
        run_id = found[0].info.run_id
        client.update_run(run_id, status="RUNNING")
        return str(run_id)
    tags = {"assay.study": study, "assay.kind": "sweep", "assay.journal": redact(str(journal)),
            "assay.objective": canonical(objective.model_dump()), **extra_tags}
    return tracker.start_run(experiment, f"sweep-{study}", tags, params)


def parent_params(flat: Mapping[str, Any], sweep: Any) -> dict[str, str]:
    params = {f"sweep.{k}": v for k, v in flat.items()}
    params.update({"sweep.space": canonical(
        {k: v.model_dump(exclude_none=True) for k, v in sweep.space.items()}),
        "sweep.sampler": sweep.sampler, "sweep.pruner": sweep.pruner,
        "sweep.trials": str(sweep.trials)})
    return params


def children(tracker: Tracker, experiment: str, parent_id: str,
             only_running: bool = False) -> list[Any]:
    """Every child run of the parent (or only the RUNNING ones), all pages."""
    filt = f"tags.`mlflow.parentRunId` = '{parent_id}'"
    if only_running:
        filt += " and attributes.status = 'RUNNING'"
    exp_id = tracker.experiment_id(experiment)
    out: list[Any] = []
    token = None
    while True:
        page = tracker.client.search_runs([exp_id], filt, max_results=1000, page_token=token)
        out += list(page)
        token = page.token
        if not token:
            return out


def close_parent(tracker: Tracker, parent_id: str, best: Any, metrics: list[str],
                 tags: dict[str, str], status: str | None) -> None:
    """Best values as metrics, best params and counts as tags; then the final status (None:
    the parent belongs to a caller, which ends it)."""
    client = tracker.client
    if best is not None:
        for name, v in zip(metrics, best.values):
            client.log_metric(parent_id, f"best/{name}", v)
        for k, v in best.params.items():
            tags[f"best.{k}"] = str(v)
    for k, v in tags.items():
        client.set_tag(parent_id, k, v)
    if status is not None:
        client.set_terminated(parent_id, status)


def finish_parent(tracker: Tracker, parent_id: str, study: Any, metrics: list[str],
                  n_params: int, wall: float, *, plots: bool, stopped: str,
                  owned: bool) -> None:
    """Counts, best values and params, plots (not after a signal: time is short then), and
    the status: FINISHED, or KILLED after a signal; left alone when a caller owns it."""
    from assay._drive.sweep.model import best_trial, study_counts

    trials = study.get_trials(deepcopy=False)
    _, cached = study_counts(trials)
    tags = {"assay.n_trials": str(len(trials)), "assay.n_cached": str(cached),
            "assay.wall_s": f"{wall:.2f}"}
    if stopped:
        tags["assay.stopped"] = stopped
    elif plots:
        from assay._drive.sweep.report import log_parent_artifacts

        log_parent_artifacts(tracker.client, parent_id, study, len(metrics) == 1, n_params)
    status = None if not owned else ("KILLED" if stopped else "FINISHED")
    close_parent(tracker, parent_id, best_trial(study, len(metrics)), metrics, tags, status)
