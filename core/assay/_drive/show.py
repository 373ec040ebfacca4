"""``assay show STUDY``: what a user checks first about a finished sweep or law, in the
terminal, from what the study left behind (its MLflow parent run, its Optuna study, and a
law's ``law/design.json`` artifact). Nothing is re-run or re-fitted here.

- a sweep: the counts, the best trials, and Optuna's parameter importances (its default
  fANOVA evaluator) over the complete trials;
- a law: every fitted exponent with its 95% interval, R² and lack of fit; the holdout check;
  the design diagnostics (each point's search, its optimum's interval, censoring) and the
  design's warnings.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from assay._record.links import run_url, ui_base
from assay._record.tracking import Store, open_store
from assay.errors import UserError, did_you_mean

console = Console(highlight=False)
TOP = 5


def show(name: str, store: Store, study_storage: str | None = None, top: int = TOP) -> int:
    client = open_store(store)
    run = _parent(client, name)
    info = run.info
    kind = run.data.tags.get("assay.kind", "sweep")
    console.print(Text(f"{kind} ", style="bold") + Text(name, style="bold cyan")
                  + Text(f"  (experiment {client.get_experiment(info.experiment_id).name}, "
                         f"parent run {info.run_id}, {info.status.lower()})"), soft_wrap=True)
    if kind == "law":
        _law(client, info.run_id)
    else:
        _sweep(client, run, name, store, study_storage, top)
    console.print(f"in the UI: {run_url(ui_base(store), info.experiment_id, info.run_id)} "
                  "(after: assay ui)", soft_wrap=True)
    return 0


STUDY_TAGS = {"sweep": "assay.study", "law": "assay.law"}       # kind -> its name tag


def find_parent(client: Any, name: str) -> Any | None:
    """The newest sweep or law parent run of that study name (trials carry the study's tag
    too: the kind tag tells the parent apart), or None."""
    ids = [e.experiment_id for e in client.search_experiments(max_results=1000)]
    safe = name.replace("'", "")
    for kind, tag in STUDY_TAGS.items():
        found = client.search_runs(ids, f"tags.`{tag}` = '{safe}' and tags.`assay.kind` = "
                                   f"'{kind}'", max_results=1,
                                   order_by=["attributes.start_time DESC"])
        if found:
            return found[0]
    return None


def study_names(client: Any) -> list[str]:
    ids = [e.experiment_id for e in client.search_experiments(max_results=1000)]
    return sorted({r.data.tags[tag] for kind, tag in STUDY_TAGS.items()
                   for r in client.search_runs(ids, f"tags.`assay.kind` = '{kind}'",
                                               max_results=1000) if tag in r.data.tags})


def _parent(client: Any, name: str) -> Any:
    found = find_parent(client, name)
    if found is not None:
        return found
    known = study_names(client)
    raise UserError(f"no sweep or law study named {name!r} in {client.tracking_uri}."
                    f"{did_you_mean(name, known)} Studies there: {', '.join(known) or 'none'}")


# --- a sweep ----------------------------------------------------------------------------------

def _sweep(client: Any, run: Any, name: str, store: Store, url: str | None, top: int) -> None:
    from optuna.trial import TrialState

    study = _load_study(run, name, store, url)
    trials = study.get_trials(deepcopy=False)
    states: dict[str, int] = {}
    for t in trials:
        s = t.user_attrs.get("assay_status") or t.state.name.lower()
        states[s] = states.get(s, 0) + 1
    console.print("trials: " + (", ".join(f"{k} {v}" for k, v in sorted(states.items()))
                                or "none"))
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        return
    names = _metric_names(run, len(study.directions))
    runs = _trial_runs(client, run)
    sign = 1 if study.directions[0].name == "MINIMIZE" else -1
    ranked = sorted(complete, key=lambda t: sign * t.values[0])
    table = Table(title=f"best trials ({names[0]}, {study.directions[0].name.lower()})",
                  box=box.SIMPLE_HEAD)
    for col in ("trial", *names, "params", "MLflow run"):
        table.add_column(col)
    for t in ranked[:top]:
        table.add_row(str(t.number), *(f"{v:.5g}" for v in t.values),
                      ", ".join(f"{k}={_fmt(v)}" for k, v in t.params.items()),
                      runs.get(str(t.number), "")[:12])
    console.print(table)
    _importances(study, complete)


def _metric_names(run: Any, n: int) -> list[str]:
    """The objective's metric names, from the parent run's ``assay.objective`` tag."""
    try:
        metric = json.loads(run.data.tags["assay.objective"])["metric"]
        names = [metric] if isinstance(metric, str) else list(metric)
    except (KeyError, ValueError, TypeError):
        names = []
    return names if len(names) == n else [f"value{i}" for i in range(n)]


def _trial_runs(client: Any, parent: Any) -> dict[str, str]:
    """Trial number -> its MLflow run id (the parent's children, newest last)."""
    out: dict[str, str] = {}
    token = None
    while True:
        page = client.search_runs([parent.info.experiment_id],
                                  f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
                                  max_results=1000, page_token=token,
                                  order_by=["attributes.start_time ASC"])
        out.update({r.data.tags.get("assay.trial", ""): r.info.run_id for r in page})
        token = page.token
        if not token:
            return out


def _load_study(run: Any, name: str, store: Store, url: str | None) -> Any:
    import optuna

    where = run.data.tags.get("assay.journal", "")
    if "://" in where:                       # a database: the tag has its password redacted
        if not url:
            raise UserError(f"study {name!r} lives in {where}: give --study-storage "
                            "(or ASSAY_STUDY_STORAGE) with its credentials")
        from assay._drive.sweep.journal import study_storage

        storage = study_storage(store, name, url)[0]
    else:
        path = Path(where) if where else store.root / "optuna" / f"{name}.journal"
        if not path.exists():
            raise UserError(f"study {name!r}: its journal {path} is gone")
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=storage)


