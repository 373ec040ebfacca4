"""What a law study leaves behind: the design diagnostics, plots, a summary table (csv +
markdown), ``design.json``, and MLflow records.

The diagnostics come first because they say whether the law can be believed: trials and
distinct values per point, rounds of widening, the final range, whether the optimum is
bracketed or censored (left out of the fit), and how many probe values a point shares with
another (independent samplers share none; shared values mean shared bias).
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from assay._drive.law import LawResult, LawStudy, PointResult
    from assay._drive.run import Loaded
    from assay._record.tracking import Store, Tracker

console = Console(highlight=False)
LN2 = math.log(2)


def _short(path: str) -> str:
    return path.split(".")[-1]


def _all_points(result: LawResult) -> list[PointResult]:
    return result.points + [h["point"] for h in result.holdout]


def _scale(p: PointResult) -> str:
    return ", ".join(f"{_short(k)}={v:g}" for k, v in p.scale.items())


# --- diagnostics ------------------------------------------------------------------------------

def design_rows(result: LawResult) -> list[dict[str, Any]]:
    """One row per searched point (fit and holdout): the design diagnostics and optima."""
    rows = []
    for p in _all_points(result):
        row: dict[str, Any] = {"kind": p.kind, **p.scale, "seed": p.seed,
                               "trials": len(p.trials), "rounds": p.rounds,
                               "best_loss": p.best_loss}
        for hp, o in p.optima.items():
            rng = p.ranges.get(hp)
            row.update({f"distinct:{hp}": o.n_distinct,
                        f"range:{hp}": "grid" if rng is None else f"{rng[0]:.4g}-{rng[1]:.4g}",
                        f"opt:{hp}": o.value, f"low:{hp}": o.low, f"high:{hp}": o.high,
                        f"sd_octaves:{hp}": o.sd / LN2 if o.log else math.nan,
                        f"below:{hp}": o.n_below, f"above:{hp}": o.n_above,
                        f"censored:{hp}": o.censored or "no",
                        f"shared:{hp}": "grid" if p.shared.get(hp) is None else p.shared[hp]})
        rows.append(row)
    return rows


def design_warnings(result: LawResult) -> list[str]:
    """Plain sentences for everything in the design that weakens the result."""
    out = []
    for hp, labels in result.left_out.items():
        if labels:
            out.append(f"{_short(hp)}: censored, left out of the fit: {', '.join(labels)}")
    for h in result.holdout:
        for hp, side in h["censored"].items():
            if side:
                out.append(f"{_short(hp)}: the holdout's own optimum is censored ({side}); "
                           "its error is a bound, not a measurement")
    shared = [f"{p.kind} {p.label} ({', '.join(f'{_short(k)}: {n}' for k, n in p.shared.items() if n)})"
              for p in _all_points(result) if p.coincident]
    if shared:
        out.append("points probing the same values as another point (shared sampler streams "
                   "share their bias): " + "; ".join(shared))
    if result.refused:
        out.append(result.refused)
    return out


def design_table(result: LawResult) -> Table:
    """The diagnostics, narrow enough for an 80-column terminal (summary.csv has them all)."""
    from rich import box

    pts = _all_points(result)
    axes = list(pts[0].scale) if pts else []
    several_seeds = len({p.seed for p in pts}) > 1
    several_hps = len(pts[0].optima) > 1 if pts else False
    table = Table(title="design: every point's search", box=box.SIMPLE_HEAD, pad_edge=False,
                  show_edge=False, collapse_padding=True)
    head = ",".join(_short(a) for a in axes) or "point"
    for col in (head, "trials", "values", "range", "optimum [95%]", "bracket", "shared"):
        table.add_column(col, no_wrap=True)
    for p in pts:
        name = ("hold " if p.kind == "holdout" else "") + ",".join(
            f"{v:g}" for v in p.scale.values()) + (f" s{p.seed}" if several_seeds else "")
        for hp, o in p.optima.items():
            rng, shared = p.ranges.get(hp), p.shared.get(hp)
            table.add_row(name, f"{len(p.trials)} ({p.rounds})", str(o.n_distinct),
                          "grid" if rng is None else f"{rng[0]:.1g}-{rng[1]:.1g}",
                          (f"{_short(hp)} " if several_hps else "")
                          + f"{o.value:.2g} [{o.low:.2g}, {o.high:.2g}]",
                          f"CENSORED {o.censored}" if o.censored
                          else f"ok {o.n_below}|{o.n_above}",
                          "grid" if shared is None else str(shared))
    return table


LEGEND = ("trials (rounds of search); values: distinct values probed; bracket: trials "
          "below|above the estimate in its window; shared: values another point also probed")


# --- plots ------------------------------------------------------------------------------------

def plot_landscapes(result: LawResult, study: LawStudy, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    metric = study.loaded.experiment.objective.metrics[0]
    pts = _all_points(result)
    for hp in study.law.tune:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        cmap = plt.get_cmap("viridis")
        for i, p in enumerate(pts):
            colour = cmap(i / max(1, len(pts) - 1))
            xs = [r[0][hp] for r in p.trials]
            ys = [r[1] for r in p.trials]
            o = p.optima[hp]
            label = f"{p.kind} {_scale(p)}" + (f" (censored {o.censored})" if o.censored else "")
            ax.scatter(xs, ys, s=14, color=colour, alpha=0.7, label=label)
            ax.axvline(o.value, color=colour, lw=1, ls="--" if o.bracketed else ":")
            ax.axvspan(o.low, o.high, color=colour, alpha=0.08)
        ax.set_xscale("log")
        ax.set_xlabel(hp)
        ax.set_ylabel(metric)
        lo, hi = np.percentile([r[1] for p in pts for r in p.trials], [0, 70])
        ax.set_ylim(lo - 0.05 * (hi - lo), hi)
        ax.set_title(f"landscapes: {metric} vs {_short(hp)} (dashed: estimated optimum)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = out / f"landscape_{_short(hp)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path)
    return files


def plot_laws(result: LawResult, study: LawStudy, out: Path,
              reference: dict[str, Any] | None = None) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    axes = list(study.law.scale)
    for hp, fit in result.fits.items():
        varying = [a for a in axes if len({p.scale[a] for p in result.points}) > 1] or axes[:1]
        a = varying[0]
        k = axes.index(a)
        fig, ax = plt.subplots(figsize=(7, 4.5))
        ok = [p for p in result.points if p.optima[hp].bracketed]
        cens = [p for p in result.points if not p.optima[hp].bracketed]
        xs = np.array([p.scale[a] for p in ok])
        ys = np.array([p.optima[hp].value for p in ok])
        err = np.array([[y - p.optima[hp].low, p.optima[hp].high - y]
                        for y, p in zip(ys, ok)]).T.reshape(2, -1)
        ax.errorbar(xs, ys, yerr=err, fmt="o", capsize=3, label="per-point optimum (95% CI)")
        if cens:
            ax.scatter([p.scale[a] for p in cens], [p.optima[hp].value for p in cens],
                       marker="o", facecolors="none", edgecolors="grey",
                       label="censored (left out)")
        allx = np.concatenate([[p.scale[a] for p in result.points],
                               [h["scale"][a] for h in result.holdout]])
        grid = np.geomspace(allx.min(), allx.max(), 50)
        base = [np.median([p.scale[b] for p in result.points]) for b in axes]
        scales = [[g if j == k else base[j] for j in range(len(axes))] for g in grid]
        band = np.array([fit.predict_interval(s) for s in scales])
        ax.fill_between(grid, band[:, 0], band[:, 1], alpha=0.12,
                        label="95% interval for a new point's optimum")
        ax.plot(grid, [fit.predict(s) for s in scales],
                label=f"fit: exponent {fit.coef[1 + k]:.3f} [{fit.ci_low[1 + k]:.3f}, "
                      f"{fit.ci_high[1 + k]:.3f}], R²={fit.r2:.2f}")
        for h in result.holdout:
            ax.scatter([h["scale"][a]], [h["predicted"][hp]], marker="x", s=60, color="red",
                       label="holdout: predicted")
            ax.scatter([h["scale"][a]], [h["measured"][hp]], marker="*", s=90, color="black",
                       label=f"holdout: measured ({h['error_octaves'][hp]:+.2f} octaves)")
        if reference and hp in reference:
            ax.plot(grid, [reference[hp](g) for g in grid], ls=":", label="paper's formula")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(a)
        ax.set_ylabel(f"optimal {hp}")
        ax.legend(fontsize=7)
        ax.set_title(f"law: optimal {_short(hp)} vs {_short(a)}")
        fig.tight_layout()
        path = out / f"law_{_short(hp)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path)
    return files


# --- tables and records -----------------------------------------------------------------------

def fit_lines(result: LawResult) -> list[dict[str, Any]]:
    rows = []
    for hp, fit in result.fits.items():
        for i, a in enumerate(fit.names):
            rows.append({"hyperparameter": hp, "axis": a, "exponent": float(fit.coef[1 + i]),
                         "low": float(fit.ci_low[1 + i]), "high": float(fit.ci_high[1 + i]),
                         "r2": fit.r2, "lack_of_fit_octaves": fit.tau / LN2,
                         "points": fit.n_points, "dof": fit.dof})
    return rows


def _markdown(rows: list[dict[str, Any]]) -> list[str]:
    md = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    md += ["| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in r.values())
           + " |" for r in rows]
    return md


def _holdout_line(h: dict[str, Any]) -> str:
    parts = []
    for hp in h["predicted"]:
        lo, hi = h["interval"][hp]
        mlo, mhi = h["measured_interval"][hp]
        cens = f", censored {h['censored'][hp]}" if h["censored"][hp] else ""
        parts.append(f"{_short(hp)} predicted {h['predicted'][hp]:.3g} [{lo:.3g}, {hi:.3g}], "
                     f"measured {h['measured'][hp]:.3g} [{mlo:.3g}, {mhi:.3g}]{cens} "
                     f"({h['error_octaves'][hp]:+.2f} octaves)")
    return (f"holdout {h['scale']}: " + "; ".join(parts)
            + f"; loss at prediction / best = {h['loss_ratio']:.3f}")


def write_outputs(result: LawResult, study: LawStudy, tracker: Tracker) -> None:
    out = result.out_dir
    out.mkdir(parents=True, exist_ok=True)
    rows = design_rows(result)
    with open(out / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        w.writeheader()
        w.writerows(rows)
    md = ["## design", "", *_markdown(rows), ""]
    fits = fit_lines(result)
    if fits:
        md += ["## law", "", *_markdown(fits), ""]
    md += [_holdout_line(h) for h in result.holdout]
    md += [f"- {note}" for note in design_warnings(result)]
    (out / "summary.md").write_text("\n".join(md) + "\n")
    (out / "design.json").write_text(json.dumps(
        {"points": rows, "fits": fits, "warnings": design_warnings(result), "refused": result.refused,
         "holdout": [{k: v for k, v in h.items() if k != "point"} for h in result.holdout]},
        indent=2, default=str))
    plot_landscapes(result, study, out)
    plot_laws(result, study, out)
    _log_mlflow(result, tracker)


def _log_mlflow(result: LawResult, tracker: Tracker) -> None:
    client, run = tracker.client, result.parent_run_id
    client.log_artifacts(run, str(result.out_dir), "law")
    for f in fit_lines(result):
        key = f"law/{_short(f['hyperparameter'])}/exponent_{_short(f['axis'])}"
        client.log_metric(run, key, f["exponent"])
        client.set_tag(run, key, f"{f['exponent']:.4f} [{f['low']:.4f}, {f['high']:.4f}]")
        client.log_metric(run, f"law/{_short(f['hyperparameter'])}/r2", f["r2"])
    pts = _all_points(result)
    client.log_metric(run, "design/censored_points", sum(bool(p.censored) for p in pts))
    client.log_metric(run, "design/coincident_points", sum(p.coincident for p in pts))
    if result.refused:
        client.set_tag(run, "law.refused", result.refused[:5000])
    for i, h in enumerate(result.holdout):
        for hp, e in h["error_octaves"].items():
            client.log_metric(run, f"holdout{i}/{_short(hp)}/error_octaves", e)
        if math.isfinite(h["loss_ratio"]):
            client.log_metric(run, f"holdout{i}/loss_ratio", h["loss_ratio"])


def print_law(result: LawResult, loaded: Loaded, store: Store) -> None:
    console.print(design_table(result))
    console.print(LEGEND, style="dim")
    console.print()
    if result.fits:
        from rich import box

        table = Table(title=f"law fits ({loaded.experiment.name})", box=box.SIMPLE_HEAD,
                      pad_edge=False, show_edge=False, collapse_padding=True)
        for col in ("tuned", "axis", "exponent", "95% interval", "R²", "lack of fit", "points"):
            table.add_column(col, no_wrap=True)
        for f in fit_lines(result):
            table.add_row(_short(f["hyperparameter"]), _short(f["axis"]), f"{f['exponent']:.3f}",
                          f"[{f['low']:.3f}, {f['high']:.3f}]", f"{f['r2']:.3f}",
                          f"{f['lack_of_fit_octaves']:.2f} oct", str(f["points"]))
        console.print(table)
    for h in result.holdout:
        console.print(_holdout_line(h))
    for note in design_warnings(result):
        console.print(f"[yellow]note[/]: {note}")
    console.print(f"plots and tables: {result.out_dir}\nMLflow parent run {result.parent_run_id} "
                  f"({result.wall_s:.0f}s) - browse: assay ui")
    if result.fits and (result.out_dir / f"law_{_short(next(iter(result.fits)))}.png").exists():
        from assay._record.links import plot_lines
        from assay._record.tracking import open_store

        plot = f"law/law_{_short(next(iter(result.fits)))}.png"   # the first law's fit
        console.print(plot_lines(store, open_store(store), result.parent_run_id, plot),
                      soft_wrap=True)
