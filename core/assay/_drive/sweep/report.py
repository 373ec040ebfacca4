"""What a sweep shows: a live progress line, notes, the final summary, parent-run artifacts.
Everything here reads the ledger or the result dataclasses, never the driver."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from assay._drive.run import Loaded
    from assay._drive.sweep.ledger import Ledger
    from assay._drive.sweep.model import SweepResult
    from assay._record.tracking import Store

console = Console(highlight=False)


def note(text: str) -> None:
    """One line about something that happened on the way (a lost worker, a resume)."""
    console.print(Text("note: ", style="yellow") + Text(text), soft_wrap=True)


class Display:
    """rich progress: done / running / pruned / failed / cached, best value and params, ETA."""

    def __init__(self, target: int, objective: Any, enabled: bool = True) -> None:
        self.target, self.objective, self.enabled = target, objective, enabled
        self.started = time.perf_counter()
        self.last = 0.0

    def __enter__(self) -> Display:
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("trials"), BarColumn(),
                                TextColumn("{task.completed}/{task.total}"),
                                TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                console=console, transient=False)
            self.task = self.bar.add_task("sweep", total=self.target, info="starting workers")
            self.bar.start()
        return self

    def update(self, ledger: Ledger, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()                   # ~10 redraws a second at most
        if not force and now - self.last < 0.1 and ledger.done < self.target:
            return
        self.last = now
        counts, best = ledger.counts, ledger.best
        best_txt = ""
        if best is not None and best.values and len(self.objective.metrics) == 1:
            params = ", ".join(f"{k.split('.')[-1]}={_fmt(v)}" for k, v in best.params.items())
            best_txt = f" | best {self.objective.metrics[0]} {best.values[0]:.4g} ({params})"
        info = (f"running {len(ledger.running)} pruned {counts.get('pruned', 0)} "
                f"failed {counts.get('failed', 0)} cached {counts.get('reused', 0)}{best_txt}")
        self.bar.update(self.task, completed=min(ledger.done, self.target), info=info)

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self.bar.stop()


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def counts_line(result: SweepResult) -> str:
    """``complete 16 (10 trained, 6 from the run cache), fail 1``: cache hits shown apart."""
    parts = []
    for k, v in sorted(result.counts.items()):
        if k == "complete" and result.cached:
            parts.append(f"complete {v} ({v - result.cached} trained, {result.cached} from "
                         "the run cache)")
        else:
            parts.append(f"{k} {v}")
    return ", ".join(parts) or "no trials"


def print_summary(result: SweepResult, loaded: Loaded, store: Store, top: int = 5) -> None:
    obj = loaded.experiment.objective
    stopped = f", stopped by {result.stopped}" if result.stopped else ""
    console.print(f"study [bold]{result.study_name}[/]: {counts_line(result)} "
                  f"in {result.wall_s:.1f}s{stopped}")
    if result.all_failed:
        print_failures(result)
    ranked = [r for r in result.trials if r.values is not None]
    sign = 1 if obj.directions[0] == "minimize" else -1
    ranked.sort(key=lambda r: sign * r.values[0])  # type: ignore[index]
    if ranked:
        table = Table(title=f"best trials ({obj.metrics[0]}, {obj.directions[0]})")
        for col in ("trial", *obj.metrics, "params", "MLflow run"):
            table.add_column(col)
        for r in ranked[:top]:
            table.add_row(str(r.number), *(f"{v:.5g}" for v in r.values or []),
                          ", ".join(f"{k}={_fmt(v)}" for k, v in r.params.items()),
                          r.run_id[:12] + (" (cached)" if r.status == "reused" else ""))
        console.print(table)
    if "://" in result.journal:
        from assay._experiment.settings import redact

        where = f"storage={redact(result.journal)!r}"
    else:
        where = f"storage=JournalStorage(JournalFileBackend({result.journal!r}))"
    console.print(f"parent run {result.parent_run_id} at {store.tracking_uri}\n"
                  f"Optuna study: optuna.load_study(study_name={result.study_name!r}, {where})"
                  "\nbrowse: assay ui")
    plot = main_plot(store, result.parent_run_id)
    if plot:
        console.print(plot, soft_wrap=True)


MAIN_PLOTS = ("sweep/optimization_history.png", "sweep/pareto_front.png")


def main_plot(store: Store, run_id: str) -> str:
    """Where the sweep's main plot is and the URL that shows it ('' when it was not drawn:
    no trial finished, or a signal stopped the sweep before the plots)."""
    from assay._record.links import plot_lines
    from assay._record.tracking import open_store

    client = open_store(store)
    drawn = {a.path for a in client.list_artifacts(run_id, "sweep")}
    found = next((p for p in MAIN_PLOTS if p in drawn), None)
    return plot_lines(store, client, run_id, found) if found else ""


def print_failures(result: SweepResult) -> None:
    console.print(Text("every trial failed; the commonest reasons:", style="bold red"))
    for why, n in result.failures:
        console.print(Text(f"  {n} x ", style="red") + Text(why), soft_wrap=True)


def preload_plotting() -> None:
    """Import matplotlib, pandas and Optuna's plots on a side thread while the workers start
    (the driver waits for them then, and trials are not yet running beside it): the plots
    at the end start ~0.5-1 s sooner."""
    import threading

    def imports() -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot
        import optuna.visualization.matplotlib  # noqa: F401
        import pandas  # noqa: F401

    threading.Thread(target=imports, name="assay-preload-plots", daemon=True).start()


def log_parent_artifacts(client: Any, run_id: str, study: Any, single_objective: bool,
                         n_params: int) -> None:
    """Optuna's plots (history, importances, slice, contour) and a CSV of all trials."""
    import matplotlib

    matplotlib.use("Agg")
    import optuna.visualization.matplotlib as ovm
    from optuna.trial import TrialState

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        study.trials_dataframe().to_csv(out / "trials.csv", index=False)
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        plots: dict[str, Any] = {}
        if single_objective and complete:
            plots["optimization_history.png"] = lambda: ovm.plot_optimization_history(study)
            plots["slice.png"] = lambda: ovm.plot_slice(study)
            if len(complete) >= 3 and n_params >= 2:   # one knob: it is 1.0
                plots["param_importances.png"] = lambda: ovm.plot_param_importances(study)
            if n_params >= 2:
                plots["contour.png"] = lambda: ovm.plot_contour(study)
        elif complete:
            plots["pareto_front.png"] = lambda: ovm.plot_pareto_front(study)
        for name, make in plots.items():
            _save_plot(make, out / name)
        client.log_artifacts(run_id, str(out), "sweep")


def _save_plot(make: Any, path: Path) -> None:
    import warnings

    import matplotlib.pyplot as plt

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ax = make()
            fig = ax.flat[0].figure if hasattr(ax, "flat") else ax.figure
            fig.set_size_inches(8, 5)
            fig.tight_layout()
            fig.savefig(path, dpi=110)
        plt.close(fig)
    except Exception as exc:
        path.with_name(f"{path.name}.error.txt").write_text(f"{type(exc).__name__}: {exc}")
