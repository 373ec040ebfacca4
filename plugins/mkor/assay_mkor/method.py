"""MKOR (arXiv:2306.01685) and the trainer its claims measure with.

KFAC preconditions the gradient of a linear layer ``W`` (out x in, bias as an extra input
column) with the inverses of two Kronecker factors, the covariance of the layer's inputs
``A = E[a a^T]`` and of the gradients at its outputs ``G = E[g g^T]``:
``dW = G^-1 grad(W) A^-1``. Inverting those factors costs O(d^3), so KFAC refreshes them
rarely. MKOR never forms a factor: it keeps the inverses ``J_A``, ``J_G`` and changes them
every ``inv_freq`` steps by a rank-1 update whose vector is the batch mean (the rank-1
approximation of the batch's covariance), inverted in O(d^2) by Sherman-Morrison:

    M    = gamma * J + (1 - gamma) * I             # decay the old inverse toward identity
    J'   = (M^-1 + v v^T)^-1                        # add the rank-1 statistic v v^T
         = M - (M v)(v^T M) / (1 + v^T M v)         # Sherman-Morrison, O(d^2)

with ``v = mean_b a_b`` (inputs, 1 appended for the bias) for ``J_A`` and ``v = sum_b g_b``
(the per-example output gradients' mean: the loss is a batch mean) for ``J_G``. Then, per
layer:

    U  = J_G [grad W | grad b] J_A
    U <- U * ||[grad W | grad b]|| / ||U||          # gradient rescaling (Sec. 3.3)
    W <- SGD-with-momentum step on U                # the momentum of the name

and the norm-based stabilizer: when an inverse factor has an entry larger than
``stabilize_at`` in magnitude, both of the layer's factors are blended toward the identity,
``J <- (1 - zeta) J + zeta I``, at their next update instead of taking the rank-1 step.

This is the rule of the authors' released code (``mkor/mkor.py`` and ``utils/factors.py`` of
github.com/Mohammad-Mozaffari/mkor: ``sm_inverse(0.95 * J + 0.05 * I, v)``, the batch means,
the norm fixer and the reset), written here from those equations. No maintained library
implements MKOR (or KFAC) for PyTorch; ``tests/test_mkor.py`` checks every step against a
dense inverse and a hand-computed update.
"""
from __future__ import annotations

import math
import time
from typing import Any, ClassVar

import torch
from assay import Config, Optimizer, Paper, RunContext, Trainer
from torch import nn

from assay_mkor.config import MKORConfig, StepsToLossConfig

PAPER = Paper(title="MKOR: Momentum-Enabled Kronecker-Factor-Based Optimizer Using Rank-1 "
                    "Updates", arxiv="2306.01685", year=2023)


