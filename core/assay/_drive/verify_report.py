"""What ``assay verify`` records and prints for a claim's outcome.

The decision goes on the claim's parent run three ways: tags (status, reason, the decision as
JSON in ``assay.decision``, which CLAIMS.md is written from; the commit and any uncommitted
run-path files), metrics (``effect/<name>/mean|lo|hi``, and per seed, as the metric's step,
``effect/<name>`` and ``number/<name>``), and the artifact ``claim/decision.json`` with every
seed's verdict. The console shows the status, then one line per effect.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from assay._drive.verify import Outcome
    from assay._record.tracking import Tracker

console = Console(highlight=False)
NOT_A_RESULT = "smoke budget: code paths only, not a result"
COLOUR = {"PASS": "green", "FAIL": "red", "INCONCLUSIVE": "yellow", "INVALID": "magenta",
          "NOT-ESTABLISHED": "magenta", "VACUOUS": "magenta", "ERROR": "bold magenta"}


def decision_record(o: Outcome) -> dict[str, Any]:
    """The decision as data: what CLAIMS.md is written from (tag ``assay.decision``)."""
    d = o.decision
    return {"status": o.status, "reason": (d.reason if d else o.error)[:2000],
            "confidence": o.claim.look_confidence, "looks": o.claim.looks, "seeds": o.seeds,
            "budget": o.budget, "effects": [
                {"name": e.name, "side": e.side, "mean": e.mean, "interval": list(e.interval),
                 "values": list(e.values), "status": e.status, "lean": e.lean}
                for e in (d.effects if d else ())]}


def record(tracker: Tracker, o: Outcome) -> None:
    client, record = tracker.client, decision_record(o)
    details = "; ".join(f"seed {s}: {v.detail}" for s, v in enumerate(o.seed_verdicts))
    tags = {"assay.verdict": o.status, "assay.reason": record["reason"],
            "assay.detail": (details or o.error)[:8000], "assay.seeds": str(o.seeds),
            "assay.decision": json.dumps(record), "assay.wall_s": f"{o.wall_s:.1f}",
            "assay.budget_s": str(o.claim.budget_s), "assay.commit": o.commit,
            "assay.dirty": ", ".join(o.dirty)[:2000], "assay.date": dt.date.today().isoformat()}
    if o.budget != "full":
        tags["assay.note"] = NOT_A_RESULT
    for k, v in tags.items():
        client.set_tag(o.run_id, k, v)
    _log_numbers(client, o)
    client.log_dict(o.run_id, {**record, "per_seed": [
        {"detail": v.detail, "numbers": dict(v.numbers),
         "guard": [v.guard.kind, v.guard.reason] if v.guard else None}
        for v in o.seed_verdicts]}, "claim/decision.json")
    client.set_terminated(o.run_id, "FINISHED" if o.status != "ERROR" else "FAILED")


def _log_numbers(client: Any, o: Outcome) -> None:
    """Each effect's mean and interval ends, and per seed (step = seed) each effect and each
    number the check reported."""
    from mlflow.entities import Metric

    now, rows = int(time.time() * 1000), []
    for e in o.decision.effects if o.decision else ():
        ends = {"mean": e.mean, "lo": e.interval[0], "hi": e.interval[1]}
        rows += [Metric(f"effect/{e.name}/{k}", v, now, 0) for k, v in ends.items()]
        rows += [Metric(f"effect/{e.name}", v, now, s) for s, v in enumerate(e.values)]
    for s, v in enumerate(o.seed_verdicts):
        rows += [Metric(f"number/{k}", float(x), now, s) for k, x in v.numbers.items()]
    rows = [r for r in rows if math.isfinite(r.value)]
    for i in range(0, len(rows), 1000):
        client.log_batch(o.run_id, metrics=rows[i:i + 1000])


def outcome_lines(o: Outcome) -> list[str]:
    """What ``assay verify`` prints per claim: the status, then one line per effect."""
    note = f" ({NOT_A_RESULT})" if o.budget != "full" else ""
    seeds = f"{o.seeds} seed{'s' * (o.seeds != 1)}"
    lines = [f"{o.claim.id}: {o.status}{note}, {seeds}, {o.wall_s:.0f}s"]
    if o.status == "ERROR":
        return lines + [f"  {o.error}"]
    d = o.decision
    assert d is not None
    if d.status not in ("PASS", "FAIL", "INCONCLUSIVE"):
        lines += [f"  {r}" for r in d.reason.split("; ")]
        lines += [f"  measured (not a verdict): {e.line()}" for e in d.effects]
        return lines
    lines += [f"  {e.line()}" for e in d.effects]
    if o.claim.looks > 1:
        lines.append(f"  ({100 * o.claim.look_confidence:.4g}% intervals: the claim may add "
                     f"seeds, {o.claim.looks} looks)")
    return lines


def print_outcome(o: Outcome) -> None:
    first, *rest = outcome_lines(o)
    console.print(Text(first, style=COLOUR[o.status]), soft_wrap=True)
    for line in rest:
        console.print(Text(line), soft_wrap=True)


def print_outcomes(outcomes: list[Outcome], budget: str) -> None:
    title = "claims" if budget == "full" else f"claims - {NOT_A_RESULT}"
    table = Table(title=title, show_lines=True)
    for col in ("claim", "verdict", "effects: mean \\[interval] (paper's side; seeds)"):
        table.add_column(col, overflow="fold")
    for o in outcomes:
        table.add_row(o.claim.id, Text(o.status, style=COLOUR[o.status]) +
                      Text(f"\n{o.seeds} seeds, {o.wall_s:.0f}s"),
                      Text("\n".join(line.strip() for line in outcome_lines(o)[1:])))
    console.print(table)
