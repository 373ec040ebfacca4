"""``assay sweep`` and ``assay.sweep()``: load, start workers early, drive, summarise."""
from __future__ import annotations

from typing import Any

from assay._dispatch.executor import make_executor
from assay._drive.run import Loaded
from assay._drive.shutdown import Interrupted
from assay._drive.sweep.driver import Driver
from assay._drive.sweep.model import SweepResult
from assay._experiment.space import parse_sweep
from assay._record.tracking import Store
from assay.errors import UserError


def run_sweep(loaded: Loaded, **kwargs: Any) -> SweepResult:
    trials, timeout = kwargs.pop("trials", None), kwargs.pop("timeout_s", None)
    sweep = kwargs.pop("sweep", None) or parse_sweep(loaded.experiment.sweep)
    return Driver(loaded, sweep, **kwargs).run(trials, timeout)


def run_sweep_cli(args: Any) -> int:
    """Exit 0, or 1 when every trial failed (the commonest reasons printed); a signal exits
    128 + its number once the running trials are marked preempted."""
    from assay._drive.run import load
    from assay._drive.sweep.report import print_summary

    store = Store.resolve(args.tracking_uri)
    executor = make_executor(args.workers, args.scheduler, store.root, kind="sweep", warm=None)
    try:
        # light: the driver validates, tags and asks Optuna; the workers import torch and the
        # plugins' training code, the driver need not (assay._plugins.light)
        loaded = load(args.experiment, args.override, args.plugin, light=args.workers != 0)
        sweep = parse_sweep(loaded.experiment.sweep)
        if not sweep.space:
            raise UserError("sweep.space is empty: name at least one dotted path to search")
    except BaseException:
        executor.close()
        raise
    try:
        result = run_sweep(loaded, sweep=sweep, store=store, workers=args.workers,
                           scheduler=args.scheduler, study_name=args.study, trials=args.trials,
                           timeout_s=args.timeout, executor=executor, adopt=True,
                           study_storage=args.study_storage)
    except Interrupted as stop:
        if stop.result is not None:
            print_summary(stop.result, loaded, store)
        raise
    print_summary(result, loaded, store)
    return 1 if result.all_failed else 0
