"""``assay verify``: run claims through the normal executor and tracking, print verdicts.

Each claim is one MLflow parent run (experiment ``claims``); its arms' runs (or sweeps) are
children. Arms run once per seed (``train.seed`` overridden). ``smoke`` runs the same code on
a tiny budget (the claim's ``smoke`` overrides) and its verdicts are labelled as not results.
``--write-claims`` regenerates CLAIMS.md from the last full verification of every claim in the
store.
"""
from __future__ import annotations

import datetime as dt
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from assay.claims import Claim, Verdict, verdict_over_seeds
from assay.errors import UserError, unknown_name
from assay._plugins.registry import Registry, registry
from assay._record.tracking import Store, Tracker, git_commit

console = Console(highlight=False)
EXPERIMENT = "claims"


@dataclass
class Outcome:
    claim: Claim
    budget: str
    status: str                                   # PASS | FAIL | INCONCLUSIVE | ERROR
    verdict: Verdict | None
    per_seed: list[dict[str, float]] = field(default_factory=list)
    seed_verdicts: list[Verdict] = field(default_factory=list)
    wall_s: float = 0.0
    run_id: str = ""
    error: str = ""

    def spread(self) -> dict[str, tuple[float, float]]:
        """verdict number -> (mean, sd) over seeds."""
        keys = self.verdict.numbers.keys() if self.verdict else []
        out = {}
        for k in keys:
            vals = [v.numbers[k] for v in self.seed_verdicts if k in v.numbers]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            out[k] = (statistics.fmean(vals) if vals else math.nan, sd)
        return out


def select(reg: Registry, names: Sequence[str], all_: bool) -> list[Claim]:
    if all_ or not names:
        if not all_:
            raise UserError("name plugins or claim ids to verify, or pass --all")
        return list(reg.claims.values())
    chosen: list[Claim] = []
    for n in names:
        hits = [c for c in reg.claims.values() if c.id == n or c.plugin == n]
        if not hits:
            raise unknown_name("plugin or claim", n, {*reg.claims, *(c.plugin for c in reg.claims.values())})
        chosen += [c for c in hits if c not in chosen]
    return chosen


