"""A tracking URI that is a plain folder is assay's whole store there (MLflow 3 refuses
plain-folder file stores, with a traceback that the user should never see)."""
from __future__ import annotations

from pathlib import Path

from assay._record.store import Store


def test_a_plain_folder_is_the_whole_store(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    s = Store.resolve(str(tmp_path / "runs"))
    assert s.root == (tmp_path / "runs").resolve()
    assert s.tracking_uri == f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(tmp_path / "env"))
    assert Store.resolve().root == (tmp_path / "env").resolve()


def test_uris_stay_uris(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "home"))
    for uri in ("sqlite:///x.db", "http://127.0.0.1:5000", "postgresql+psycopg2://u@h/db"):
        s = Store.resolve(uri)
        assert s.tracking_uri == uri and s.root == (tmp_path / "home").resolve()