def sherman_morrison(inv: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``(inv^-1 + v v^T)^-1`` from ``inv`` (symmetric) in O(d^2)."""
    iv = inv @ v
    return inv - torch.outer(iv, iv) / (1.0 + v @ iv)


class LayerFactors:
    """One linear layer's inverse factors and the rank-1 statistics of its last batch."""

    def __init__(self, layer: nn.Linear) -> None:
        self.layer = layer
        n_in = layer.in_features + (layer.bias is not None)
        self.j_a = torch.eye(n_in, device=layer.weight.device)
        self.j_g = torch.eye(layer.out_features, device=layer.weight.device)
        self.a: torch.Tensor | None = None          # mean input (1 appended for the bias)
        self.g: torch.Tensor | None = None          # sum over rows of the output gradient
        self.reset = False
        self.resets = 0                             # stabilizer blends so far

    def record_input(self, x: torch.Tensor) -> None:
        a = x.detach().reshape(-1, x.shape[-1]).mean(0)
        if self.layer.bias is not None:
            a = torch.cat([a, a.new_ones(1)])
        self.a = a

    def record_output_grad(self, g: torch.Tensor) -> None:
        self.g = g.detach().reshape(-1, g.shape[-1]).sum(0)

    def update(self, gamma: float, zeta: float, stabilize_at: float) -> None:
        """One rank-1 step of both inverse factors (or the stabilizer's blend)."""
        if self.a is None or self.g is None:
            return
        if self.reset:
            self.j_a = (1 - zeta) * self.j_a + zeta * torch.eye(len(self.j_a), device=self.a.device)
            self.j_g = (1 - zeta) * self.j_g + zeta * torch.eye(len(self.j_g), device=self.g.device)
            self.reset = False
            return
        self.j_a = sherman_morrison(gamma * self.j_a + (1 - gamma) * torch.eye(
            len(self.j_a), device=self.a.device), self.a)
        self.j_g = sherman_morrison(gamma * self.j_g + (1 - gamma) * torch.eye(
            len(self.j_g), device=self.g.device), self.g)
        largest = max(float(self.j_a.abs().max()), float(self.j_g.abs().max()))
        if not math.isfinite(largest):                    # start again from the identity
            self.j_a, self.j_g = (torch.eye(len(j), device=j.device) for j in (self.j_a,
                                                                                self.j_g))
        self.reset = not largest <= stabilize_at
        self.resets += self.reset

    def grad_matrix(self) -> torch.Tensor | None:
        w = self.layer.weight.grad
        if w is None:
            return None
        b = self.layer.bias
        return w if b is None else torch.cat([w, b.grad.reshape(-1, 1)], dim=1)

    def precondition(self, rescale: bool) -> None:
        """Replace the layer's gradients by ``J_G grad J_A`` (rescaled to the gradient's norm)."""
        grad = self.grad_matrix()
        if grad is None:
            return
        update = self.j_g @ grad @ self.j_a
        if rescale:
            factor = grad.norm() / update.norm()
            if not math.isfinite(float(factor)):
                return                                      # a zero gradient: leave it
            update = update * factor
        n_in = self.layer.in_features
        self.layer.weight.grad.copy_(update[:, :n_in])
        if self.layer.bias is not None:
            self.layer.bias.grad.copy_(update[:, n_in])


class MKOR(Optimizer):
    """MKOR: rank-1 Sherman-Morrison KFAC preconditioning, then SGD with momentum. Every
    ``nn.Linear`` of the model is preconditioned; other parameters get plain SGD."""

    name = "mkor"
    Config = MKORConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"optimizer": {"name": "mkor", "lr": 0.1}}}

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self.layers: list[LayerFactors] = []
        self._handles: list[Any] = []

    def attach(self, model: nn.Module) -> None:
        """Hook every linear layer: its input mean on each forward with gradients enabled,
        its output-gradient sum on each backward."""
        for handle in self._handles:
            handle.remove()
        self.layers, self._handles = [], []
        for module in model.modules():
            if isinstance(module, nn.Linear):
                factors = LayerFactors(module)
                self.layers.append(factors)
                self._handles.append(module.register_forward_hook(self._hook(factors)))

    @staticmethod
    def _hook(factors: LayerFactors) -> Any:
        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...],
                   output: torch.Tensor) -> None:
            if torch.is_grad_enabled() and output.requires_grad:
                factors.record_input(inputs[0])
                output.register_hook(factors.record_output_grad)
        return record

    def setup(self, ctx: RunContext) -> None:
        self.attach(ctx.model)

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        from assay.lib.optim import scaled_groups

        c = self.config
        return torch.optim.SGD(scaled_groups(param_groups, c.lr, c.weight_decay), lr=c.lr,
                               momentum=c.momentum)

    def precondition(self, step: int) -> None:
        """Update the inverse factors (every ``inv_freq`` steps, from step 1) and replace
        every hooked layer's gradient by its preconditioned, rescaled version."""
        c = self.config
        for factors in self.layers:
            if (step - 1) % c.inv_freq == 0:
                factors.update(c.gamma, c.zeta, c.stabilize_at)
            factors.precondition(c.rescale)

    def before_step(self, ctx: RunContext, step: int) -> None:
        self.precondition(step)

    def after_train(self, ctx: RunContext) -> None:
        ctx.final_metrics["mkor/stabilizer_resets"] = float(sum(f.resets for f in self.layers))


class StepsToLoss(Trainer):
    """The standard minibatch loop, counting steps until the full training loss reaches
    ``target_loss`` and timing each step (forward, backward, every hook, update).

    Records ``train/steps_to_target`` (the budget plus one when never reached, with
    ``train/reached`` 0), ``train/diverged`` (the loss stopped being finite: the run ends
    there, counted as never reaching the target), and the step's mean wall and process-CPU
    milliseconds ``cost/step_ms`` and ``cost/step_cpu_ms``.
    """

    name = "mkor-steps-to-loss"
    Config = StepsToLossConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"trainer": {"name": "mkor-steps-to-loss", "target_loss": 0.01,
                                "stop_at_target": False},
                    "optimizer": {"name": "adamw", "lr": 1e-2}}}

    def train(self, ctx: RunContext) -> None:
        c = self.config
        reached, diverged, wall, cpu = 0, False, 0.0, 0.0
        running, count, step = 0.0, 0, 0
        for step in range(1, ctx.total_steps + 1):
            ctx.set_lr(step - 1)
            x, y = ctx.batch()
            t0, c0 = time.perf_counter(), time.process_time()
            loss = ctx.loss(ctx.model, x, y)
            value = float(loss.detach())
            if not math.isfinite(value):
                diverged = True
                break
            ctx.optimizer_step(loss, step)
            wall, cpu = wall + time.perf_counter() - t0, cpu + time.process_time() - c0
            running, count = running + value, count + 1
            if step % c.probe_every == 0 and not reached:
                full = ctx.evaluate("train")["train/loss"]
                if not math.isfinite(full):
                    diverged = True
                    break
                reached = step if full <= c.target_loss else 0
            done = bool(reached) and c.stop_at_target
            if done or step % ctx.eval_every == 0 or step == ctx.total_steps:
                ctx.last_train_loss, running, count = running / max(count, 1), 0.0, 0
                ctx.evaluate_and_report(step)
            if done:
                break
        taken = max(step - diverged, 1)
        ctx.final_metrics.update({
            "train/steps_to_target": float(reached or ctx.total_steps + 1),
            "train/reached": float(bool(reached)),
            "train/diverged": float(diverged),
            "cost/step_ms": 1e3 * wall / taken,
            "cost/step_cpu_ms": 1e3 * cpu / taken,
        })
