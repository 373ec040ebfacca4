from __future__ import annotations

import math
from collections import Counter
from importlib import resources

import pytest
import torch
import torch.nn.functional as F
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, build_context, execute, load_yaml, negative_control
from assay_scole.claims import CLAIMS, accumulates
from assay_scole.method import SCoLe, SCoLeConfig, masked_cross_entropy
from assay_scole.streams import class_pools, recurring_class_tasks, task_batches

LABELS = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 4, 4])

# --- the task stream ----------------------------------------------------------------------------


def test_each_task_draws_distinct_classes_and_holds_all_their_examples():
    gen = torch.Generator().manual_seed(0)
    for task in recurring_class_tasks(LABELS, 50, 2, gen):
        assert len(set(task.classes)) == 2
        want = torch.isin(LABELS, torch.tensor(task.classes)).nonzero().flatten()
        assert sorted(task.idx.tolist()) == want.tolist()


def test_classes_recur_uniformly_and_the_stream_repeats_from_its_seed():
    def draw(seed):
        gen = torch.Generator().manual_seed(seed)
        return [t.classes for t in recurring_class_tasks(LABELS, 2000, 2, gen)]

    counts = Counter(c for classes in draw(1) for c in classes)
    assert set(counts) == {0, 1, 2, 3, 4}
    assert all(abs(n / 4000 - 1 / 5) < 0.03 for n in counts.values())   # 2 of 5 each task
    assert draw(1) == draw(1) and draw(1) != draw(2)


def test_a_pool_restricts_the_stream_and_bad_class_counts_are_refused():
    pool = torch.tensor([0, 1, 4, 5])                   # classes 0 and 1 only
    assert {k: v.tolist() for k, v in class_pools(LABELS, pool).items()} == {0: [0, 4],
                                                                             1: [1, 5]}
    gen = torch.Generator().manual_seed(0)
    assert next(recurring_class_tasks(LABELS, 1, 2, gen, pool)).classes == (0, 1)
    with pytest.raises(ValueError, match="classes_per_task"):
        next(recurring_class_tasks(LABELS, 1, 3, gen, pool))


def test_task_batches_are_shuffled_passes_without_replacement():
    idx = torch.arange(10, 22)                           # 12 examples
    gen = torch.Generator().manual_seed(0)
    batches = list(task_batches(idx, 4, 6, gen))         # two full passes
    assert all(len(b) == 4 for b in batches)
    first, second = torch.cat(batches[:3]), torch.cat(batches[3:])
    assert sorted(first.tolist()) == sorted(second.tolist()) == idx.tolist()
    assert not torch.equal(first, second)
    spill = list(task_batches(idx, 5, 3, torch.Generator().manual_seed(1)))   # 15 > 12
    assert sorted(torch.cat(spill)[:12].tolist()) == idx.tolist()


# --- the masked loss and the trainer ------------------------------------------------------------


def test_masked_loss_is_cross_entropy_over_the_task_logits():
    torch.manual_seed(0)
    logits = torch.randn(6, 5, requires_grad=True)
    y = torch.tensor([1, 3, 3, 1, 1, 3])
    loss = masked_cross_entropy(logits, y, (1, 3))
    want = F.cross_entropy(logits[:, [1, 3]], (y == 3).long())
    torch.testing.assert_close(loss, want)
    (grad,) = torch.autograd.grad(loss, logits)
    assert grad[:, [0, 2, 4]].abs().max() == 0 and grad[:, [1, 3]].abs().max() > 0


def _exp(steps: int = 9, eval_every: int = 9, **trainer) -> dict:
    return {"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 32, "depth": 1},
            "methods": {"trainer": {"name": "scole", "steps_per_task": 9, **trainer},
                        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.0}},
            "backend": {"name": "cpu"}, "train": {"steps": steps, "batch_size": 32,
                                                  "eval_every": eval_every}}


