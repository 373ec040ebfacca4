"""assay verify: arm overrides, the decision recorded in MLflow and written to CLAIMS.md,
--stale on a real git repository, the thread count in a run's identity, and one real claim
end to end (slow)."""
from __future__ import annotations

import datetime as dt
import json
import math
import re
import subprocess
from pathlib import Path

import pytest
import torch
from assay import load
from assay._cli.main import main
from assay._drive.claims_md import COLUMNS, stale_rows, write_claims_md
from assay._drive.verify import (
    Outcome,
    _Env,
    _run_metrics,
    _study_name,
    arm_overrides,
    select,
    start_parent,
)
from assay._drive.verify_report import NOT_A_RESULT, decision_record, outcome_lines, record
from assay._plugins.registry import registry
from assay._record.tracking import Store, Tracker
from assay.claims import Claim, Verdict, at_least, decide, not_established, trials
from assay.testing import execute

ROOT = Path(__file__).resolve().parents[1]
PROBE = str(ROOT / "tests" / "plugins" / "threads_probe.py")
TINY = {"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 8},
        "train": {"steps": 4, "eval_every": 2, "batch_size": 16}}


# --- arm overrides ------------------------------------------------------------------------

def test_arm_overrides_win_over_the_arm_file_and_the_budget():
    claim = Claim(id="t:o", statement="s", source="src", arms={"a": "a.yaml"}, package="assay",
                  check=lambda m: Verdict("x", [at_least("g", 1, 0)]),
                  arm_overrides={"a": {"train.steps": 7, "model.width": 16, "train.seed": 99}},
                  smoke={"train.steps": 20, "sweep.trials": 2})
    sweep_arm = {"sweep": {"trials": 9}}
    assert arm_overrides(claim, "a", sweep_arm, 3, "full") == {
        "train.steps": 7, "model.width": 16, "train.seed": 3}
    assert arm_overrides(claim, "a", sweep_arm, 3, "smoke") == {
        "train.steps": 7, "model.width": 16, "train.seed": 3, "sweep.trials": 2}
    assert "sweep.trials" not in arm_overrides(claim, "a", {}, 0, "smoke")
    assert arm_overrides(claim, "a", {"pretrain": {"model": {}}}, 0, "smoke")["pretrain.train.steps"] == 20
    assert arm_overrides(claim, "b", {}, 1, "full") == {"train.seed": 1}
    run = load(TINY, arm_overrides(claim, "a", {}, 2, "full")).run
    assert (run.model["width"], run.train.steps, run.seed) == (16, 7, 2)


def test_an_arm_study_is_resumed_only_by_the_same_design():
    """Re-running a claim continues its arms' Optuna studies (their runs are cached); an arm
    whose base run or search space changed gets a new study, never the old trials."""
    from assay.testing import load_yaml

    claim = select(registry(), ["lion:smaller-lr"], False)[0]
    raw = load_yaml(claim.arm_path("lion"))

    def name(exp, **ovr):
        return _study_name(claim, "lion", 0, "smoke", load(exp, {"train.seed": 0, **ovr}))

    assert name(raw) == name(dict(raw))
    assert name(raw).startswith("lion:smaller-lr.lion.seed0.smoke.")
    assert name(raw, **{"backend.threads": 2}) != name(raw)
    assert name(raw, **{"train.seed": 1}) != name(raw)
    narrower = {**raw, "sweep": {**raw["sweep"], "space": {
        "methods.optimizer.lr": {"choice": [1e-3, 1e-2]}}}}
    assert name(narrower) != name(raw)


def test_a_diverged_run_arm_reaches_the_check_as_nan(tmp_path):
    """A run arm whose loss became non-finite gives NaN metrics, not the last finite numbers
    before it, so the claim cannot average a diverged baseline: its effect is INVALID."""
    store = Store.resolve(root=tmp_path / "runs")
    claim = min(registry().claims.values(), key=lambda c: c.id)
    env = _Env(store, start_parent(Tracker(store), claim, "smoke"), registry())
    diverging = {**TINY, "methods": {"optimizer": {"name": "sgd", "lr": 1e12}}}
    m = _run_metrics("base", 0, env, load(diverging))
    assert math.isnan(m["base/val/loss"]) and math.isnan(m["base/val/acc"])
    assert m["base/cost/params"] > 0                      # what it cost is still known
    gain = [Verdict("x", [at_least("acc_gain", 0.9 - m["base/val/acc"], 0.0)])] * 2
    assert decide(gain).status == "INVALID"


