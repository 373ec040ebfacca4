"""The configs of scole's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field


class SCoLeConfig(Config):
    """Paper: https://arxiv.org/abs/2207.04543 - a long stream of short tasks over randomly
    recurring classes, trained with plain steps (no replay, no regulariser)."""

    classes_per_task: int = Field(2, ge=1, le=1000, description="C: classes drawn (uniformly, "
                                                                "without repeats) per task")
    steps_per_task: int = Field(9, ge=1, description=(
        "Minibatches per task, in shuffled passes over its examples (the run has "
        "train.steps // steps_per_task tasks)"))
    mask: bool = Field(True, description="Loss over the current task's logits only (the "
                                         "shared head's other rows get no gradient)")
    record_tasks: list[int] = Field([1, 2, 5, 10, 20, 50, 100, 200, 500], description=(
        "Tasks after which the all-class validation accuracy is recorded as "
        "scole/acc/task_<k> (the last task always is)"))
