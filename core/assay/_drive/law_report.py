"""What a law study leaves behind: plots, a summary table (csv + markdown), MLflow records."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from assay._drive.run import Loaded
    from assay._drive.law import LawResult, LawStudy
    from assay._record.tracking import Store, Tracker

console = Console(highlight=False)


def _short(path: str) -> str:
    return path.split(".")[-1]


def plot_landscapes(result: LawResult, study: LawStudy, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    metric = study.loaded.experiment.objective.metrics[0]
    for hp in study.law.tune:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        cmap = plt.get_cmap("viridis")
        pts = result.points + [h["point"] for h in result.holdout]
        for i, p in enumerate(pts):
            colour = cmap(i / max(1, len(pts) - 1))
            xs = [r[0][hp] for r in p.trials]
            ys = [r[1] for r in p.trials]
            label = ", ".join(f"{_short(k)}={v:g}" for k, v in p.scale.items())
            ax.scatter(xs, ys, s=14, color=colour, alpha=0.7, label=label)
            o = p.optima[hp]
            ax.axvline(o.value, color=colour, lw=1, ls="--")
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
        xs = np.array([p.scale[a] for p in result.points])
        ys = np.array([p.optima[hp].value for p in result.points])
        err = np.array([[y - p.optima[hp].low, p.optima[hp].high - y]
                        for y, p in zip(ys, result.points)]).T
        ax.errorbar(xs, ys, yerr=err, fmt="o", capsize=3, label="per-point optimum (95% CI)")
        allx = np.concatenate([xs, [h["scale"][a] for h in result.holdout]])
        grid = np.geomspace(allx.min(), allx.max(), 50)
        base = [np.median([p.scale[b] for p in result.points]) for b in axes]
        line = [fit.predict([g if j == k else base[j] for j in range(len(axes))]) for g in grid]
        ax.plot(grid, line, label=f"fit: exponent {fit.coef[1 + k]:.3f} "
                                  f"[{fit.ci_low[1 + k]:.3f}, {fit.ci_high[1 + k]:.3f}], "
                                  f"R²={fit.r2:.2f}")
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


def summary_rows(result: LawResult) -> list[dict[str, Any]]:
    rows = []
    for kind, pts in (("fit", result.points), ("holdout", [h["point"] for h in result.holdout])):
        for p in pts:
            row: dict[str, Any] = {"kind": kind, **p.scale, "best_loss": p.best_loss,
                                   "n_trials": len(p.trials)}
            for hp, o in p.optima.items():
                row[f"opt:{hp}"], row[f"low:{hp}"], row[f"high:{hp}"] = o.value, o.low, o.high
            rows.append(row)
    return rows


def write_outputs(result: LawResult, study: LawStudy, tracker: Tracker) -> None:
    out = result.out_dir
    out.mkdir(parents=True, exist_ok=True)
    rows = summary_rows(result)
    with open(out / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        w.writeheader()
        w.writerows(rows)
    md = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    md += ["| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in r.values())
           + " |" for r in rows]
    md += ["", "| hyperparameter | axis | exponent | 95% interval | R² |", "|---|---|---|---|---|"]
    for hp, fit in result.fits.items():
        for i, a in enumerate(fit.names):
            md.append(f"| {hp} | {a} | {fit.coef[1 + i]:.3f} | [{fit.ci_low[1 + i]:.3f}, "
                      f"{fit.ci_high[1 + i]:.3f}] | {fit.r2:.3f} |")
    for h in result.holdout:
        md.append(f"\nholdout {h['scale']}: " + ", ".join(
            f"{hp} predicted {h['predicted'][hp]:.4g}, measured {h['measured'][hp]:.4g} "
            f"({h['error_octaves'][hp]:+.2f} octaves)" for hp in h["predicted"]) +
            f"; loss at prediction / best = {h['loss_ratio']:.4f}")
    (out / "summary.md").write_text("\n".join(md) + "\n")
    plot_landscapes(result, study, out)
    plot_laws(result, study, out)
    client = tracker.client
    client.log_artifacts(result.parent_run_id, str(out), "law")
    for hp, fit in result.fits.items():
        for i, a in enumerate(fit.names):
            key = f"law/{_short(hp)}/exponent_{_short(a)}"
            client.log_metric(result.parent_run_id, key, float(fit.coef[1 + i]))
            client.set_tag(result.parent_run_id, key, f"{fit.coef[1 + i]:.4f} "
                           f"[{fit.ci_low[1 + i]:.4f}, {fit.ci_high[1 + i]:.4f}]")
        client.log_metric(result.parent_run_id, f"law/{_short(hp)}/r2", fit.r2)
    for i, h in enumerate(result.holdout):
        for hp, e in h["error_octaves"].items():
            client.log_metric(result.parent_run_id, f"holdout{i}/{_short(hp)}/error_octaves", e)
        if math.isfinite(h["loss_ratio"]):
            client.log_metric(result.parent_run_id, f"holdout{i}/loss_ratio", h["loss_ratio"])


def print_law(result: LawResult, loaded: Loaded, store: Store) -> None:
    table = Table(title=f"law fits ({loaded.experiment.name})")
    for col in ("hyperparameter", "axis", "exponent", "95% interval", "R²"):
        table.add_column(col)
    for hp, fit in result.fits.items():
        for i, a in enumerate(fit.names):
            table.add_row(hp, a, f"{fit.coef[1 + i]:.3f}",
                          f"[{fit.ci_low[1 + i]:.3f}, {fit.ci_high[1 + i]:.3f}]", f"{fit.r2:.3f}")
    console.print(table)
    for h in result.holdout:
        console.print(f"holdout {h['scale']}: " + "; ".join(
            f"{_short(hp)} predicted {h['predicted'][hp]:.3g} vs measured {h['measured'][hp]:.3g}"
            f" ({h['error_octaves'][hp]:+.2f} octaves)" for hp in h["predicted"]) +
            f"; loss at prediction / best = {h['loss_ratio']:.3f}")
    console.print(f"plots and tables: {result.out_dir}\nMLflow parent run {result.parent_run_id} "
                  f"({result.wall_s:.0f}s) - browse: assay ui")
