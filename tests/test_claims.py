"""Claims: verdict logic (fast), every plugin's shape (fast), every claim at smoke budget (slow)."""
from __future__ import annotations

import queue
import re
from pathlib import Path

import pytest

from assay.claims import Claim, Verdict, verdict_over_seeds
from assay._plugins.registry import registry

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIRS = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists())
SECTIONS = ["What it is", "Paper", "Claims", "Usage", "Deviations from the paper"]


def _claim(threshold: float) -> Claim:
    return Claim(id="t:x", statement="s", source="src", arms={}, package="assay",
                 check=lambda m: Verdict(m["a/x"] < threshold, f"x={m['a/x']}",
                                         {"x": m["a/x"]}))


@pytest.mark.parametrize("values,expected", [([0.1, 0.2, 0.3], "PASS"), ([2, 3, 4], "FAIL"),
                                             ([0.1, 0.9, 1.5], "INCONCLUSIVE")])
def test_verdict_over_seeds(values, expected):
    status, verdict = verdict_over_seeds(_claim(1.0), [{"a/x": v} for v in values])
    assert status == expected
    assert verdict.numbers["x"] == pytest.approx(sum(values) / 3)


def test_claim_ids_are_checked():
    with pytest.raises(ValueError):
        Claim(id="NoColon", statement="", source="", arms={}, check=lambda m: None,
              package="assay")


@pytest.mark.parametrize("plugin", PLUGIN_DIRS, ids=lambda p: p.name)
def test_plugin_shape(plugin):
    slug = plugin.name
    readme = (plugin / "README.md").read_text()
    missing = [s for s in SECTIONS if not re.search(rf"^##\s+{re.escape(s)}", readme, re.M)]
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
    from assay._dispatch.executor import DaskExecutor

    ex = DaskExecutor(queue.Queue(), workers=2)
    ex.start()
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
    assert outcome.verdict is not None and outcome.verdict.detail


def test_claims_md_keeps_rows_verified_from_other_stores(tmp_path):
    from assay._record.tracking import Store
    from assay._drive.verify import write_claims_md

    reg = registry()
    first, second = ALL_CLAIMS[0].id, ALL_CLAIMS[1].id
    old = tmp_path / "CLAIMS.md"
    row = f"| `{first}` | s | src | **PASS** | ratio 1.2 | 3 | 2026-11-01 | abcd1234 |"
    old.write_text(f"{row}\n| `{second}` | s | src | not yet verified | x | | | |\n")
    text = write_claims_md(Store.resolve(root=tmp_path / "empty"), reg, old).read_text()
    assert row in text                                      # kept, with its date and commit
    assert f"| `{second}` |" in text and text.count("not yet verified") == len(reg.claims) - 1