# --- the decision in MLflow and in CLAIMS.md ----------------------------------------------

def _record(tracker: Tracker, claim: Claim, budget: str, verdicts: list[Verdict],
            commit: str) -> Outcome:
    """Record a decision on a claim's parent run exactly as ``run_claim`` does."""
    o = Outcome(claim, budget, "ERROR", run_id=start_parent(tracker, claim, budget),
                commit=commit, seed_verdicts=verdicts)
    o.decision = claim.decide(verdicts)
    o.status = o.decision.status
    record(tracker, o)
    return o


def _gain(*values: float, guard=None) -> list[Verdict]:
    return [Verdict(f"gain {v}", [at_least("gain", v, 1.0)], numbers={"raw": 2 * v},
                    guard=guard if s == 1 else None) for s, v in enumerate(values)]


def test_the_decision_is_recorded_on_the_parent_run(tmp_path):
    store = Store.resolve(root=tmp_path / "runs")
    tracker = Tracker(store)
    claim = min(registry().claims.values(), key=lambda c: c.id)
    o = _record(tracker, claim, "full", _gain(0.5, 1.5, 1.2), "c" * 40)
    run = tracker.client.get_run(o.run_id)
    tags, metrics = run.data.tags, run.data.metrics
    assert run.info.status == "FINISHED"
    assert tags["assay.verdict"] == "INCONCLUSIVE" and tags["assay.seeds"] == "3"
    assert json.loads(tags["assay.decision"]) == decision_record(o)
    assert tags["assay.commit"] == "c" * 40 and "assay.note" not in tags
    e = o.decision.effects[0]
    assert metrics["effect/gain/mean"] == pytest.approx(e.mean)
    assert (metrics["effect/gain/lo"], metrics["effect/gain/hi"]) == pytest.approx(e.interval)
    history = tracker.client.get_metric_history(o.run_id, "effect/gain")
    assert sorted((m.step, m.value) for m in history) == [(0, 0.5), (1, 1.5), (2, 1.2)]
    raw = tracker.client.get_metric_history(o.run_id, "number/raw")
    assert sorted((m.step, m.value) for m in raw) == [(0, 1.0), (1, 3.0), (2, 2.4)]
    lines = outcome_lines(o)
    assert lines[0].startswith(f"{claim.id}: INCONCLUSIVE, 3 seeds")
    assert lines[1].strip().startswith(f"gain = {e.mean:.4g} [") and "leans toward" in lines[1]
    smoke = _record(tracker, claim, "smoke", _gain(3.0), "c" * 40)
    assert tracker.client.get_run(smoke.run_id).data.tags["assay.note"] == NOT_A_RESULT
    assert NOT_A_RESULT in outcome_lines(smoke)[0]


def test_claims_md_rows_carry_effects_seeds_and_commit(tmp_path, capsys):
    store = Store.resolve(root=tmp_path / "runs")
    tracker = Tracker(store)
    reg = registry()
    a, b, c = sorted(reg.claims.values(), key=lambda c: c.id)[:3]
    sha = "0123456789abcdef0123456789abcdef01234567"
    _record(tracker, a, "full", _gain(0.5, 1.5, 1.2), sha)
    _record(tracker, a, "smoke", _gain(9.0, 9.1), sha)          # newer, but not a result
    _record(tracker, b, "full", _gain(3.0, 3.1, 2.9, guard=not_established("lr at edge")), sha)
    _record(tracker, c, "full", _gain(3.0, 3.1, 2.9), "")        # no commit: refused
    text = write_claims_md(store, reg, tmp_path / "CLAIMS.md").read_text()
    rows = {m.group(1): line for line in text.splitlines()
            if (m := re.match(r"\| `([^`]+)` \|", line))}
    assert set(rows) == set(reg.claims)
    for line in rows.values():                                  # no empty cell, anywhere
        assert len(re.findall(r"(?<!\\)\|", line)) - 1 == COLUMNS
        assert not re.search(r"(?<!\\)\|\s*\|", line), line
    ra = rows[a.id]
    assert "**INCONCLUSIVE**" in ra and "gain = 1.067 [" in ra and "(paper: >= 1)" in ra
    assert "the mean leans toward the paper" in ra and "gain: 0.5, 1.5, 1.2" in ra
    assert f"| 3 | {dt.date.today().isoformat()} | `{sha}` |" in ra
    rb = rows[b.id]
    assert "**NOT-ESTABLISHED**<br>seed 1: lr at edge" in rb and f"`{sha}`" in rb
    assert "not yet verified" in rows[c.id]
    err = capsys.readouterr().err
    assert c.id in err and "no commit" in err and "refused" in err


