"""Results that open where people look: experiments tagged for MLflow's training view, direct
UI URLs from ``assay ui``, and (pytest -m e2e) headless Chromium landing on the runs table
from the printed URL without a click."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from assay._cli.commands import _ui_target
from assay._record import links
from assay._record.tracking import EXPERIMENT_KIND, Store, Tracker, open_store
from assay.errors import UserError

BIN = Path(sys.executable).parent


def test_new_experiments_open_in_the_training_view(tmp_path):
    store = Store.resolve(str(tmp_path / "runs"))
    tracker = Tracker(store)
    exp_id = tracker.experiment_id("fresh")
    tags = tracker.client.get_experiment(exp_id).tags
    assert tags[EXPERIMENT_KIND] == "custom_model_development"


def test_an_old_experiment_is_tagged_at_the_next_write(tmp_path):
    store = Store.resolve(str(tmp_path / "runs"))
    client = open_store(store)
    old = client.create_experiment("old", artifact_location=f"{store.artifact_root}/old")
    assert EXPERIMENT_KIND not in client.get_experiment(old).tags
    Tracker(store).start_run("old", "a-run", {"assay.kind": "run"})
    assert client.get_experiment(old).tags[EXPERIMENT_KIND] == "custom_model_development"


def test_ui_names_an_experiment_or_a_study(tmp_path):
    store = Store.resolve(str(tmp_path / "runs"))
    tracker = Tracker(store)
    run = tracker.start_run("exp", "sweep-s1", {"assay.kind": "sweep", "assay.study": "s1"})
    exp_id = tracker.experiment_id("exp")
    base = links.ui_base(store)
    assert _ui_target(tracker.client, base, "exp") == \
        f"http://127.0.0.1:5000/#/experiments/{exp_id}/runs?workflowType=machine_learning"
    assert _ui_target(tracker.client, base, "s1") == links.run_url(base, exp_id, run)
    with pytest.raises(UserError, match="no experiment or study named 's2'.*'s1'"):
        _ui_target(tracker.client, base, "s2")


def test_ui_refuses_an_unknown_name_with_exit_2(tmp_path):
    store = tmp_path / "runs"
    Tracker(Store.resolve(str(store))).experiment_id("exp")
    out = subprocess.run([str(BIN / "assay"), "ui", "nope", "--tracking-uri", str(store)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2
    assert "no experiment or study named 'nope'" in out.stderr
    assert "Traceback" not in out.stderr


EXP = {"name": "ui-sweep", "dataset": {"name": "digits"},
       "model": {"name": "mlp", "width": 16, "depth": 1},
       "methods": {"optimizer": {"name": "adamw"}},
       "train": {"steps": 10, "batch_size": 32, "eval_every": 10},
       "sweep": {"trials": 3, "sampler": "random",
                 "space": {"methods.optimizer.lr": {"log_uniform": [1.0e-3, 1.0e-1]}}}}


@pytest.mark.e2e
def test_the_printed_url_lands_on_the_runs_table(tmp_path):
    import socket

    import requests
    import yaml

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("ASSAY_REQUIRE_E2E") == "1":
            pytest.fail("Chromium/ChromeDriver not installed (run .ci/e2e-deps.sh)")
        pytest.skip("Chromium/ChromeDriver not installed (run .ci/e2e-deps.sh)")
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(EXP))
    env = {**os.environ, "ASSAY_HOME": str(tmp_path / "runs")}
    sweep = subprocess.run([str(BIN / "assay"), "sweep", "exp.yaml", "--workers", "0"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
                           check=False)
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    assert "main plot: " in sweep.stdout and "/artifacts/sweep/optimization_history.png" \
        in sweep.stdout
    client = open_store(Store.resolve(str(tmp_path / "runs")))
    exp = client.get_experiment_by_name("ui-sweep")
    runs = client.search_runs([exp.experiment_id], max_results=100)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 3

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ui = subprocess.Popen([str(BIN / "assay"), "ui", "ui-sweep", "--port", str(port)],
                          cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        url = ui.stdout.readline().strip()
        assert url == links.runs_url(f"http://127.0.0.1:{port}", exp.experiment_id)
        end = time.time() + 240
        while time.time() < end:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        parent = next(r.info.run_name for r in runs if "mlflow.parentRunId" not in r.data.tags)
        _see_runs_table(url, ["Run Name", parent, f"{len(runs)} matching runs"], tmp_path)
    finally:
        _stop(ui)


def _see_runs_table(url: str, names: list[str], tmp_path: Path) -> None:
    """Open ``url`` in a fresh profile (so MLflow's workflow switch is at its GenAI default)
    and wait, without a click, for the runs table: the parent run's row (its trials fold
    under it) and the table's count of the sweep's runs."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'chrome'}", "--window-size=1600,1000"):
        opts.add_argument(flag)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        browser.get(url)
        try:
            WebDriverWait(browser, 120).until(
                lambda b: all(n in b.find_element(By.TAG_NAME, "body").text for n in names))
        finally:
            browser.save_screenshot(str(tmp_path / "runs-table.png"))
            (tmp_path / "runs-table.html").write_text(browser.page_source)
        assert "/runs" in browser.current_url
    finally:
        browser.quit()


