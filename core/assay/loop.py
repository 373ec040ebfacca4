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
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from assay.kinds import Backend, Data, Method
from assay.plugins import Registry, registry
from assay.spec import RunSpec, instantiate


class Reporter(Protocol):
    def __call__(self, step: int, metrics: Mapping[str, float]) -> bool:
        """Receive one evaluation; return True when the run should stop (pruned)."""


class NonFiniteLoss(Exception):
    pass


class Pruned(Exception):
    pass


@dataclass
class RunResult:
    key: str
    status: str                                  # finished | pruned | failed
    metrics: dict[str, float] = field(default_factory=dict)   # last evaluation + cost/*
    history: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    error: str = ""                              # one line: why it failed
    traceback: str = ""
    state_dict: dict[str, Any] | None = None     # trained weights, when asked for


# Datasets are deterministic in (config, seed): a worker builds each one once.
_DATA_CACHE: dict[str, Data] = {}


def load_data(reg: Registry, run: RunSpec) -> Data:
    from assay.spec import canonical

    key = canonical([run.dataset, run.seed])
    if key not in _DATA_CACHE:
        if len(_DATA_CACHE) > 8:
            _DATA_CACHE.clear()
        _DATA_CACHE[key] = instantiate(reg, "dataset", run.dataset).load(run.seed)  # type: ignore[attr-defined]
    return _DATA_CACHE[key]


def default_loss(output: torch.Tensor, y: torch.Tensor, data: Data) -> torch.Tensor:
    if data.task == "regression":
        return F.mse_loss(output, y)
    return F.cross_entropy(output.reshape(-1, output.shape[-1]), y.reshape(-1))


@dataclass
class RunContext:
    """Everything a method may read or change during a run."""

    run: RunSpec
    data: Data
    model: nn.Module
    device: torch.device
    methods: dict[str, Method]
    backend: Backend
    reporter: Reporter
    registry: Registry
    generator: torch.Generator
    train_idx: torch.Tensor | None = None        # subset chosen by a data-selection method
    optimizer: torch.optim.Optimizer | None = None
    param_groups: list[dict[str, Any]] = field(default_factory=list)
    history: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    last_train_loss: float = math.nan
    final_metrics: dict[str, float] = field(default_factory=dict)  # methods may add end-of-run
                                                                   # numbers here (e.g. "hessian/outliers")

    @property
    def total_steps(self) -> int:
        return self.run.train.steps

    @property
    def eval_every(self) -> int:
        return self.run.train.eval_every

    def batch(self, batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A random training batch (with replacement across steps, seeded)."""
        x, y = self.data.train
        pool = self.train_idx if self.train_idx is not None else None
        n = len(pool) if pool is not None else x.shape[0]
        idx = torch.randint(n, (batch_size or self.run.train.batch_size,), generator=self.generator)
        if pool is not None:
            idx = pool[idx]
        return x[idx].to(self.device), y[idx].to(self.device)

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss_method = self.methods.get("loss")
        with self.backend.autocast():
            if loss_method is not None:
                return loss_method.compute(model, x, y, self.data)  # type: ignore[attr-defined]
            return default_loss(model(x), y, self.data)

    @torch.no_grad()
    def evaluate(self, split: str = "val", chunk: int = 1024) -> dict[str, float]:
        x, y = self.data.val if split == "val" else self.data.train
        was_training = self.model.training
        self.model.eval()
        total, correct, n = 0.0, 0, 0
        for i in range(0, x.shape[0], chunk):
            xb, yb = x[i:i + chunk].to(self.device), y[i:i + chunk].to(self.device)
            with self.backend.autocast():
                out = self.model(xb)
            total += float(default_loss(out.float(), yb, self.data)) * xb.shape[0]
            if self.data.task != "regression":
                correct += int((out.argmax(-1) == yb).sum())
                n += yb.numel()
        self.model.train(was_training)
        metrics = {f"{split}/loss": total / x.shape[0]}
        if self.data.task != "regression":
            metrics[f"{split}/acc"] = correct / max(1, n)
        return metrics

    def evaluate_and_report(self, step: int, extra: Mapping[str, float] | None = None) -> None:
        """Evaluate, record, report; raises Pruned when the pruner says stop."""
        metrics = {"train/loss": self.last_train_loss, **self.evaluate(), **(extra or {})}
        if not math.isfinite(metrics["val/loss"]):
            raise NonFiniteLoss(f"val/loss became {metrics['val/loss']} at step {step}")
        self.history.append((step, metrics))
        self.registry.pm.hook.assay_step_end(run=self.run, step=step, metrics=metrics)  # type: ignore[attr-defined]
        if self.reporter(step, metrics) and step < self.total_steps:
            raise Pruned(f"pruned at step {step}")

    def set_lr(self, step: int) -> None:
        schedule = self.methods.get("schedule")
        factor = schedule.factor(step, self.total_steps) if schedule else 1.0  # type: ignore[attr-defined]
        assert self.optimizer is not None
        for group in self.optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
            group["lr"] = group["initial_lr"] * factor


def standard_loop(ctx: RunContext) -> None:
    """The plain supervised loop: batch -> loss -> backward -> before_step hooks -> step ->
    after_step hooks, with the schedule's learning rate."""
    run_steps(ctx, ctx.total_steps, ctx.set_lr)


def run_steps(ctx: RunContext, n_steps: int, set_lr: Callable[[int], None]) -> None:
    """``n_steps`` steps of the plain loop; ``set_lr(step)`` (from 0) sets the rates first.
    Trainers that only change the step count or the learning-rate rule call this instead of
    writing the loop again, so every method hook and evaluation behaves the same."""
    model, opt, clip = ctx.model, ctx.optimizer, ctx.run.train.grad_clip
    assert opt is not None
    base = Method.before_step
    grad_hooks = [m for m in ctx.methods.values() if type(m).before_step is not base]
    running, count = 0.0, 0
    for step in range(n_steps):
        set_lr(step)
        x, y = ctx.batch()
        loss = ctx.loss(model, x, y)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise NonFiniteLoss(f"train loss became {value} at step {step + 1}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        for method in grad_hooks:
            method.before_step(ctx, step + 1)
        opt.step()
        for method in ctx.methods.values():
            method.after_step(ctx, step + 1)
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
    from assay.builtin.optim import AdamW

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