# --- --stale ------------------------------------------------------------------------------

def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t",
                           *args], check=True, capture_output=True, text=True).stdout


FILES = ["core/assay/_run/loop.py", "core/assay/claims.py", "core/assay/_drive/verify.py",
         "core/assay/_drive/law.py", "core/assay/_cli/main.py", "plugins/a/pyproject.toml",
         "plugins/a/assay_a/claims.py", "plugins/b/pyproject.toml", "plugins/b/assay_b/claims.py",
         "README.md"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for rel in FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x = 1\n")
    _git(root.parent, "init", "-q", str(root))
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "first")
    return root


def _claims_md(repo: Path, commits: dict[str, str]) -> Path:
    path = repo / "CLAIMS.md"
    rows = [f"| `{cid}` | s | src | **PASS** | g = 2 [1, 3] (paper: >= 1) | g: 2, 2 | 2 | "
            f"2026-01-01 | {cell} |" for cid, cell in commits.items()]
    rows.append("| `c:never` | s | src | not yet verified | `assay verify` | - | - | - | - |")
    path.write_text("\n".join(["# Claims", "", *rows]) + "\n")
    return path


def _stale(repo: Path, path: Path) -> list[str]:
    dirs = {"a:x": repo / "plugins/a", "b:y": repo / "plugins/b"}
    return stale_rows(path, dirs, core=repo / "core/assay")


def test_stale_lists_rows_whose_plugin_or_run_path_changed(repo):
    head = _git(repo, "rev-parse", "HEAD").strip()
    path = _claims_md(repo, {"a:x": f"`{head}`", "b:y": f"`{head[:8]}`"})
    _git(repo, "add", "CLAIMS.md")
    _git(repo, "commit", "-qm", "claims")
    assert _stale(repo, path) == []                       # current: prints nothing
    for rel in ("core/assay/_drive/law.py", "core/assay/_cli/main.py", "README.md"):
        (repo / rel).write_text("x = 2\n")                # outside every run path
    (repo / "plugins/a/README.md").write_text("verdict: PASS\n")     # a plugin's prose and
    (repo / "plugins/a/tests").mkdir()                               # tests cannot change
    (repo / "plugins/a/tests/test_a.py").write_text("x = 2\n")       # its numbers
    assert _stale(repo, path) == []
    (repo / "plugins/a/assay_a/claims.py").write_text("x = 2\n")      # uncommitted
    out = _stale(repo, path)
    assert len(out) == 1 and out[0].startswith("a:x ") and "plugins/a/assay_a/claims.py" in out[0]
    _git(repo, "commit", "-qam", "a changed")             # committed since the row: still stale
    assert [line.split()[0] for line in _stale(repo, path)] == ["a:x"]
    (repo / "plugins/b/assay_b/new.py").write_text("")    # a new, untracked file
    assert [line.split()[0] for line in _stale(repo, path)] == ["a:x", "b:y"]
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "b grew")
    path = _claims_md(repo, {"a:x": f"`{_git(repo, 'rev-parse', 'HEAD').strip()}`",
                             "b:y": f"`{_git(repo, 'rev-parse', 'HEAD').strip()}`"})
    assert _stale(repo, path) == []
    (repo / "core/assay/_run/loop.py").write_text("x = 3\n")           # the core's run path
    out = _stale(repo, path)
    assert [line.split()[0] for line in out] == ["a:x", "b:y"]
    assert all("core/assay/_run/loop.py" in line for line in out)


def test_stale_lists_rows_that_cannot_be_traced(repo):
    head = _git(repo, "rev-parse", "HEAD").strip()
    path = _claims_md(repo, {"a:x": "", "b:y": "`" + "f" * 40 + "`", "gone:z": f"`{head}`"})
    out = dict(line.split("  ", 1) for line in _stale(repo, path))
    assert out == {"a:x": "(no commit recorded)",
                   "b:y": f"(commit {'f' * 12} is not in this repository)",
                   "gone:z": "(claim not installed: its plugin folder is unknown)"}
    path = _claims_md(repo, {"a:x": f"`{head}` + uncommitted changes (plugins/a/x.py)"})
    assert "uncommitted changes" in _stale(repo, path)[0]


