"""The one training loop (nanoGPT-plain) and the context methods see.

``execute(run, reporter)`` is a pure function of a RunSpec: it builds data, model and
methods, trains, evaluates every ``eval_every`` steps and reports each evaluation to the
``reporter`` (which may answer "stop": a pruned run). It returns a RunResult and never raises
for a failing run: the error and its traceback are part of the result.
"""
from __future__ import annotations

import math
import resource
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from assay._experiment.resolve import instantiate
from assay._plugins.registry import Registry, registry
from assay._run.context import (  # noqa: F401 - re-exported for the loop's callers
    NonFiniteLoss,
    Pruned,
    Reporter,
    RunContext,
    RunResult,
    default_loss,
)
from assay.kinds import Backend, Data, Method
from assay.spec import RunSpec

# Datasets are deterministic in (config, seed): a worker builds each one once.
_DATA_CACHE: dict[str, Data] = {}


def load_data(reg: Registry, run: RunSpec) -> Data:
    from assay._experiment.resolve import canonical

    key = canonical([run.dataset, run.seed])
    if key not in _DATA_CACHE:
        if len(_DATA_CACHE) > 8:
            _DATA_CACHE.clear()
        _DATA_CACHE[key] = instantiate(reg, "dataset", run.dataset).load(run.seed)  # type: ignore[attr-defined]
    return _DATA_CACHE[key]


def standard_loop(ctx: RunContext) -> None:
    """The plain supervised loop: batch -> loss -> backward -> before_step hooks -> step ->
    after_step hooks, with the schedule's learning rate."""
    run_steps(ctx, ctx.total_steps, ctx.set_lr)


def run_steps(ctx: RunContext, n_steps: int, set_lr: Callable[[int], None]) -> None:
    """``n_steps`` steps of the plain loop; ``set_lr(step)`` (from 0) sets the rates first.
    Trainers that only change the step count or the learning-rate rule call this instead of
    writing the loop again, so every method hook and evaluation behaves the same."""
    model = ctx.model
    assert ctx.optimizer is not None
    running, count = 0.0, 0
    for step in range(n_steps):
        set_lr(step)
        x, y = ctx.batch()
        loss = ctx.loss(model, x, y)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise NonFiniteLoss(f"train loss became {value} at step {step + 1}")
        ctx.optimizer_step(loss, step + 1)
        running, count = running + value, count + 1
        if (step + 1) % ctx.eval_every == 0 or step + 1 == n_steps:
            ctx.last_train_loss, running, count = running / count, 0.0, 0
            ctx.evaluate_and_report(step + 1)


def load_matching(model: nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    """Load every tensor whose name and shape match (e.g. all but a new task's head);
    return the names left at their fresh initialisation."""
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(usable, strict=False)
    return sorted(set(own) - set(usable))


def _default_groups(model: nn.Module) -> list[dict[str, Any]]:
    return [{"params": [p for p in model.parameters() if p.requires_grad]}]


def build_context(run: RunSpec, reporter: Reporter, reg: Registry,
                  init_state: Mapping[str, torch.Tensor] | None = None) -> RunContext:
    backend: Backend = instantiate(reg, "backend", run.backend)  # type: ignore[assignment]
    backend.setup(run.seed)
    device = backend.device()
    data = load_data(reg, run)
    model = instantiate(reg, "model", run.model).build(data)  # type: ignore[attr-defined]
    methods: dict[str, Method] = {slot: instantiate(reg, "method", ref)  # type: ignore[misc]
                                  for slot, ref in run.methods.items()}
    groups = (methods["parameterization"].apply(model, data)  # type: ignore[attr-defined]
              if "parameterization" in methods else None)
    if init_state is not None:
        load_matching(model, init_state)
    if "adapter" in methods:
        model = methods["adapter"].apply(model, data)  # type: ignore[attr-defined]
        if groups is not None:                    # keep the parameterization's groups, and
            groups = [{**g, "params": [p for p in g["params"] if p.requires_grad]}
                      for g in groups]                # give the adapter's new tensors their own
            grouped = {id(p) for g in groups for p in g["params"]}
            new = [p for p in model.parameters() if p.requires_grad and id(p) not in grouped]
            groups.append({"params": new})
    model.to(device)
    gen = torch.Generator().manual_seed(run.seed)
    ctx = RunContext(run, data, model, device, methods, backend, reporter, reg, gen)
    ctx.param_groups = [g for g in (groups or _default_groups(model)) if g["params"]]
    return ctx


def execute(run: RunSpec, reporter: Reporter | None = None, *,
            init_state: Mapping[str, torch.Tensor] | None = None,
            keep_state: bool = False) -> RunResult:
    """Run one RunSpec to the end. Never raises for a failing run."""
    reporter = reporter or (lambda step, metrics: False)
    started = time.perf_counter()
    reg = registry(run.plugins)
    ctx: RunContext | None = None
    status, error, tb = "finished", "", ""
    try:
        ctx = build_context(run, reporter, reg, init_state)
        reg.pm.hook.assay_run_start(run=run)  # type: ignore[attr-defined]
        for method in ctx.methods.values():
            method.setup(ctx)
        if "data" in ctx.methods:
            ctx.train_idx = ctx.methods["data"].select(ctx).to(torch.long)  # type: ignore[attr-defined]
        ctx.optimizer = _optimizer(ctx)
        ctx.model.train()
        if "trainer" in ctx.methods:
            ctx.methods["trainer"].train(ctx)  # type: ignore[attr-defined]
        else:
            standard_loop(ctx)
        for method in ctx.methods.values():
            method.after_train(ctx)
    except Pruned as exc:
        status, error = "pruned", str(exc)
    except NonFiniteLoss as exc:
        status, error = "failed", f"non-finite loss: {exc}"
    except Exception as exc:  # noqa: BLE001 - a crashing run is a recorded failure
        status, error, tb = "failed", f"{type(exc).__name__}: {exc}", traceback.format_exc()
    history = ctx.history if ctx else []
    metrics = dict(history[-1][1]) if history else {}
    if ctx is not None:
        metrics.update(ctx.final_metrics)
    metrics.update(_cost(ctx, started))
    if ctx is not None:
        reg.pm.hook.assay_run_end(run=run, metrics=metrics, status=status)  # type: ignore[attr-defined]
    state = ({k: v.detach().cpu() for k, v in ctx.model.state_dict().items()}
             if keep_state and ctx is not None and status == "finished" else None)
    return RunResult(run.key, status, metrics, history, error, tb, state)


def _optimizer(ctx: RunContext) -> torch.optim.Optimizer:
    from assay._builtin.optim import AdamW

    method = ctx.methods.get("optimizer") or AdamW()
    return method.build(ctx.param_groups)  # type: ignore[attr-defined]


def _cost(ctx: RunContext | None, started: float) -> dict[str, float]:
    cost = {"cost/wall_s": time.perf_counter() - started,
            "cost/peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if ctx is None:
        return cost
    n_params = sum(p.numel() for p in ctx.model.parameters())
    n_train = sum(p.numel() for p in ctx.model.parameters() if p.requires_grad)
    x = ctx.data.train[0]
    tokens = x.shape[1] if ctx.data.task == "lm" else 1
    steps = ctx.history[-1][0] if ctx.history else 0
    cost.update({"cost/params": float(n_params), "cost/trainable_params": float(n_train),
                 # ~6 FLOPs per parameter per example-token (forward + backward)
                 "cost/flops": 6.0 * n_params * ctx.run.train.batch_size * tokens * steps})
    if ctx.device.type == "cuda":
        cost["cost/peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return cost


Callback = Callable[[int, Mapping[str, float]], bool]
