"""flows/pipeline.py on small DVC projects: what ran, what DVC skipped, and failures said plainly."""

import sys
from pathlib import Path

import pytest
import yaml

from flows.pipeline import pipeline
from tests.conftest import init_dvc_repo


def dvc_repo(folder: Path, cmd: str) -> Path:
    folder.mkdir()
    (folder / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"hello": {"cmd": cmd, "outs": ["out.txt"]}}}))
    init_dvc_repo(folder, folder.parent / "site_cache")
    return folder


def test_pipeline_reports_what_ran_then_what_was_cached(prefect_server, tmp_path):
    repo = dvc_repo(tmp_path / "ok", f"{sys.executable} -c \"open('out.txt', 'w').write('hi')\"")
    first = pipeline(str(repo))
    assert first["ran"] == ["hello"] and first["skipped"] == [] and first["promotion"] is None
    assert (repo / "out.txt").read_text() == "hi"
    assert pipeline(str(repo))["skipped"] == ["hello"]


def test_pipeline_failures_name_the_project_and_show_dvcs_words(prefect_server, tmp_path):
    repo = dvc_repo(tmp_path / "bad", f"{sys.executable} -c \"raise SystemExit('the stage broke')\"")
    with pytest.raises(RuntimeError, match="the stage broke") as failed:
        pipeline(str(repo))
    assert str(repo) in str(failed.value)
    with pytest.raises(FileNotFoundError, match="no dvc.yaml"):
        pipeline(str(tmp_path))