def _arm_metrics(claim: Claim, arm: str, seed: int, budget: str, tracker: Tracker,
                 store: Store, parent: str, executor: Any, reg_sources: tuple[str, ...]
                 ) -> dict[str, float]:
    from assay._drive.run import load, run_once
    from assay._experiment.resolve import load_yaml

    raw = load_yaml(claim.arm_path(arm))
    overrides: dict[str, Any] = {"train.seed": seed}
    if budget == "smoke":
        overrides.update({k: v for k, v in claim.smoke.items()
                          if not k.startswith("sweep.") or raw.get("sweep")})
        if raw.get("pretrain"):                   # a tiny budget for the pretraining too
            overrides.update({f"pretrain.{k}": v for k, v in claim.smoke.items()
                              if k.startswith("train.")})
    loaded = load(raw, overrides, plugins=reg_sources)
    out: dict[str, float] = {}
    if loaded.experiment.sweep:
        from assay._experiment.space import parse_sweep
        from assay._drive.sweep import Driver

        sweep = parse_sweep({**loaded.experiment.sweep})
        study = f"{claim.id}.{arm}.seed{seed}.{budget}"
        driver = Driver(loaded, sweep, store=store, study_name=study, experiment=EXPERIMENT,
                        progress=False, executor=executor, plots=budget == "full",
                        extra_tags={"mlflow.parentRunId": parent, "assay.claim": claim.id,
                                    "assay.arm": arm})
        result = driver.run()
        if result.best is None:
            errors = sorted({r.error for r in result.trials if r.error})
            raise RuntimeError(f"arm {arm!r} (seed {seed}): no trial finished; "
                               f"errors: {'; '.join(errors)[:500] or 'none recorded'}")
        for k, v in result.best.params.items():
            out[f"{arm}/best/{k}"] = float(v) if _num(v) else math.nan
        for name, v in zip(loaded.experiment.objective.metrics, result.best.values or []):
            out[f"{arm}/best/{name}"] = v
        for t in driver.study.trials:
            if t.state.name != "COMPLETE":
                continue
            for k, v in t.params.items():
                if _num(v):
                    out[f"{arm}/trials/{t.number}/{k}"] = float(v)
            for name, v in zip(loaded.experiment.objective.metrics, t.values):
                out[f"{arm}/trials/{t.number}/{name}"] = v
        return out
    run_id, result, reused = run_once(loaded, store, progress=False, parent=parent,
                                      experiment=EXPERIMENT)
    metrics = result if reused else result.metrics
    if not reused and result.status != "finished":
        raise RuntimeError(f"arm {arm!r} (seed {seed}) {result.status}: {result.error}")
    return {f"{arm}/{k}": float(v) for k, v in metrics.items()}


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def run_claim(claim: Claim, budget: str = "smoke", seeds: int | None = None,
              store: Store | None = None, workers: int | None = None,
              executor: Any = None, reg: Registry | None = None) -> Outcome:
    """Run one claim end to end and return its verdict (recorded in MLflow)."""
    store = store or Store.resolve()
    tracker = Tracker(store)
    reg = reg or registry()
    n = seeds or (claim.seeds if budget == "full" else 1)
    started = time.perf_counter()
    parent = tracker.start_run(EXPERIMENT, f"{claim.id} ({budget})", {
        "assay.kind": "claim", "assay.claim": claim.id, "assay.budget": budget,
        "assay.statement": claim.statement, "assay.source": claim.source,
        "assay.plugin": claim.plugin, "assay.seeds": str(n)})
    outcome = Outcome(claim, budget, "ERROR", None, run_id=parent)
    try:
        for seed in range(n):
            m: dict[str, float] = {}
            for arm in claim.arms:
                m.update(_arm_metrics(claim, arm, seed, budget, tracker, store, parent,
                                      executor, reg.sources))
            outcome.per_seed.append(m)
            outcome.seed_verdicts.append(claim.check(m))
        outcome.status, outcome.verdict = verdict_over_seeds(claim, outcome.per_seed)
    except (UserError, KeyboardInterrupt):
        tracker.end_run(parent, "failed")
        raise
    except Exception as exc:  # noqa: BLE001 - one broken claim must not stop the others
        outcome.error = f"{type(exc).__name__}: {exc}"
    outcome.wall_s = time.perf_counter() - started
    _record(tracker, outcome)
    return outcome


def _record(tracker: Tracker, o: Outcome) -> None:
    client = tracker.client
    tags = {"assay.verdict": o.status, "assay.detail": o.verdict.detail if o.verdict else o.error,
            "assay.wall_s": f"{o.wall_s:.1f}", "assay.budget_s": str(o.claim.budget_s),
            "assay.commit": git_commit(), "assay.date": dt.date.today().isoformat()}
    for k, (mean, sd) in o.spread().items():
        tags[f"assay.number.{k}"] = f"{mean:.4g} ± {sd:.2g}"
    for k, v in tags.items():
        client.set_tag(o.run_id, k, v)
    for k, (mean, sd) in o.spread().items():
        if math.isfinite(mean):
            client.log_metric(o.run_id, f"claim/{k}", mean)
    client.set_terminated(o.run_id, "FINISHED" if o.status != "ERROR" else "FAILED")


def print_outcomes(outcomes: list[Outcome], budget: str) -> None:
    title = "claims" if budget == "full" else "claims - SMOKE budget: code paths only, not results"
    table = Table(title=title, show_lines=True)
    for col in ("claim", "statement", "measured (mean ± sd over seeds)", "verdict"):
        table.add_column(col, overflow="fold")
    colour = {"PASS": "green", "FAIL": "red", "INCONCLUSIVE": "yellow", "ERROR": "magenta"}
    for o in outcomes:
        numbers = "; ".join(f"{k} {m:.4g} ± {s:.2g}" for k, (m, s) in o.spread().items())
        detail = o.verdict.detail if o.verdict else o.error
        table.add_row(o.claim.id, o.claim.statement, f"{numbers}\n{detail}",
                      Text(o.status, style=colour[o.status]) + Text(f"\n{o.wall_s:.0f}s"))
    console.print(table)


