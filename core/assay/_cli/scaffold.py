"""``assay new plugin NAME``: a new paper plugin in the shape of ``plugins/lion/``.

The generated plugin installs and passes its own tests at once: its method is a working
placeholder (plain SGD without momentum) that passes the contract kit, and its claim's check
returns FAIL ("claim not written yet") until the author writes it. Templates are plain
``string.Template`` text (``$slug``, ``$pkg``, ``$cls``); no cookiecutter needed.
"""
from __future__ import annotations

import keyword
import re
import shutil
import tempfile
from pathlib import Path
from string import Template

from assay import UserError

_SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_RESERVED = {"builtin", "assay"}           # "builtin" is the core's own plugin name
_TAKEN = {"Config", "Optimizer", "Paper", "Field", "Any", "Claim", "Metrics", "Verdict"}

PYPROJECT = """\
[project]
name = "assay-$slug"
version = "0.1.0"
description = "FILL IN: method (authors year, arXiv:NNNN.NNNNN) for assay"
requires-python = ">=3.10"
dependencies = ["assay>=1,<2", "torch"]

[project.entry-points.assay]
$slug = "assay_$pkg"

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["assay_$pkg"]
"""

README = """\
# assay-$slug

## What it is
FILL IN: two or three sentences in your own words: what the method changes in training and why it
should help. The generated `$slug` optimizer is a placeholder (plain SGD without momentum)
showing the shape of a method; replace it with the paper's.

## Paper
FILL IN: Authors, *Title*, year, arXiv:NNNN.NNNNN.

## Claims
| id | claim (our words) | source | budget | measured | status |
|---|---|---|---|---|---|
| `$slug:headline` | FILL IN: the paper's headline result, in our words | FILL IN: Sec. / Fig. | ~1 min, 2 cores | pending: assay verify $slug --budget full | not written yet (the check returns FAIL) |

## Usage
```
assay run examples/quickstart.yaml -o methods.optimizer.name=$slug -o methods.optimizer.lr=0.1
```
In an experiment file: `methods: {optimizer: {name: $slug, lr: 0.1}}`.
Develop: `pip install -e plugins/$slug`, then `pytest plugins/$slug`.

## Deviations from the paper
FILL IN: scale, datasets, hyperparameters that differ from the paper, and why.
"""

INIT = '''\
"""$cls: FILL IN one line on what the paper contributes.

The hooks import the method when they are called, not with this package: validating an
experiment imports only ``config.py`` (no torch), and that needs this file to stay light.
"""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import $cls

    return [$cls]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
'''

CONFIG = '''\
"""$cls's config: every knob, typed, with its default and bounds.

It lives apart from the method, in a module that imports no torch, so that assay validates
an experiment naming $slug (and computes its run key) without importing torch: it imports
a component's config from the module that defines it. Keep it that way.
"""
from __future__ import annotations

from pydantic import Field

from assay import Config


class ${cls}Config(Config):
    """Paper: FILL IN https://arxiv.org/abs/NNNN.NNNNN - what the method changes."""

    lr: float = Field(0.1, gt=0, le=10, description="Learning rate")
    weight_decay: float = Field(0.0, ge=0, le=1, description="L2 penalty added to the gradient")
'''

METHOD = '''\
"""$cls: FILL IN describe the method and write its update rule here.

The generated placeholder is plain SGD without momentum, for gradient g and weights w:

    w = w - lr * (g + weight_decay * w)

Replace it with the paper's method (any slot: optimizer, schedule, adapter, ...; see
``assay.kinds``) and keep ``tests/test_$pkg.py`` checking the rule by hand. Prefer a
maintained library implementation where one exists, and test that it follows the paper.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from assay import Optimizer, Paper

from .config import ${cls}Config

PAPER = Paper(title="FILL IN: the paper's title", arxiv="", year=None)


class _PlainSGD(torch.optim.Optimizer):
    def __init__(self, params: Any, lr: float, weight_decay: float) -> None:
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad + group["weight_decay"] * p, alpha=-group["lr"])
        return loss


class $cls(Optimizer):
    """FILL IN: one line naming the method."""

    name = "$slug"
    Config = ${cls}Config
    paper = PAPER

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        from assay.lib.optim import scaled_groups

        c = self.config
        return _PlainSGD(scaled_groups(param_groups, c.lr, c.weight_decay), lr=c.lr,
                         weight_decay=c.weight_decay)
'''

