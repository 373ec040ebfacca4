"""The bad-input corpus: every input a hostile or careless user might give is refused before
any work starts, by the real CLI in its own process, with exit 2 and one message naming the
problem, no traceback, nothing trained and nothing written.

Speed: one runner process imports assay and its plugins (torch) once, then forks a child per
case that calls the CLI's ``main`` with the case's argv, folder and environment (the console
script ``assay`` is exactly ``sys.exit(main())``). A few cases also go through the installed
``assay`` script itself.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ASSAY = Path(sys.executable).with_name("assay")

BASE: dict[str, Any] = {
    "name": "bad-input",
    "dataset": {"name": "digits"},
    "model": {"name": "mlp", "width": 16, "depth": 1},
    "methods": {"optimizer": {"name": "adamw", "lr": 1.0e-3}},
    "backend": {"name": "cpu"},
    "train": {"steps": 4, "batch_size": 16, "eval_every": 2, "seed": 0},
    "sweep": {"trials": 2, "space": {"methods.optimizer.lr": {"log_uniform": [1.0e-4, 1.0e-2]}}},
}
LAW = {"scale": {"model.width": [16, 32, 48]}, "tune": ["methods.optimizer.lr"], "trials": 5}


def exp(**patch: Any) -> str:
    """The base experiment as YAML, with dotted paths set (None removes a field)."""
    data = json.loads(json.dumps(BASE))
    for dotted, value in patch.items():
        *parents, leaf = dotted.split("__")
        node = data
        for p in parents:
            node = node.setdefault(p, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return yaml.safe_dump(data, sort_keys=False)


def bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\nname: boom\n"


BROKEN_PLUGIN = "raise RuntimeError('this plugin cannot load')\n"
E = "exp.yaml"

# (id, files in the case's folder, argv, environment additions, texts the message must hold)
CASES: list[tuple[str, dict[str, str | bytes], list[str], dict[str, str], list[str]]] = [
    # --- the experiment file ---
    ("missing-file", {}, ["run", "nope.yaml"], {}, ["not found", "nope.yaml"]),
    ("misspelled-file", {E: exp()}, ["run", "exp.yml"], {},
     ["not found", "Did you mean 'exp.yaml'"]),
    ("folder-as-experiment", {"sub/a.yaml": exp()}, ["run", "sub"], {},
     ["sub is a folder", "a.yaml"]),
    ("empty-file", {E: ""}, ["run", E], {}, ["exp.yaml", "empty"]),
    ("comments-only", {E: "# nothing here\n"}, ["run", E], {}, ["empty"]),
    ("empty-mapping", {E: "{}\n"}, ["run", E], {}, ["empty"]),
    ("not-utf8", {E: b"name: x\ntrain: {steps: \xff}\n"}, ["run", E], {},
     ["not UTF-8", "0xff", "line 2"]),
    ("utf16", {E: exp().encode("utf-16")}, ["run", E], {}, ["not UTF-8"]),
    ("deep-nesting", {E: "a: " + "[" * 5000 + "]" * 5000 + "\n"}, ["run", E], {},
     ["nested more than 32 levels"]),
    ("huge-file", {E: exp() + "#" * (1 << 21) + "\n"}, ["run", E], {}, ["at most 1024 KB"]),
    ("alias-bomb", {E: bomb()}, ["run", E], {}, ["expands to more than 100000 values"]),
    ("self-alias", {E: "name: x\nloop: &l [1, *l]\n"}, ["run", E], {}, ["loop", "contains itself"]),
    ("duplicate-key", {E: exp() + "name: again\n"}, ["run", E], {},
     ["duplicate key 'name'", "first at line 1"]),
    ("python-tag", {E: "name: !!python/object/apply:os.system ['echo hacked']\n"},
     ["run", E], {}, ["malformed YAML", "python/object"]),
    ("binary-tag", {E: exp().replace("name: bad-input", "name: !!binary aGVsbG8=")},
     ["run", E], {}, ["name", "binary", "not plain data"]),
    ("set-tag", {E: exp() + "extra: !!set {a, b}\n"}, ["run", E], {}, ["extra", "set"]),
    ("date-value", {E: exp().replace("name: bad-input", "name: 2024-01-01")}, ["run", E], {},
     ["name", "date", "quote it"]),
    ("number-key", {E: exp().replace("  width: 16\n", "  width: 16\n  1: 2\n")}, ["run", E], {},
     ["model.1", "not text"]),
    ("top-level-list", {E: "- name: x\n"}, ["run", E], {}, ["must be a mapping", "list"]),
    ("malformed-yaml", {E: "name: x\nmodel: {name: mlp\n"}, ["run", E], {},
     ["malformed YAML", "line"]),
    ("two-documents", {E: "name: a\n---\nname: b\n"}, ["run", E], {}, ["malformed YAML"]),
    # --- fields: numbers that cannot be meant ---
    ("steps-true", {E: exp(train__steps=True)}, ["run", E], {}, ["train.steps", "true", "boolean"]),
    ("steps-huge-int", {E: exp(train__steps=10**29)}, ["run", E], {},
     ["train.steps", "100000000000000000000000000000", "astronomically large"]),
    ("steps-huge-float", {E: exp().replace("steps: 4", "steps: 1.0e+29")}, ["run", E], {},
     ["train.steps", "1e+29", "astronomically large"]),
    ("steps-above-bound", {E: exp(train__steps=50_000_000)}, ["run", E], {},
     ["train.steps", "less than or equal to 10000000"]),
    ("seed-too-big", {E: exp(train__seed=2**40)}, ["run", E], {}, ["train.seed", "4294967295"]),
    ("lr-inf", {E: exp().replace("lr: 0.001", "lr: .inf")}, ["run", E], {},
     ["methods.optimizer.lr", ".inf", "not a finite number"]),
    ("lr-nan", {E: exp().replace("lr: 0.001", "lr: .nan")}, ["run", E], {},
     ["methods.optimizer.lr", ".nan", "not a finite number"]),
    ("grad-clip-inf", {E: exp(train__grad_clip=float("inf"))}, ["run", E], {},
     ["train.grad_clip", "finite"]),
    ("lr-true", {E: exp().replace("lr: 0.001", "lr: true")}, ["run", E], {},
     ["methods.optimizer.lr", "true", "boolean"]),
    ("width-huge", {E: exp(model__width=10**9)}, ["run", E], {},
     ["model.width", "less than or equal to 65536"]),
    ("sweep-bound-inf",
     {E: exp(sweep__space={"methods.optimizer.lr": {"log_uniform": [1e-4, float("inf")]}})},
     ["sweep", E], {}, ["sweep.space.methods.optimizer.lr.log_uniform[1]", ".inf"]),
    ("law-scale-nan", {E: exp(law={**LAW, "scale": {"model.width": [16, 32, float("nan")]}})},
     ["law", E], {}, ["law.scale.model.width[2]", ".nan"]),
    ("unknown-component", {E: exp(methods__optimizer__name="adamv")}, ["run", E], {},
     ["methods.optimizer.name", "Did you mean 'adamw'"]),
    # --- names used as file names ---
    ("name-escapes-store", {E: exp(name="../../../x")}, ["sweep", E, "--workers", "0"], {},
     ["name", "../../../x", "'/'"]),
    ("name-with-quote", {E: exp(name="it's")}, ["run", E], {}, ["name", "\"'\""]),
    ("study-escapes-store", {E: exp()}, ["sweep", E, "--study", "../x"], {},
     ["--study '../x'", "'/'"]),
    ("study-hidden", {E: exp()}, ["sweep", E, "--study", ".x"], {},
     ["--study '.x'", "start with a letter or digit"]),
    # --- the sweep block, against the resolved experiment ---
    ("space-path-missing",
     {E: exp(sweep__space={"methods.optimizer.learning_rate": {"log_uniform": [1e-4, 1e-2]}})},
     ["sweep", E], {}, ["methods.optimizer.learning_rate", "Did you mean 'methods.optimizer.lr'"]),
    ("space-path-typo", {E: exp(sweep__space={"model.widht": {"choice": [16, 32]}})},
     ["sweep", E], {}, ["model.widht", "Did you mean 'model.width'"]),
    ("space-bound-refused", {E: exp(sweep__space={"model.width": {"int": [0, 64]}})},
     ["sweep", E], {}, ["model.width", "can take 0", "greater than or equal to 1"]),
    ("space-choice-refused",
     {E: exp(sweep__space={"methods.optimizer.name": {"choice": ["adamw", "adamv"]}})},
     ["sweep", E], {}, ["methods.optimizer.name", "'adamv'"]),
    ("space-choice-mapping", {E: exp(sweep__space={"model.width": {"choice": [{"a": 1}]}})},
     ["sweep", E], {}, ["sweep.space.model.width", "choice values are text"]),
    ("space-empty", {E: exp(sweep__space={})}, ["sweep", E], {}, ["sweep.space is empty"]),
    ("no-sweep-block", {E: exp(sweep=None)}, ["sweep", E], {}, ["no sweep: block"]),
    ("sweep-trials-true", {E: exp(sweep__trials=True)}, ["sweep", E], {},
     ["sweep.trials", "boolean"]),
    ("sweep-trials-zero", {E: exp(sweep__trials=0)}, ["sweep", E], {},
     ["sweep.trials", "greater than or equal to 1"]),
    ("sweep-seed-huge", {E: exp(sweep__seed=2**40)}, ["sweep", E], {}, ["sweep.seed"]),
    # --- the law block ---
    ("law-tune-not-in-space", {E: exp(law={**LAW, "tune": ["methods.optimizer.learning_rate"]})},
     ["law", E], {}, ["law.tune", "methods.optimizer.learning_rate", "sweep.space"]),
    ("law-scale-path-missing", {E: exp(law={**LAW, "scale": {"model.widht": [16, 32, 48]}})},
     ["law", E], {}, ["law.scale", "model.widht", "Did you mean 'model.width'"]),
    ("law-scale-refused", {E: exp(law={**LAW, "scale": {"model.width": [0, 16, 32]}})},
     ["law", E], {}, ["law.scale", "model.width", "can take 0"]),
    # --- flags ---
    ("trials-negative", {E: exp()}, ["sweep", E, "--trials", "-1"], {}, ["--trials -1", "from 1"]),
    ("trials-zero", {E: exp()}, ["sweep", E, "--trials", "0"], {}, ["--trials 0", "from 1"]),
    ("timeout-negative", {E: exp()}, ["sweep", E, "--timeout", "-5"], {},
     ["--timeout -5", "above 0"]),
    ("timeout-nan", {E: exp()}, ["sweep", E, "--timeout", "nan"], {}, ["--timeout nan"]),
    ("workers-negative", {E: exp()}, ["sweep", E, "--workers", "-3"], {},
     ["--workers -3", "give 0"]),
    ("workers-too-many", {E: exp()}, ["sweep", E, "--workers", "999"], {},
     ["--workers 999", "--force"]),
    ("workers-too-many-law", {E: exp(law=LAW)}, ["law", E, "--workers", "999"], {},
     ["--workers 999", "--force"]),
    ("workers-from-env", {E: exp()}, ["sweep", E], {"ASSAY_WORKERS": "999"},
     ["ASSAY_WORKERS=999", "--force"]),
    ("workers-from-toml", {E: exp(), "assay.toml": "workers = -3\n"}, ["sweep", E], {},
     ["workers = -3 in", "assay.toml"]),
    ("verify-seeds-zero", {}, ["verify", "lion", "--seeds", "0", "--budget", "smoke"], {},
     ["--seeds 0"]),
    ("verify-workers-negative", {}, ["verify", "lion", "--workers", "-1"], {}, ["--workers -1"]),
    ("ui-port", {}, ["ui", "--port", "70000"], {}, ["--port 70000"]),
    ("plugin-missing-file", {E: exp()}, ["run", E, "--plugin", "missing.py"], {},
     ["--plugin missing.py", "no such file"]),
    ("plugin-missing-module", {E: exp()}, ["run", E, "--plugin", "no_such_plugin_mod"], {},
     ["--plugin 'no_such_plugin_mod'", "no installed module"]),
    ("plugin-broken", {E: exp(), "broken.py": BROKEN_PLUGIN}, ["run", E, "--plugin", "broken.py"],
     {}, ["--plugin broken.py", "failed to load", "this plugin cannot load"]),
    ("plugin-folder", {E: exp(), "pdir/x.txt": "x"}, ["run", E, "--plugin", "pdir"], {},
     ["--plugin pdir", "not a .py file"]),
    ("plugin-listed-missing", {E: exp(plugins=["gone.py"])}, ["run", E], {},
     ["plugins:", "gone.py", "no such file"]),
    ("plugin-env-missing", {E: exp()}, ["run", E], {"ASSAY_PLUGINS": "nowhere_mod"},
     ["ASSAY_PLUGINS 'nowhere_mod'"]),
    ("plugin-verify-missing", {}, ["verify", "lion", "--plugin", "missing.py"], {},
     ["--plugin missing.py"]),
    ("override-empty-path", {E: exp()}, ["run", E, "-o", "=3"], {}, ["'=3'", "nothing before '='"]),
    ("override-no-equals", {E: exp()}, ["run", E, "-o", "train.steps"], {}, ["path=value"]),
    ("override-bad-path", {E: exp()}, ["run", E, "-o", "train..steps=3"], {},
     ["'train..steps'", "not a dotted path"]),
    ("override-inf", {E: exp()}, ["run", E, "-o", "methods.optimizer.lr=.inf"], {},
     ["methods.optimizer.lr", ".inf"]),
    ("override-unknown-field", {E: exp()}, ["run", E, "-o", "model.widht=3"], {},
     ["model.widht: unknown field"]),
    ("override-alias-bomb", {E: exp()}, ["run", E, "-o", "x=" + bomb()], {},
     ["expands to more than"]),
    ("tracking-uri-bogus", {E: exp()}, ["run", E, "--tracking-uri", "bogus://nowhere"], {},
     ["--tracking-uri bogus://nowhere", "'bogus'"]),
    ("tracking-uri-env", {E: exp()}, ["run", E], {"MLFLOW_TRACKING_URI": "bogus://nowhere"},
     ["MLFLOW_TRACKING_URI=bogus://nowhere"]),
    ("tracking-uri-down", {E: exp()}, ["run", E, "--tracking-uri", "http://127.0.0.1:1"], {},
     ["--tracking-uri http://127.0.0.1:1", "does not answer"]),
    ("tracking-uri-no-folder", {E: exp()},
     ["run", E, "--tracking-uri", "sqlite:///no/such/dir/m.db"], {},
     ["sqlite:///no/such/dir/m.db", "does not exist"]),
    ("storage-bogus", {E: exp()}, ["sweep", E, "--study-storage", "bogus://x"], {},
     ["--study-storage bogus://x", "unknown database"]),
    ("storage-not-url", {E: exp()}, ["sweep", E, "--study-storage", "mystudies"], {},
     ["--study-storage mystudies", "not a database URL"]),
    ("storage-memory", {E: exp()}, ["sweep", E, "--study-storage", "sqlite://"], {},
     ["in-memory"]),
    ("storage-no-folder", {E: exp()}, ["sweep", E, "--study-storage", "sqlite:///no/dir/s.db"],
     {}, ["does not exist"]),
    ("storage-password-redacted", {E: exp()},
     ["sweep", E, "--study-storage", "postgresql+psycopg2://u:secret@127.0.0.1:1/db"], {},
     ["u:***@127.0.0.1:1", "does not answer"]),
    ("scheduler-bogus", {E: exp()}, ["sweep", E, "--scheduler", "bogus://x"], {},
     ["--scheduler bogus://x", "tcp://HOST:PORT"]),
    ("scheduler-down", {E: exp()}, ["sweep", E, "--scheduler", "tcp://127.0.0.1:1"], {},
     ["--scheduler tcp://127.0.0.1:1", "does not answer"]),
]

RUNNER = r"""
import json, os, sys, time, traceback
from assay._cli.main import main
from assay._plugins.registry import registry
import sqlalchemy.engine           # noqa: F401 - for the URL checks
registry(())                       # import the plugins (and torch) once; cases fork from here
print("ready", flush=True)
for line in sys.stdin:
    case = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.chdir(case["cwd"])
        os.environ.clear()
        os.environ.update(case["env"])
        for fd, name in ((1, "out"), (2, "err")):
            os.dup2(os.open(case[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        sys.stdout, sys.stderr = open(1, "w", closefd=False), open(2, "w", closefd=False)
        try:
            if case["check_only"]:             # the checks alone, for input that passes them
                from assay._cli import preflight
                from assay._cli.main import parser
                from assay._experiment import settings
                args = parser().parse_args(case["argv"])
                preflight.check(args, settings.apply(args))
                code = 0
            else:
                code = main(case["argv"])
        except SystemExit as exc:               # argparse: exit 2 with its usage line
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush(); sys.stderr.flush()
        os._exit(code or 0)
    deadline = time.monotonic() + 120
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if done[0] == 0:
        os.kill(pid, 9); os.waitpid(pid, 0)
        code = "timeout"
    else:
        code = os.waitstatus_to_exitcode(done[1])
    print(json.dumps(code), flush=True)
"""


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ASSAY_", "MLFLOW_")) or k == "ASSAY_DISABLE_PLUGIN_AUTOLOAD"}
    return {**env, **extra}


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    proc = subprocess.Popen([sys.executable, "-c", RUNNER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=_env({}), cwd=ROOT)
    assert proc.stdout.readline().strip() == "ready"
    logs = tmp_path_factory.mktemp("logs")

    def run(argv: list[str], cwd: Path, env: dict[str, str],
            check_only: bool = False) -> tuple[Any, str, str]:
        out, err = logs / f"{cwd.name}.out", logs / f"{cwd.name}.err"
        case = {"argv": argv, "cwd": str(cwd), "env": _env(env), "out": str(out),
                "err": str(err), "check_only": check_only}
        proc.stdin.write(json.dumps(case) + "\n")
        proc.stdin.flush()
        code = json.loads(proc.stdout.readline())
        return code, out.read_text(), err.read_text()

    yield run
    proc.stdin.close()
    proc.wait(timeout=30)


def _write(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder with its size and modification time (bytecode caches aside:
    importing a plugin file, which the checks must do, writes one)."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if "__pycache__" not in p.parts}


def _assert_refused(code: Any, out: str, err: str, expect: list[str], before: dict,
                    folder: Path) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, f"exit {code}\nstdout: {out}\nstderr: {err}"
    assert "Traceback" not in err + out
    assert len(lines) == 1 and lines[0].startswith("error: "), f"not one message: {err!r}"
    for text in expect:
        assert text in lines[0], f"{text!r} not in: {lines[0]}"
    assert not (folder / "assay-runs").exists(), "a store was created: work started"
    assert _tree(folder) == before, "files were written"


@pytest.mark.parametrize("files,argv,env,expect", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_work(runner, tmp_path, files, argv, env, expect):
    _write(tmp_path, files)
    before = _tree(tmp_path)
    code, out, err = runner(argv, tmp_path, env)
    _assert_refused(code, out, err, expect, before, tmp_path)


def test_corpus_is_large_and_covers_every_command():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)
    assert {c[2][0] for c in CASES} >= {"run", "sweep", "law", "verify", "ui"}


@pytest.mark.parametrize("case_id", [
    "deep-nesting", "tracking-uri-bogus", "trials-negative",
    pytest.param("space-path-missing", marks=pytest.mark.slow),   # loads torch: ~3-10 s
])
def test_installed_script_refuses_too(tmp_path, case_id):
    """The same refusals through the installed ``assay`` script, as a user runs it."""
    _, files, argv, env, expect = next(c for c in CASES if c[0] == case_id)
    _write(tmp_path, files)
    before = _tree(tmp_path)
    proc = subprocess.run([str(ASSAY), *argv], cwd=tmp_path, env=_env(env), text=True, check=False,
                          capture_output=True, timeout=300)
    _assert_refused(proc.returncode, proc.stdout, proc.stderr, expect, before, tmp_path)


@pytest.mark.parametrize("argv", [
    ["run", E, "-o", "methods.optimizer.lr=3e-3", "-o", "name=my run (v2)"],
    ["sweep", E, "--trials", "3", "--timeout", "60", "--workers", "2", "--study", "a study.v2"],
    ["sweep", E, "--workers", "999", "--force"],
    ["sweep", E, "--study-storage", "sqlite:///s.db", "--tracking-uri", "sqlite:///m.db"],
    ["law", E, "--workers", "0"],
], ids=["run", "sweep", "force", "storages", "law"])
def test_good_input_passes_every_check(runner, tmp_path, argv):
    """The checks refuse what is wrong, not what is unusual: the base experiment with a law
    block (and a holdout point), names with spaces and brackets, every flag set sanely."""
    _write(tmp_path, {E: exp(law={**LAW, "holdout": [{"model.width": 64}]})})
    code, _, err = runner(argv, tmp_path, {}, check_only=True)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [E]     # checked, nothing written