def test_verify_stale_command(repo, monkeypatch, capsys):
    """The command: exit 0, one line per stale row (a real claim whose plugin lives outside
    this repository cannot be checked against it, so it is listed); nothing when current."""
    monkeypatch.chdir(repo)
    head = _git(repo, "rev-parse", "HEAD").strip()
    _claims_md(repo, {"lion:smaller-lr": f"`{head}`"})
    assert main(["verify", "--stale"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("lion:smaller-lr  (plugin folder")
    _claims_md(repo, {})
    assert main(["verify", "--stale"]) == 0 and capsys.readouterr().out == ""
    (repo / "CLAIMS.md").unlink()
    assert main(["verify", "--stale"]) == 2


# --- the thread count is part of a run's identity -----------------------------------------

@pytest.mark.parametrize("backend", ["cpu", "auto"])
def test_thread_count_is_part_of_the_run_key(backend):
    one = load({**TINY, "backend": {"name": backend, "threads": 1}}).run
    two = load({**TINY, "backend": {"name": backend, "threads": 2}}).run
    default = load({**TINY, "backend": {"name": backend}}).run
    assert one.backend["threads"] == default.backend["threads"] == 1
    assert one.key == default.key and one.key != two.key


def _probe_run(threads: int):
    exp = {**TINY, "methods": {"optimizer": {"name": "adamw"}, "loss": {"name": "threads-probe"}},
           "backend": {"name": "cpu", "threads": threads}}
    return load(exp, plugins=[PROBE]).run


def test_a_run_trains_with_its_configured_thread_count():
    before = torch.get_num_threads()
    try:
        for threads in (2, 1):
            torch.set_num_threads(3)                      # whatever the process had before
            result = execute(_probe_run(threads))
            assert result.status == "finished", result.error
            m = result.metrics
            assert m["probe/threads_min"] == m["probe/threads_max"] == threads
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_a_dask_run_trains_with_its_configured_thread_count(tmp_path, monkeypatch):
    """A Dask worker has one thread of its own; the run still uses the count it declares."""
    import assay

    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "runs"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    exp = {**TINY, "methods": {"optimizer": {"name": "adamw"}, "loss": {"name": "threads-probe"}},
           "backend": {"name": "cpu", "threads": 2},
           "sweep": {"trials": 2, "sampler": "grid", "pruner": "none",
                     "space": {"methods.optimizer.lr": {"choice": [1e-3, 1e-2]}}}}
    result = assay.sweep(exp, plugins=[PROBE], workers=1, progress=False, plots=False)
    client = Tracker(Store.resolve()).client
    seen = [client.get_run(t.run_id).data.metrics for t in result.trials]
    assert len(seen) == 2
    assert all(m["probe/threads_min"] == m["probe/threads_max"] == 2 for m in seen), seen


# --- one real claim, end to end -----------------------------------------------------------

@pytest.mark.slow
def test_a_real_claim_end_to_end_records_its_decision(tmp_path):
    """lion:smaller-lr at smoke budget, 2 seeds, inline, into a real MLflow store: the check
    sees every metric of every trial, the recorded decision is the one returned, and running
    again from the store's cached runs gives the same decision."""
    from assay._drive.verify import run_claim

    claim = select(registry(), ["lion:smaller-lr"], False)[0]
    store = Store.resolve(root=tmp_path / "runs")
    o = run_claim(claim, "smoke", seeds=2, store=store, workers=0)
    assert o.status != "ERROR", o.error
    assert o.seeds == len(o.per_seed) == 2
    for m in o.per_seed:
        for arm in claim.arms:
            done = trials(m, arm)
            assert done and all({"val/loss", "val/acc", "cost/wall_s",
                                 "methods.optimizer.lr"} <= set(t) for t in done), done
    assert claim.decide([claim.check(m) for m in o.per_seed]) == o.decision
    client = Tracker(store).client
    tags = client.get_run(o.run_id).data.tags
    assert tags["assay.verdict"] == o.status and tags["assay.seeds"] == "2"
    assert tags["assay.note"] == NOT_A_RESULT
    assert json.loads(tags["assay.decision"]) == decision_record(o)
    assert re.fullmatch(r"[0-9a-f]{40}", tags["assay.commit"])
    for e in o.decision.effects:
        history = client.get_metric_history(o.run_id, f"effect/{e.name}")
        assert sorted((h.step, h.value) for h in history) == list(enumerate(e.values))
    again = run_claim(claim, "smoke", seeds=2, store=store, workers=0)
    assert again.decision == o.decision