CLAIMS = '''\
"""$cls's claims at small scale. FILL IN: state the paper's headline result as a check.

A check returns, per seed, the claim's effect(s) with the paper's side of a threshold fixed
before any number is seen (``at_least``/``at_most``/``between``); ``assay verify`` decides
PASS/FAIL/INCONCLUSIVE from the t-interval over seeds. Guards (``invalid``,
``not_established``, ``vacuous``) mark a diverged baseline, a tuned optimum at its grid's edge
and a premise that never occurred. See ``assay.claims``.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import at_least


def headline(m: Metrics) -> Verdict:
    """FILL IN: turn the arms' numbers into an effect, e.g. ``at_most("loss_ratio",
    m["$slug/val/loss"] / m["adamw/val/loss"], 1.0)`` against a baseline arm. Until then the
    placeholder effect (0, paper's side >= 1) makes the claim FAIL."""
    loss = m.get("$slug/val/loss", math.nan)
    return Verdict(f"claim not written yet (val/loss {loss:.4f})",
                   [at_least("written", 0.0, 1.0)], numbers={"val_loss": loss})


CLAIMS = [
    Claim(
        id="$slug:headline",
        statement="FILL IN: the paper's headline result, in our words",
        source="FILL IN: arXiv:NNNN.NNNNN, Sec. ?",
        arms={"$slug": "configs/claim.yaml"},
        check=headline, package=__package__, seeds=3, budget_s=120,
    ),
]
'''

CLAIM_YAML = """\
# Claim arm: $slug on a digits MLP. FILL IN: add a baseline arm (e.g. adamw) to compare against.
name: $slug-claim
dataset: {name: digits}
model: {name: mlp, width: 64, depth: 2}
methods:
  optimizer: {name: $slug, lr: 0.1}
backend: {name: cpu}
train: {steps: 200, batch_size: 64, eval_every: 50}
objective: {metric: val/loss, direction: minimize}
"""

TEST = '''\
from __future__ import annotations

import pytest
import torch

from assay import load
from assay.claims import decide
from assay.testing import MethodContract, negative_control
from assay_$pkg.claims import CLAIMS, headline
from assay_$pkg.config import ${cls}Config
from assay_$pkg.method import $cls


class Test${cls}Contract(MethodContract):
    """The contract kit every method passes (config, tiny run lowers loss, seeds repeat)."""

    @pytest.fixture
    def component(self) -> type[$cls]:
        return $cls


def test_update_matches_hand_computed_rule() -> None:
    # w1 = w0 - lr * (g + wd * w0), written out by hand
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    opt = $cls(${cls}Config(lr=0.1, weight_decay=0.5)).build([{"params": [w]}])
    w.grad = torch.tensor([0.3, -1.0, 0.0])
    opt.step()
    expected = torch.tensor([1.0 - 0.1 * (0.3 + 0.5), -2.0 - 0.1 * (-1.0 - 1.0), 0.5 - 0.1 * 0.25])
    torch.testing.assert_close(w.detach(), expected)


def test_claim_check_fails_until_written() -> None:
    # When you write the check, replace this with made-up seeds that PASS, FAIL, straddle.
    seeds = [headline({"$slug/val/loss": v}) for v in (0.10, 0.11, 0.09)]
    assert decide(seeds).status == "FAIL"
    assert "claim not written yet" in seeds[0].detail


@pytest.mark.slow
def test_negative_control_does_not_pass(tmp_path) -> None:
    """The check with the method's effect removed (here: one training step) must not PASS."""
    out = negative_control("$slug:headline", overrides={"$slug": {"train.steps": 1}},
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


def test_claim_arms_are_valid_experiments() -> None:
    for claim in CLAIMS:
        for arm in claim.arms:
            loaded = load(claim.arm_path(arm))   # validates every field against the registry
            assert loaded.run.methods["optimizer"]["name"] == "$slug"
'''


def _names(name: str) -> dict[str, str]:
    pkg = name.replace("-", "_")
    cls = "".join(part[:1].upper() + part[1:] for part in name.split("-"))
    if cls in _TAKEN:
        cls += "Method"
    return {"slug": name, "pkg": pkg, "cls": cls}


def validate_name(name: str, parent: Path) -> None:
    """Raise UserError unless ``name`` is a usable, free plugin slug."""
    if not _SLUG.match(name):
        raise UserError(f"plugin name {name!r} must be lowercase kebab-case: letters, digits and "
                        "single hyphens, starting with a letter (e.g. 'lora-ga')")
    if name in _RESERVED or keyword.iskeyword(name):
        raise UserError(f"plugin name {name!r} is reserved; choose another")
    if (parent / name).exists():
        raise UserError(f"{parent / name} already exists; choose another name or --dir")
    if parent.exists() and not parent.is_dir():
        raise UserError(f"--dir {parent} is not a directory")


def new_plugin(name: str, parent: Path) -> Path:
    """Write ``parent/name/`` (pyproject, README, package, configs, tests); return its path."""
    validate_name(name, parent)
    n = _names(name)
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"assay_{n['pkg']}/__init__.py": INIT,
        f"assay_{n['pkg']}/config.py": CONFIG,
        f"assay_{n['pkg']}/method.py": METHOD,
        f"assay_{n['pkg']}/claims.py": CLAIMS,
        f"assay_{n['pkg']}/configs/claim.yaml": CLAIM_YAML,
        f"tests/test_{n['pkg']}.py": TEST,
    }
    parent.mkdir(parents=True, exist_ok=True)
    # write into a sibling temporary folder, then rename: no half-written plugin on failure
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=parent))
    try:
        for rel, template in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(Template(template).substitute(n))
        target = parent / name
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
