"""Model-free forward-forward training (MF-FF) of a physical network, and its backprop arm.

MF-FF (Momeni et al., arXiv:2304.11042; official code github.com/MomeniAli/PhyLL): for each
batch, a positive sample (the image with its label appended) and a negative one (the same
image with a uniformly drawn wrong label) are sent through physical layer 1 and measured.
Digital layer 1 is updated on its local loss ``softplus(-theta (G(h+) - G(h-)))`` (:mod:`.ff`),
its outputs (detached) go through physical layer 2, and so on. A digital layer's gradient
comes from its own output only: the physical layers are only ever *run*, never
differentiated, so the device can stay a black box. Each local update is one run step,
taken with ``ctx.optimizer_step`` (the other methods' hooks run around every one).

``mode: backprop`` is the comparison arm: the standard loop (``ctx.run_steps``), cross-entropy
of a linear readout, gradients through the physical layers (``physics: exact`` or ``twin``).

Both modes record ``phys/grad_queries`` (backward passes through physical layers) and
``phys/forward_queries`` (physical-layer runs on batches, for the paper's cost argument).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Trainer, UserError

from assay_mf_forward_forward_physical.config import LossRule, MFForwardForwardConfig

from .ff import ff_loss, wrong_labels
from .physical import PAPER, PhysicalNet

if TYPE_CHECKING:
    from assay import RunContext


class MFForwardForward(Trainer):
    """Model-free forward-forward training of the digital layers of a ``physical-net``."""

    name = "mf-forward-forward"
    Config = MFForwardForwardConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "dataset": {"name": "digits", "n_train": 256},
        "model": {"name": "physical-net", "width": 32},
        "methods": {"trainer": {"name": "mf-forward-forward"},
                    "optimizer": {"name": "adamw", "lr": 1e-2}},
        "train": {"steps": 30, "batch_size": 64}}

    def train(self, ctx: RunContext) -> None:
        net = ctx.model
        if not isinstance(net, PhysicalNet):
            raise UserError("methods.trainer: mf-forward-forward trains the model "
                            "'physical-net'")
        self.forward_queries = 0
        if self.config.mode == "backprop":
            if net.readout is None:
                raise UserError("mode backprop needs model.readout: linear")
            ctx.run_steps(ctx.total_steps)
            self.forward_queries = ctx.total_steps * len(net.physical)
        else:
            if net.readout is not None:
                raise UserError("mode forward-forward needs model.readout: goodness")
            self.forward_forward(ctx, net)
        ctx.final_metrics.update({"phys/grad_queries": float(net.grad_queries),
                                  "phys/forward_queries": float(self.forward_queries)})

    def forward_forward(self, ctx: RunContext, net: PhysicalNet) -> None:
        gen = torch.Generator().manual_seed(ctx.run.seed + 2304)     # the negatives' labels
        step, total, losses = 0, ctx.total_steps, []
        while step < total:
            x, y = ctx.batch()
            h_pos = net.encode(x, y)
            h_neg = net.encode(x, wrong_labels(y, net.n_classes, gen))
            for k in range(len(net.digital)):
                p_pos, p_neg = net.measure(k, h_pos), net.measure(k, h_neg)
                self.forward_queries += 2
                for _ in range(self.config.inner_steps):
                    if step == total:
                        return
                    ctx.set_lr(step)
                    loss = self.local_loss(net, k, p_pos, p_neg)
                    step += 1
                    ctx.optimizer_step(loss, step)
                    losses.append(float(loss.detach()))
                    if step % ctx.eval_every == 0 or step == total:
                        ctx.last_train_loss, losses = sum(losses) / len(losses), []
                        ctx.evaluate_and_report(step)
                with torch.no_grad():
                    h_pos, h_neg = net.digital[k](p_pos), net.digital[k](p_neg)

    def local_loss(self, net: PhysicalNet, k: int, p_pos: torch.Tensor,
                   p_neg: torch.Tensor) -> torch.Tensor:
        """Layer ``k``'s forward-forward loss on measured physical outputs (no graph behind
        them: the gradient stops at the digital layer's input)."""
        g_pos = net.layer_goodness(k, net.digital[k](p_pos.detach()))
        g_neg = net.layer_goodness(k, net.digital[k](p_neg.detach()))
        return ff_loss(g_pos, g_neg, net.theta, self.config.rule)