def _importances(study: Any, complete: list[Any]) -> None:
    """Optuna's parameter importances (fANOVA) of the first objective, when they mean
    something: at least two searched parameters and three complete trials."""
    import warnings

    import optuna

    params = {k for t in complete for k in t.params}
    if len(params) < 2 or len(complete) < 3:
        console.print(Text("parameter importances: need two searched parameters and three "
                           "complete trials", style="dim"))
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imp = optuna.importance.get_param_importances(
                study, target=(lambda t: t.values[0]) if len(study.directions) > 1 else None)
    except Exception as exc:  # noqa: BLE001 - a summary reports, it does not crash
        console.print(Text(f"parameter importances: not computed ({type(exc).__name__}: {exc})",
                           style="dim"), soft_wrap=True)
        return
    table = Table(title="parameter importances (Optuna, fANOVA)", box=box.SIMPLE_HEAD)
    table.add_column("parameter")
    table.add_column("importance", justify="right")
    table.add_column("")
    for k, v in imp.items():
        table.add_row(k, f"{v:.3f}", "#" * round(v * 30))
    console.print(table)


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


# --- a law ------------------------------------------------------------------------------------

def _law(client: Any, run_id: str) -> None:
    design = _design(client, run_id)
    if design is None:
        console.print(Text("no law/design.json on the parent run: the study did not finish",
                           style="yellow"))
        return
    fits = design.get("fits") or []
    if fits:
        table = Table(title="law fits", box=box.SIMPLE_HEAD)
        for col in ("tuned", "axis", "exponent", "95% interval", "R²", "lack of fit", "points"):
            table.add_column(col, no_wrap=True)
        for f in fits:
            table.add_row(_short(f["hyperparameter"]), _short(f["axis"]),
                          f"{f['exponent']:.3f}", f"[{f['low']:.3f}, {f['high']:.3f}]",
                          f"{f['r2']:.3f}", f"{f['lack_of_fit_octaves']:.2f} oct",
                          str(f["points"]))
        console.print(table)
    else:
        console.print(Text("no law was fitted", style="bold red"))
    for h in design.get("holdout") or []:
        for hp, e in h.get("error_octaves", {}).items():
            lo, hi = h["interval"][hp]
            console.print(f"holdout {h['scale']}: {_short(hp)} predicted {h['predicted'][hp]:.3g}"
                          f" [{lo:.3g}, {hi:.3g}], measured {h['measured'][hp]:.3g} "
                          f"({e:+.2f} octaves)", soft_wrap=True)
    _design_table(design.get("points") or [])
    for note in design.get("warnings") or []:
        console.print(Text("note: ", style="yellow") + Text(note), soft_wrap=True)


def _design(client: Any, run_id: str) -> dict[str, Any] | None:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, "law/design.json", tmp)
        except Exception:  # noqa: BLE001 - absent: the law did not get that far
            return None
        return json.loads(Path(path).read_text())


def _design_table(rows: list[dict[str, Any]]) -> None:
    """Each searched point: its optimum with the 95% interval, and whether it is bracketed."""
    if not rows:
        return
    fixed = {"kind", "seed", "trials", "rounds", "best_loss"}
    axes = [k for k in rows[0] if k not in fixed and ":" not in k]
    hps = [k.split(":", 1)[1] for k in rows[0] if k.startswith("opt:")]
    table = Table(title="design: every point's search", box=box.SIMPLE_HEAD)
    for col in (",".join(_short(a) for a in axes), "seed", "trials (rounds)", "values",
                "optimum [95%]", "bracket"):
        table.add_column(col, no_wrap=True)
    for r in rows:
        label = ("hold " if r["kind"] == "holdout" else "") + ",".join(f"{r[a]:g}" for a in axes)
        for hp in hps:
            cens = r[f"censored:{hp}"]
            table.add_row(label, str(r["seed"]), f"{r['trials']} ({r['rounds']})",
                          str(r[f"distinct:{hp}"]),
                          (f"{_short(hp)} " if len(hps) > 1 else "")
                          + f"{r[f'opt:{hp}']:.3g} [{r[f'low:{hp}']:.3g}, {r[f'high:{hp}']:.3g}]",
                          f"CENSORED {cens}" if cens != "no"
                          else f"ok {r[f'below:{hp}']}|{r[f'above:{hp}']}")
    console.print(table)


def _short(path: str) -> str:
    return path.split(".")[-1]
