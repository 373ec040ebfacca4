"""Task streams for continual learning: which training examples each task of a sequence sees.

Written to move as it is into a shared ``assay.lib.streams`` module once a second
continual-learning plugin needs it (WAVES.md, G9): it knows nothing of assay, only labels,
index tensors and a torch generator, and every draw comes from the generator it is given, so a
stream is reproducible from a seed.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

__all__ = ["Task", "class_pools", "recurring_class_tasks", "task_batches"]


@dataclass(frozen=True)
class Task:
    """One task of a stream: its position (from 1), its classes and the indices of the
    training examples it may use."""

    index: int
    classes: tuple[int, ...]
    idx: torch.Tensor


def class_pools(labels: torch.Tensor, pool: torch.Tensor | None = None
                ) -> dict[int, torch.Tensor]:
    """The indices of every class's examples, restricted to ``pool`` (indices) when given."""
    idx = torch.arange(len(labels)) if pool is None else pool
    own = labels[idx]
    return {int(c): idx[own == c] for c in own.unique().tolist()}


def recurring_class_tasks(labels: torch.Tensor, n_tasks: int, classes_per_task: int,
                          generator: torch.Generator, pool: torch.Tensor | None = None
                          ) -> Iterator[Task]:
    """SCoLe's stream: each of ``n_tasks`` tasks draws ``classes_per_task`` distinct classes
    uniformly from all the classes present, independently of the other tasks, so classes come
    back again and again at random intervals; a task holds every training example of its
    classes."""
    pools = class_pools(labels, pool)
    classes = sorted(pools)
    if not 1 <= classes_per_task <= len(classes):
        raise ValueError(f"classes_per_task must be in [1, {len(classes)}], got "
                         f"{classes_per_task}")
    for index in range(1, n_tasks + 1):
        pick = torch.randperm(len(classes), generator=generator)[:classes_per_task]
        chosen = tuple(sorted(classes[i] for i in pick.tolist()))
        yield Task(index, chosen, torch.cat([pools[c] for c in chosen]))


def task_batches(idx: torch.Tensor, batch_size: int, n_batches: int,
                 generator: torch.Generator) -> Iterator[torch.Tensor]:
    """``n_batches`` minibatches of ``idx``: shuffled passes without replacement, reshuffled
    at every pass (a batch may span the end of one pass and the start of the next)."""
    order = idx[torch.randperm(len(idx), generator=generator)]
    pos = 0
    for _ in range(n_batches):
        parts, need = [], batch_size
        while need:
            if pos == len(order):
                order, pos = idx[torch.randperm(len(idx), generator=generator)], 0
            take = order[pos:pos + need]
            parts.append(take)
            pos, need = pos + len(take), need - len(take)
        yield torch.cat(parts)
