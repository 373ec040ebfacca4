"""Experiment files, overrides and the errors users see."""
from __future__ import annotations

from pathlib import Path

import pytest
from assay._cli.main import main
from assay._drive.run import load
from assay._experiment.resolve import load_yaml
from assay.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
QUICK = str(ROOT / "examples" / "quickstart.yaml")


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_quickstart_resolves_to_a_stable_key():
    a, b = load(QUICK), load(QUICK)
    assert a.run.key == b.run.key and len(a.run.key) == 16
    assert a.run.methods["optimizer"]["name"] == "adamw"
    assert a.run.methods["optimizer"]["beta2"] == 0.999          # defaults are filled in


def test_override_changes_value_and_key():
    base = load(QUICK)
    other = load(QUICK, ["methods.optimizer.lr=3e-4"])
    assert other.run.methods["optimizer"]["lr"] == pytest.approx(3e-4)
    assert other.run.key != base.run.key
    # the experiment name does not change what runs, so not the key
    assert load(QUICK, ["name=renamed"]).run.key == base.run.key


def test_flat_params_use_dotted_paths():
    params = load(QUICK).run.flat_params()
    assert params["methods.optimizer.lr"] == "0.003"
    assert params["model.width"] == "128" and params["train.steps"] == "400"


def test_misspelled_component_exits_2_with_did_you_mean(capsys):
    code, text = run_cli(capsys, "run", QUICK, "-o", "methods.optimizer.name=adamv")
    assert code == 2
    assert "methods.optimizer.name" in text and "Did you mean 'adamw'" in text
    assert "Traceback" not in text


def test_bad_value_exits_2_naming_the_path(capsys):
    code, text = run_cli(capsys, "run", QUICK, "-o", "model.width=-3")
    assert code == 2 and "model.width" in text and "-3" in text and "Traceback" not in text


def test_unknown_field_and_slot(capsys):
    code, text = run_cli(capsys, "run", QUICK, "-o", "model.widht=3")
    assert code == 2 and "model.widht: unknown field" in text
    code, text = run_cli(capsys, "run", QUICK, "-o", "methods.optimiser.name=sgd")
    assert code == 2 and "Did you mean 'optimizer'" in text


def test_method_in_wrong_slot(capsys):
    code, text = run_cli(capsys, "run", QUICK, "-o", "methods.optimizer.name=cosine",
                         "-o", "methods.optimizer.lr=null")
    assert code == 2 and "optimizer" in text


def test_malformed_yaml_and_missing_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: {name: mlp\n")
    code, text = run_cli(capsys, "run", str(bad))
    assert code == 2 and "malformed YAML" in text and "line" in text
    code, text = run_cli(capsys, "run", str(tmp_path / "nope.yaml"))
    assert code == 2 and "not found" in text


def test_yaml_is_data_not_code(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("name: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(UserError, match="malformed YAML"):
        load(str(evil))


def test_override_syntax_error():
    with pytest.raises(UserError, match="path=value"):
        load(QUICK, ["methods.optimizer.lr"])


def test_yaml_anchors_and_merge_keys_still_work(tmp_path):
    """Shared values and merge keys are ordinary YAML; only duplicates and bombs are refused."""
    f = tmp_path / "anchors.yaml"
    f.write_text("base: &opt {name: adamw, lr: 1.0e-3}\n"
                 "name: anchors\nmethods:\n  optimizer:\n    <<: *opt\n    lr: 3.0e-3\n")
    raw = load_yaml(f)
    assert raw["methods"]["optimizer"] == {"name": "adamw", "lr": 3.0e-3}


def test_integer_distributions_accept_integers():
    from assay._experiment.space import Dist

    assert Dist(int=(1, 8)).int == (1, 8) and Dist(log_int=(2, 64)).log_int == (2, 64)


def test_unknown_field_suggests_the_nearest(capsys):
    code, text = run_cli(capsys, "run", QUICK, "-o", "train.stpes=3")
    assert code == 2 and "train.stpes: unknown field. Did you mean 'steps'?" in text


def test_numbers_that_cannot_be_meant_are_refused_in_dicts_too():
    """The Python API reads no file, and gets the same refusals."""
    with pytest.raises(UserError, match=r"methods.optimizer.lr: \.inf is not a finite"):
        load({"methods": {"optimizer": {"name": "adamw", "lr": float("inf")}}})
    with pytest.raises(UserError, match="train.steps: true is a boolean"):
        load({"train": {"steps": True}})
