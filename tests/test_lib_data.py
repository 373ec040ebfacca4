"""assay.lib.data.LinearTeacher: ``per_seed`` draws a new problem for every run seed."""
from __future__ import annotations

import numpy as np
import torch
from assay.lib.data import LinearTeacher, LinearTeacherConfig


def _load(seed: int, **kw) -> tuple:
    cfg = LinearTeacherConfig(n_train=20, n_val=10, in_dim=5, out_dim=1, singular_values=[1.0],
                              whiten=False, **kw)
    data = LinearTeacher(cfg).load(seed)
    return data.train[0], data.info["teacher"]


def test_data_seed_alone_fixes_the_problem_across_run_seeds():
    (x0, w0), (x1, w1) = _load(0), _load(1)
    torch.testing.assert_close(x0, x1)
    np.testing.assert_array_equal(w0, w1)


def test_per_seed_draws_a_new_teacher_and_inputs_for_every_seed_repeatably():
    (x0, w0), (x1, w1) = _load(0, per_seed=True), _load(1, per_seed=True)
    assert not torch.equal(x0, x1) and not np.array_equal(w0, w1)
    x0b, w0b = _load(0, per_seed=True)
    torch.testing.assert_close(x0, x0b)
    np.testing.assert_array_equal(w0, w0b)