def _stop(proc: subprocess.Popen) -> None:
    """The UI command and the MLflow server it started: their process group, by its id."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


# --- assay show, and the main plot a law ends with (pytest -m slow) ------------------------------

ROOT = Path(__file__).resolve().parents[1]
SYNTH = str(ROOT / "tests" / "plugins" / "synthetic_law.py")
LR = "methods.trainer.lr"
LAW = {"name": "show-law", "dataset": {"name": "synthetic-regression", "n_train": 8, "n_val": 8,
                                       "dim": 2},
       "model": {"name": "mlp", "width": 16, "depth": 1},
       "methods": {"trainer": {"name": "synthetic-law"}}, "backend": {"name": "cpu"},
       "train": {"steps": 1, "eval_every": 1},
       "sweep": {"trials": 8, "sampler": "tpe", "n_startup_trials": 4,
                 "space": {LR: {"log_uniform": [3e-3, 1.0]}}},
       "law": {"scale": {"model.width": [16, 64, 256]}, "tune": [LR], "seeds": [0],
               "n_boot": 100}}


@pytest.mark.slow
def test_show_a_law_and_its_main_plot(tmp_path, capsys):
    from assay._drive.law import run_law
    from assay._drive.law_report import print_law
    from assay._drive.run import load
    from assay._drive.show import show

    store = Store.resolve(str(tmp_path / "runs"))
    loaded = load(LAW, plugins=[SYNTH])
    result = run_law(loaded, store=store, workers=0, progress=False)
    assert result.fits, result.refused
    capsys.readouterr()
    print_law(result, loaded, store)
    out = capsys.readouterr().out
    plot = out.split("main plot: ", 1)[1].split("\n", 1)[0]
    assert plot.endswith("law/law_lr.png") and Path(plot).is_file()
    assert f"/runs/{result.parent_run_id}/artifacts/law/law_lr.png" in out

    assert show("show-law", store) == 0
    out = capsys.readouterr().out
    fit = result.fits[LR]
    assert "law fits" in out and f"{fit.coef[1]:.3f}" in out
    assert f"[{fit.ci_low[1]:.3f}, {fit.ci_high[1]:.3f}]" in out
    assert "design: every point's search" in out
    assert out.count("ok ") + out.count("CENSORED") >= len(result.points)


@pytest.mark.slow
def test_show_a_sweep_best_trials_and_importances(tmp_path, capsys):
    import assay
    from assay._drive.show import show

    exp = {**LAW, "name": "show-sweep",
           "sweep": {**LAW["sweep"], "trials": 6,
                     "space": {LR: {"log_uniform": [3e-3, 1.0]},
                               "model.width": {"choice": [8, 16, 32]}}}}
    exp.pop("law")
    result = assay.sweep(exp, plugins=[SYNTH], workers=0, tracking_uri=str(tmp_path / "runs"))
    capsys.readouterr()
    assert show("show-sweep", Store.resolve(str(tmp_path / "runs"))) == 0
    out = capsys.readouterr().out
    assert "best trials (val/loss, minimize)" in out
    assert f"{result.best.values[0]:.5g}" in out
    assert "parameter importances (Optuna, fANOVA)" in out
    assert LR in out and "model.width" in out
    with pytest.raises(UserError, match="no sweep or law study named 'nope'.*show-sweep"):
        show("nope", Store.resolve(str(tmp_path / "runs")))