def write_claims_md(store: Store | Sequence[Store], reg: Registry,
                    path: Path = Path("CLAIMS.md")) -> Path:
    """CLAIMS.md from the last full verification of each claim recorded in the store(s)."""
    runs = []
    for s in ([store] if isinstance(store, Store) else store):
        tracker = Tracker(s)
        exp = tracker.client.get_experiment_by_name(EXPERIMENT)
        runs += [] if exp is None else tracker.client.search_runs(
            [exp.experiment_id], "tags.`assay.kind` = 'claim' and tags.`assay.budget` = 'full'"
            " and attributes.status = 'FINISHED'", max_results=5000)
    kept = _verified_rows(path)
    latest: dict[str, Any] = {}
    for r in sorted(runs, key=lambda r: -r.info.start_time):
        latest.setdefault(r.data.tags["assay.claim"], r)
    lines = ["# Claims", "",
             "Generated by `assay verify --all --budget full --write-claims` from the MLflow "
             "store; do not edit by hand. A FAIL at small scale is a result, kept as measured.",
             "", "| claim | statement | source | verdict | measured (mean ± sd over seeds) "
             "| seeds | date | commit |", "|---|---|---|---|---|---|---|---|"]
    for cid in sorted(reg.claims):
        c = reg.claims[cid]
        r = latest.get(cid)
        if r is None and cid in kept:         # verified earlier, in a store not given here
            lines.append(kept[cid])
            continue
        if r is None:
            lines.append(f"| `{cid}` | {c.statement} | {c.source} | not yet verified | "
                         f"`assay verify {cid} --budget full` | | | |")
            continue
        t = r.data.tags
        nums = "; ".join(f"{k.removeprefix('assay.number.')} {v}" for k, v in sorted(t.items())
                         if k.startswith("assay.number."))
        detail = t.get("assay.detail", "").replace("|", "/")
        lines.append(f"| `{cid}` | {c.statement} | {c.source} | **{t.get('assay.verdict')}** | "
                     f"{nums}<br>{detail} | {t.get('assay.seeds')} | {t.get('assay.date')} | "
                     f"{t.get('assay.commit', '')[:8]} |")
    path.write_text("\n".join(lines) + "\n")
    return path


def _verified_rows(path: Path) -> dict[str, str]:
    """Rows of an existing CLAIMS.md that hold a full verification: a claim verified from
    another store (another machine, an earlier session) keeps its row, date and commit,
    until a newer verification in the given stores replaces it."""
    import re

    if not path.exists():
        return {}
    rows = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\| `([^`]+)` \|", line)
        if m and "| not yet verified |" not in line:
            rows[m.group(1)] = line
    return rows


def run_verify_cli(args: Any) -> int:
    from assay._drive.run import _abs
    from assay._dispatch.executor import DaskExecutor
    import queue

    reg = registry(tuple(_abs(p, Path(".")) for p in args.plugin))
    store = Store.resolve(args.tracking_uri)
    claims = [] if (args.write_claims and not args.plugins_or_claims and not args.all) else \
        select(reg, args.plugins_or_claims, args.all)
    outcomes = []
    executor = None
    if claims and args.workers != 0:
        executor = DaskExecutor(queue.Queue(), workers=args.workers, warm=(reg.sources, None),
                                state_dir=str(store.root / "states"))
        executor.start()
    try:
        for claim in claims:
            console.print(f"verifying [bold]{claim.id}[/] ({args.budget})")
            outcomes.append(run_claim(claim, args.budget, args.seeds, store, args.workers,
                                      executor, reg))
    finally:
        if executor is not None:
            executor.close()
    if outcomes:
        print_outcomes(outcomes, args.budget)
    if args.write_claims:
        path = write_claims_md(store, reg)
        console.print(f"wrote {path}")
    return 1 if any(o.status == "ERROR" for o in outcomes) else 0
