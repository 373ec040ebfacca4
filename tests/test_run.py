"""One tracked run: what lands in MLflow, reuse by run key, and the UI."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from assay._cli.main import main

ROOT = Path(__file__).resolve().parents[1]
QUICK = str(ROOT / "examples" / "quickstart.yaml")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "assay-runs"))
    return tmp_path / "assay-runs"


def test_run_is_recorded_with_metrics_params_and_tags(home, capsys):
    import mlflow

    code = main(["run", QUICK, "-o", "train.steps=120", "-o", "train.eval_every=20"])
    assert code == 0
    out = capsys.readouterr().out
    assert "recorded in MLflow run" in out
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["quickstart"], output_format="list",
                              tracking_uri=f"sqlite:///{home / 'mlflow.db'}") \
        if "tracking_uri" in mlflow.search_runs.__code__.co_varnames else \
        client.search_runs([client.get_experiment_by_name("quickstart").experiment_id])
    assert len(runs) == 1
    run = runs[0]
    history = client.get_metric_history(run.info.run_id, "val/loss")
    assert len(history) >= 5 and [m.step for m in history][:2] == [20, 40]
    assert run.data.params["methods.optimizer.lr"] == "0.003"
    assert run.data.params["train.steps"] == "120"
    tags = run.data.tags
    assert tags["assay.status"] == "finished" and len(tags["assay.run_key"]) == 16
    assert "lion" not in tags["assay.versions"] and "builtin==" in tags["assay.versions"]
    assert run.info.status == "FINISHED"
    assert run.data.metrics["cost/params"] > 1000 and run.data.metrics["cost/wall_s"] > 0

    # same command again: the finished run key is reused, not trained twice
    assert main(["run", QUICK, "-o", "train.steps=120", "-o", "train.eval_every=20"]) == 0
    assert "already finished" in capsys.readouterr().out
    assert len(client.search_runs([run.info.experiment_id])) == 1


def test_run_with_lion_override(home, capsys):
    code = main(["run", QUICK, "-o", "methods.optimizer.name=lion",
                 "-o", "methods.optimizer.lr=3e-4", "-o", "train.steps=60"])
    assert code == 0
    out = capsys.readouterr().out
    assert "finished" in out


CHAOS = str(ROOT / "tests" / "plugins" / "chaos.py")


@pytest.mark.parametrize("mode,reason", [("nan", "non-finite loss"),
                                         ("raise", "deliberate failure")])
def test_failing_run_is_recorded_with_its_reason(home, capsys, mode, reason):
    import mlflow

    code = main(["run", QUICK, "--plugin", CHAOS, "-o", f"methods.optimizer={{name: chaos, mode: {mode}}}",
                 "-o", "train.steps=30", "-o", "train.eval_every=2"])
    out = capsys.readouterr().out
    assert code == 1 and "failed" in out and reason in out
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("quickstart").experiment_id])
    assert run.info.status == "FAILED" and reason in run.data.tags["assay.error"]
    # evaluations before the failure are kept
    assert len(client.get_metric_history(run.info.run_id, "val/loss")) >= 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ui_answers_http_200_on_localhost(home):
    main(["run", QUICK, "-o", "train.steps=20", "-o", "train.eval_every=10"])
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "assay._cli.main", "ui", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline, status = time.time() + 240, None
        while time.time() < deadline and status != 200:
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).status
            except OSError:
                time.sleep(0.5)
        assert status == 200
        # the REST API sees the run we just made
        body = urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name"
            "?experiment_name=quickstart", timeout=5).read()
        assert b"quickstart" in body
    finally:
        import os
        import signal
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def test_before_step_sees_and_can_change_gradients():
    """The hook runs between backward and the optimizer step: it sees non-zero gradients,
    and gradients it zeroes leave plain SGD's weights untouched."""
    import torch

    from assay._drive.run import load
    from assay._run.loop import _optimizer, build_context, standard_loop
    from assay._plugins.registry import registry

    plugin = str(Path(__file__).parent / "plugins" / "gradhook.py")
    exp = {"name": "hook", "dataset": {"name": "synthetic-classification"},
           "model": {"name": "mlp", "width": 8},
           "methods": {"optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0,
                                     "weight_decay": 0.0},
                       "loss": {"name": "frozen-ce", "freeze_after": 3}},
           "train": {"steps": 6, "eval_every": 6}}
    run = load(exp, {}, plugins=(plugin,)).run
    ctx = build_context(run, lambda step, metrics: False, registry(run.plugins))
    for m in ctx.methods.values():
        m.setup(ctx)
    ctx.optimizer = _optimizer(ctx)
    snapshots = []
    original = ctx.methods["loss"].before_step

    def spy(c, step):
        original(c, step)
        snapshots.append([p.detach().clone() for p in c.model.parameters()])
    ctx.methods["loss"].before_step = spy
    standard_loop(ctx)
    hook = ctx.methods["loss"]
    assert len(hook.norms) == 6 and all(n > 0 for n in hook.norms)
    final = list(ctx.model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(snapshots[3], final))   # frozen from step 4
    assert not all(torch.equal(a, b) for a, b in zip(snapshots[0], snapshots[3]))


def test_digits_read_without_sklearn_match_sklearn():
    """digits_arrays reads scikit-learn's shipped CSV directly (no ~2 s sklearn import in
    every worker); it must give exactly what load_digits gives, and stay read-only."""
    import numpy as np
    from sklearn.datasets import load_digits

    from assay._builtin.datasets import digits_arrays

    images, labels = digits_arrays()
    raw = load_digits()
    assert images.shape == (1797, 8, 8) and labels.dtype == np.int64
    np.testing.assert_array_equal(images, raw.images)
    np.testing.assert_array_equal(labels, raw.target)
    with pytest.raises(ValueError):
        images[0, 0, 0] = 1.0
    code = ("import sys; from assay._builtin.datasets import digits_arrays; digits_arrays(); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