def test_with_the_mask_only_the_task_rows_of_the_head_move():
    ctx = build_context(load(_exp()).run)
    ctx.optimizer = ctx.methods["optimizer"].build(ctx.param_groups)
    before = ctx.model.readout.weight.detach().clone()
    state = ctx.generator.get_state()
    task = next(recurring_class_tasks(ctx.data.train[1], 1, 2, ctx.generator))
    ctx.generator.set_state(state)                       # the trainer draws the same task
    SCoLe(SCoLeConfig(steps_per_task=9)).train(ctx)
    moved = (ctx.model.readout.weight.detach() != before).any(dim=1)
    assert moved.nonzero().flatten().tolist() == list(task.classes)
    assert ctx.final_metrics["scole/tasks"] == 1


def test_without_the_mask_every_row_of_the_head_moves():
    ctx = build_context(load(_exp(mask=False)).run)
    ctx.optimizer = ctx.methods["optimizer"].build(ctx.param_groups)
    before = ctx.model.readout.weight.detach().clone()
    SCoLe(SCoLeConfig(steps_per_task=9, mask=False)).train(ctx)
    assert (ctx.model.readout.weight.detach() != before).any(dim=1).all()


def test_a_stream_records_the_all_class_accuracy_after_chosen_tasks():
    result = execute(load(_exp(steps=9 * 12 + 4, eval_every=20, record_tasks=[1, 5])).run)
    assert result.status == "finished", result.error
    m = result.metrics
    assert m["scole/tasks"] == 12 and m["scole/acc/task_12"] == m["val/acc"]
    assert {k for k in m if k.startswith("scole/acc/")} == {
        "scole/acc/task_1", "scole/acc/task_5", "scole/acc/task_12"}
    # evaluations at task ends only (every 9 steps): the recorded tasks 1 and 5, the last
    # (12), and the first end after each multiple of 20 steps (27, 45, 63, 81, 108)
    assert [s for s, _ in result.history] == [9, 27, 45, 63, 81, 108]
    assert [h["scole/task"] for _, h in result.history] == [1, 3, 5, 7, 9, 12]


@pytest.mark.parametrize("exp,match", [
    (_exp(steps=5), "less than one task"),
    ({**_exp(), "dataset": {"name": "synthetic-regression"}}, "classification"),
])
def test_bad_setups_are_refused(exp, match):
    result = execute(load(exp).run)
    assert result.status == "failed" and match in result.error and "UserError" in result.error


class TestSCoLeContract(MethodContract):
    @pytest.fixture
    def component(self):
        return SCoLe


def test_the_arm_file_loads():
    arm = resources.files("assay_scole").joinpath(CLAIMS[0].arms["stream"])
    run = load(load_yaml(arm)).run
    assert run.train.steps // run.methods["trainer"]["steps_per_task"] == 500


# --- the check on made-up numbers ---------------------------------------------------------------


def _seed(final: float, early: float = 0.45) -> dict[str, float]:
    return {"stream/val/acc": final, "stream/scole/acc/task_20": early,
            "stream/scole/tasks": 500.0, "stream/scole/acc/task_1": 0.1,
            "stream/scole/acc/task_100": 0.7}


def test_check_decides_from_the_interval_over_seeds():
    assert decide([accumulates(_seed(v)) for v in (0.88, 0.9, 0.89)]).status == "PASS"
    assert decide([accumulates(_seed(v)) for v in (0.6, 0.62, 0.58)]).status == "FAIL"
    flat = [accumulates(_seed(0.9, early=0.85)) for _ in range(3)]       # high, but no growth
    assert decide(flat).status == "FAIL"
    assert decide([accumulates(_seed(v)) for v in (0.7, 0.95, 0.82)]).status == "INCONCLUSIVE"
    diverged = [accumulates(_seed(math.nan))] * 3
    assert decide(diverged).status == "INVALID"
    short = [accumulates({k: v for k, v in _seed(0.9).items() if "task_20" not in k})] * 3
    assert decide(short).status == "INVALID"


@pytest.mark.slow
def test_negative_control_one_class_per_task_without_mask_does_not_pass(tmp_path):
    """Each task teaching a single class to an unmasked head makes the model answer the last
    task's class: nothing can accumulate, so the claim must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("scole:accumulates", overrides={"stream": {
        "methods.trainer.classes_per_task": 1, "methods.trainer.mask": False}},
        seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
