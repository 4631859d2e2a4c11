"""The ct_pool flow on a real Prefect server: mixed good and bad input, reruns, failures."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from components.ct import dicom
from flows import ct_pool
from tests.conftest import SALT, tiny_ct, write_nifti


@pytest.fixture
def mixed_source(tmp_path):
    src = tmp_path / "incoming"
    write_nifti(src / "good_a.nii.gz", tiny_ct(), meta={"PatientID": "A"})
    write_nifti(src / "nested" / "good_b.nii", tiny_ct(body_hu=45.0), meta={"PatientID": "B"})
    dicom.write_series(tiny_ct(body_hu=50.0), (10.0, 10.0, 1.5), (0, 0, 0), src / "good_dicom",
                       {"PatientID": "A", "PatientName": "Doe^Jane", "AcquisitionDate": "20160101"})
    cut = write_nifti(src / "truncated.nii.gz", tiny_ct())
    cut.write_bytes(cut.read_bytes()[:500])
    write_nifti(src / "flat.nii.gz", np.full((32, 32), -1000.0, np.float32))
    write_nifti(src / "thick.nii.gz", tiny_ct((70, 32, 32)), spacing=(10.0, 10.0, 3.0))
    write_nifti(src / "raw.nii.gz", tiny_ct() + 1024, pixel=np.uint16)
    (src / "empty_series").mkdir()
    (src / "id_salt.txt").write_text(SALT)
    (src / "README.txt").write_text("not a series")
    return src


def test_radrotator_ingest_builds_the_good_and_explains_every_rejection(prefect_server, mixed_source,
                                                                        tmp_path, pool_params):
    out = tmp_path / "pool"
    env = {**os.environ, "PREFECT_API_URL": prefect_server}
    done = subprocess.run([sys.executable, "-m", "radrotator.cli", "--params", str(pool_params), "ingest",
                           str(mixed_source), str(out), "--salt-file", str(mixed_source / "id_salt.txt")],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "3 volumes from 2 patients" in done.stdout and "5 series rejected" in done.stdout
    manifest = pd.read_csv(out / "manifest.csv")
    rejected = pd.read_csv(out / "rejected.csv").set_index("source")["reason"]
    assert len(manifest) == 3 and manifest["patient_id"].nunique() == 2
    assert sorted(manifest["source_format"]) == ["dicom", "nifti", "nifti"]
    for path in manifest["path"]:
        assert (out / path).exists()
    assert sorted(rejected.index) == ["empty_series", "flat.nii.gz", "raw.nii.gz", "thick.nii.gz",
                                      "truncated.nii.gz"]
    assert "corrupt or truncated" in rejected["truncated.nii.gz"]
    assert "2D image" in rejected["flat.nii.gz"]
    assert "exceeds 1.5 mm" in rejected["thick.nii.gz"]
    assert "not Hounsfield units" in rejected["raw.nii.gz"]
    assert "empty folder" in rejected["empty_series"]
    assert "Doe" not in (out / "manifest.csv").read_text()


def test_rerun_after_a_kill_cleans_partial_and_orphan_volumes(prefect_server, mixed_source, tmp_path,
                                                               pool_params):
    out = tmp_path / "pool"
    (out / "ct").mkdir(parents=True)
    (out / "ct" / ".tmp-4242-CTdead.nii.gz").write_bytes(b"half a volume")
    (out / "ct" / "CTorphan.nii.gz").write_bytes(b"from an older pool")
    summary = ct_pool.run(str(pool_params), src=str(mixed_source), out=str(out),
                          salt_file=str(mixed_source / "id_salt.txt"))
    assert summary == {"accepted": 3, "rejected": 5, "patients": 2}
    names = sorted(p.name for p in (out / "ct").iterdir())
    assert names == sorted(f"{i}.nii.gz" for i in pd.read_csv(out / "manifest.csv")["ct_id"])


def test_a_pool_of_nothing_fails_clearly_but_keeps_the_reasons(prefect_server, tmp_path, pool_params):
    src = tmp_path / "bad_only"
    write_nifti(src / "thick.nii.gz", tiny_ct((70, 32, 32)), spacing=(10.0, 10.0, 3.0))
    (src / "id_salt.txt").write_text(SALT)
    out = tmp_path / "pool"
    with pytest.raises(ct_pool.EmptyPool, match="no eligible CT series"):
        ct_pool.run(str(pool_params), src=str(src), out=str(out), salt_file=str(src / "id_salt.txt"))
    assert not (out / "manifest.csv").exists()
    assert "exceeds 1.5 mm" in (out / "rejected.csv").read_text()


def test_missing_salt_is_a_clear_error(prefect_server, tmp_path, pool_params, monkeypatch):
    monkeypatch.delenv("RADROTATOR_ID_SALT", raising=False)
    src = tmp_path / "nosalt"
    write_nifti(src / "a.nii.gz", tiny_ct())
    with pytest.raises(FileNotFoundError, match="radrotator new-salt"):
        ct_pool.run(str(pool_params), src=str(src), out=str(tmp_path / "pool"),
                    salt_file=str(src / "id_salt.txt"))


def test_missing_source_folder_is_named_before_the_salt(prefect_server, tmp_path, pool_params, monkeypatch):
    monkeypatch.delenv("RADROTATOR_ID_SALT", raising=False)
    with pytest.raises(FileNotFoundError, match="no such folder of CT series"):
        ct_pool.run(str(pool_params), src=str(tmp_path / "absent"), out=str(tmp_path / "pool"),
                    salt_file=str(tmp_path / "absent" / "id_salt.txt"))
    assert not (tmp_path / "pool").exists()


def test_an_empty_source_leaves_an_existing_pool_whole(prefect_server, mixed_source, tmp_path, pool_params):
    out = tmp_path / "pool"
    salt = str(mixed_source / "id_salt.txt")
    ct_pool.run(str(pool_params), src=str(mixed_source), out=str(out), salt_file=salt)
    before = {p.name: p.read_bytes() for p in (out / "ct").iterdir()} | {"manifest": (out / "manifest.csv").read_bytes()}
    (tmp_path / "empty").mkdir()
    with pytest.raises(ct_pool.EmptyPool):
        ct_pool.run(str(pool_params), src=str(tmp_path / "empty"), out=str(out), salt_file=salt)
    after = {p.name: p.read_bytes() for p in (out / "ct").iterdir()} | {"manifest": (out / "manifest.csv").read_bytes()}
    assert after == before


def test_copies_links_hidden_files_radiographs_and_formula_names_are_reported(prefect_server, mixed_source,
                                                                              tmp_path, pool_params):
    """The campaign's data-manager cases: each ends as one line in rejected.csv, none ingested twice."""
    import shutil

    from tests.sampling.test_radiograph_io import write_dicom

    shutil.copytree(mixed_source / "good_dicom", mixed_source / "good_dicom_copy")
    (mixed_source / "loop").symlink_to(mixed_source)  # a self-referencing link
    (mixed_source / "link_b.nii").symlink_to(mixed_source / "nested" / "good_b.nii")
    write_nifti(mixed_source / ".hidden_c.nii.gz", tiny_ct(body_hu=55.0), meta={"PatientID": "C"})
    write_nifti(mixed_source / "=HYPERLINK(1).nii.gz", tiny_ct((70, 32, 32)), spacing=(10.0, 10.0, 3.0))
    (mixed_source / "dx").mkdir()
    write_dicom(mixed_source / "dx" / "chest.dcm", np.zeros((16, 16), np.uint16) + 7)
    out = tmp_path / "pool"
    summary = ct_pool.run(str(pool_params), src=str(mixed_source), out=str(out),
                          salt_file=str(mixed_source / "id_salt.txt"))
    assert summary["accepted"] == 3  # the copy, the links and the hidden file add nothing
    rejected = pd.read_csv(out / "rejected.csv").set_index("source")["reason"]
    assert rejected["good_dicom_copy"].startswith("duplicate of good_dicom")
    assert "symbolic link" in rejected["loop"] and "symbolic link" in rejected["link_b.nii"]
    assert "hidden" in rejected[".hidden_c.nii.gz"]
    assert rejected["dx"] == "not a CT series: modality is DX"
    assert "'=HYPERLINK(1).nii.gz" in rejected.index  # quoted: a spreadsheet shows it, never runs it
    sites = set(pd.read_csv(out / "manifest.csv")["site"])
    assert all(site == "unknown" or site.startswith("S") and len(site) == 13 for site in sites)
