"""Claims: verdict logic (fast), every plugin's shape (fast), every claim at smoke budget (slow)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from assay._plugins.registry import registry
from assay.claims import Claim, Verdict, at_most

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIRS = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists())
SECTIONS = ["What it is", "Paper", "Claims", "Usage", "Deviations from the paper"]


def _claim(threshold: float) -> Claim:
    return Claim(id="t:x", statement="s", source="src", arms={}, package="assay",
                 check=lambda m: Verdict(f"x={m['a/x']}", [at_most("x", m["a/x"], threshold)],
                                         numbers={"x": m["a/x"]}))


@pytest.mark.parametrize("values,expected", [([0.1, 0.2, 0.3], "PASS"), ([2.9, 3, 3.1], "FAIL"),
                                             ([0.1, 0.9, 1.5], "INCONCLUSIVE")])
def test_claim_decides_from_the_interval_over_seeds(values, expected):
    claim = _claim(1.0)
    decision = claim.decide([claim.check({"a/x": v}) for v in values])
    assert decision.status == expected
    assert decision.effects[0].mean == pytest.approx(sum(values) / 3)
    assert decision.effects[0].values == tuple(values)


def test_claim_ids_are_checked():
    with pytest.raises(ValueError):
        Claim(id="NoColon", statement="", source="", arms={}, check=lambda m: None,
              package="assay")


@pytest.mark.parametrize("plugin", PLUGIN_DIRS, ids=lambda p: p.name)
def test_plugin_shape(plugin):
    slug = plugin.name
    readme = (plugin / "README.md").read_text()
    missing = [s for s in SECTIONS if not re.search(rf"^##\s+{re.escape(s)}", readme, re.MULTILINE)]
    assert not missing, f"{slug}/README.md lacks sections {missing}"
    assert list(plugin.glob("tests/test_*.py")), f"{slug} has no tests"
    assert f'name = "assay-{slug}"' in (plugin / "pyproject.toml").read_text()
    reg = registry()
    assert slug in reg.plugins, f"{slug} is not installed or failed: {reg.broken.get(slug)}"
    claims = [c for c in reg.claims.values() if c.plugin == slug]
    assert claims, f"{slug} declares no claim"
    for c in claims:
        assert c.id.startswith(f"{slug}:"), c.id
        for arm in c.arms:
            assert c.arm_path(arm).is_file(), f"{c.id}: arm {arm} file missing"


ALL_CLAIMS = sorted(registry().claims.values(), key=lambda c: c.id)


@pytest.fixture(scope="module")
def shared_executor():
    from assay._dispatch.executor import make_executor

    ex = make_executor(2, kind="claims")
    yield ex
    ex.close()


@pytest.fixture(scope="module")
def claim_store(tmp_path_factory):
    from assay._record.tracking import Store

    return Store.resolve(root=tmp_path_factory.mktemp("claims") / "assay-runs")


@pytest.mark.slow
@pytest.mark.parametrize("claim", ALL_CLAIMS, ids=lambda c: c.id)
def test_claim_smoke(claim, shared_executor, claim_store):
    """Every claim's code path end to end on a tiny budget; the verdict is not a result."""
    from assay._drive.verify import run_claim

    outcome = run_claim(claim, "smoke", store=claim_store, executor=shared_executor)
    assert outcome.status != "ERROR", outcome.error
    assert outcome.decision is not None and outcome.seed_verdicts[0].detail


def test_claims_md_keeps_rows_verified_from_other_stores(tmp_path):
    """A current-format row with a commit survives a write from a store that lacks it; rows in
    an older format (decided by the old rule) or without a commit do not."""
    from assay._drive.claims_md import COLUMNS
    from assay._drive.verify import write_claims_md
    from assay._record.tracking import Store

    reg = registry()
    first, second, third = (c.id for c in ALL_CLAIMS[:3])
    old = tmp_path / "CLAIMS.md"
    row = (f"| `{first}` | s | src | **PASS** | gain = 2 [1.5, 2.5] (paper: >= 1) | gain: 2, 2 "
           f"| 3 | 2026-11-01 | `{'a' * 40}` |")
    assert row.count("|") - 1 == COLUMNS
    old_format = f"| `{second}` | s | src | **PASS** | ratio 1.2 | 3 | 2026-11-01 | abcd1234 |"
    no_commit = f"| `{third}` | s | src | **PASS** | x | x | 3 | 2026-11-01 |  |"
    old.write_text(f"{row}\n{old_format}\n{no_commit}\n")
    text = write_claims_md(Store.resolve(root=tmp_path / "empty"), reg, old).read_text()
    assert row in text                                      # kept, with its date and commit
    assert old_format not in text and no_commit not in text
    assert text.count("not yet verified") == len(reg.claims) - 1
