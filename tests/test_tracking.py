"""The bulk MLflow write path writes exactly what MLflow's own client writes.

Both paths run against a real sqlite store; the runs are read back with MlflowClient."""
from __future__ import annotations

import logging

import pytest
from assay._record.tracking import Create, Handle, Record, Store, Tracker
from assay._run.loop import RunResult

RESULTS = [
    RunResult("k-finished", "finished", metrics={"val/loss": 0.25, "train/loss": 0.5,
                                                 "cost/wall_s": 1.5},
              history=[(10, {"val/loss": 0.5, "train/loss": 0.9}),
                       (20, {"val/loss": 0.25, "train/loss": 0.5})]),
    RunResult("k-pruned", "pruned", metrics={"val/loss": 2.0}, history=[(5, {"val/loss": 2.0})]),
    RunResult("k-failed", "failed", metrics={"val/loss": float("nan")},
              history=[(1, {"val/loss": 1.0}), (2, {"val/loss": float("inf")})],
              error="loss is nan at step 2", traceback="Traceback: boom"),
]
TAGS = {"assay.run_key": "k", "assay.status": "running", "assay.trial": "3"}
PARAMS = {"model.width": "64", "methods.optimizer.lr": "0.001"}
VOLATILE = {"mlflow.source.git.commit", "mlflow.parentRunId"}


def _snapshot(tracker: Tracker, run_id: str) -> dict:
    c = tracker.client
    run = c.get_run(run_id)
    hist = {k: sorted((m.step, m.value) for m in c.get_metric_history(run_id, k))
            for k in run.data.metrics}
    return {"status": run.info.status, "name": run.info.run_name,
            "tags": {k: v for k, v in run.data.tags.items() if k not in VOLATILE},
            "params": run.data.params, "metrics": run.data.metrics, "history": hist,
            "ended": run.info.end_time is not None and run.info.end_time >= run.info.start_time,
            "artifacts": sorted(f.path for f in c.list_artifacts(run_id)),
            "parent": run.data.tags.get("mlflow.parentRunId"),
            "uri_ok": run.info.artifact_uri.endswith(f"{run_id}/artifacts")}


def _write(tracker: Tracker, parent: str, same_batch: bool) -> list[str]:
    handles = [Handle() for _ in RESULTS]
    creates = [Create(h, "exp", f"trial-{i}", TAGS, {}, parent) for i, h in enumerate(handles)]
    records = [Record(h, r, PARAMS) for h, r in zip(handles, RESULTS)]
    if same_batch:
        tracker.apply([*creates, *records])
    else:
        tracker.apply(creates)
        for rec in records:
            tracker.apply([rec])
    return [h.run_id for h in handles]


@pytest.mark.parametrize("same_batch", [True, False])
def test_bulk_path_matches_mlflow_client(tmp_path, same_batch):
    bulk = Tracker(Store.resolve(root=tmp_path / "bulk"))
    plain = Tracker(Store.resolve(root=tmp_path / "plain"))
    assert bulk._sql is not None
    plain._sql = None                                  # MLflow's public client calls
    got = []
    for tracker in (bulk, plain):
        parent = tracker.start_run("exp", "parent", {"assay.kind": "sweep"})
        ids = _write(tracker, parent, same_batch)
        got.append([_snapshot(tracker, i) for i in ids])
        children = tracker.client.search_runs(
            [tracker.experiment_id("exp")], f"tags.`mlflow.parentRunId` = '{parent}'")
        assert sorted(r.info.run_id for r in children) == sorted(ids)
        assert all(s["parent"] == parent for s in got[-1])
    for b, p in zip(*got):
        p.pop("parent"), b.pop("parent")
        assert b == p
    finished, pruned, failed = got[0]
    assert finished["status"] == "FINISHED" and finished["metrics"]["val/loss"] == 0.25
    assert finished["history"]["val/loss"] == [(10, 0.5), (20, 0.25)]
    assert pruned["status"] == "KILLED" and failed["status"] == "FAILED"
    assert failed["tags"]["assay.error"] == "loss is nan at step 2"
    assert failed["artifacts"] == ["traceback.txt"] and "val/loss" in failed["metrics"]
    assert finished["tags"]["assay.status"] == "finished"
    cached = bulk.finished_keys()
    assert cached == {"k": {"run_id": cached["k"]["run_id"], "metrics": finished["metrics"],
                            "experiment_id": bulk.experiment_id("exp")}}


def test_bulk_failure_falls_back_once_without_duplicates(tmp_path, caplog):
    tracker = Tracker(Store.resolve(root=tmp_path))

    def broken(ops):
        for op in ops:                              # half-done work, then a failure
            if isinstance(op, Create):
                op.handle.run_id = "not-a-real-run"
        raise RuntimeError("schema this code does not know")

    tracker._apply_sql = broken
    with caplog.at_level(logging.WARNING, logger="assay"):
        ids = _write(tracker, "", same_batch=True)
        _write(tracker, "", same_batch=True)
    assert sum("bulk MLflow write failed" in r.message for r in caplog.records) == 1
    runs = tracker.client.search_runs([tracker.experiment_id("exp")])
    assert len(runs) == 2 * len(RESULTS)
    assert {tracker.client.get_run(i).info.status for i in ids} == {"FINISHED", "KILLED",
                                                                   "FAILED"}


def test_bulk_path_matches_client_when_a_run_is_recorded_again(tmp_path):
    """A second record of a run (its tags and latest metrics already stored) updates them as
    MLflow's client does: newer step wins, older history stays."""
    got = []
    for name, bulk in (("bulk", True), ("plain", False)):
        tracker = Tracker(Store.resolve(root=tmp_path / name))
        if not bulk:
            tracker._sql = None
        h = Handle()
        tracker.apply([Create(h, "exp", "trial", TAGS, {}, None)])
        tracker.apply([Record(h, RESULTS[1])])            # pruned at step 5
        tracker.apply([Record(Handle(h.run_id), RESULTS[0])])   # then finished at step 20
        got.append(_snapshot(tracker, h.run_id))
    assert got[0] == got[1]
    assert got[0]["status"] == "FINISHED" and got[0]["metrics"]["val/loss"] == 0.25
    assert got[0]["history"]["val/loss"] == [(5, 2.0), (10, 0.5), (20, 0.25)]
