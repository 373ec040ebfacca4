"""The paper's data: a linear teacher y = W* x (+ noise) with chosen singular values, on
whitened inputs (arXiv:1312.6120, Sec. 2). The teacher is the core's ``linear-teacher``
(``assay.lib.data.LinearTeacher``), registered here under the paper's name as well so that
the claims' arm files keep their meaning.
"""
from __future__ import annotations

from assay.lib.data import LinearTeacher as _LinearTeacher
from assay.lib.data import LinearTeacherConfig, teacher, whiten

from .model import PAPER

__all__ = ["LinearTeacher", "LinearTeacherConfig", "teacher", "whiten"]


class LinearTeacher(_LinearTeacher):
    """Gaussian (optionally whitened) inputs labelled by a fixed low-rank linear map."""

    name = "saxe-deep-linear-teacher"
    paper = PAPER
