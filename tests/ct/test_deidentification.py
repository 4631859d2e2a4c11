"""Patient-identifying data never leaves ingest."""

import pandas as pd

from components.ct import dicom
from components.ct.ingest import ingest_series
from components.ct.pseudonym import pseudonym
from tests.conftest import PROJECT_ROOT, SALT, tiny_ct

PHI = {"PatientName": "Doe^Jane", "PatientID": "MRN-774411", "PatientBirthDate": "19610203",
       "AcquisitionDate": "20140305", "InstitutionName": "Site X", "uid_seed": "phi-test"}


def test_dicom_phi_absent_from_every_output(tmp_path, rules):
    folder = dicom.write_series(tiny_ct(), (10.0, 10.0, 1.5), (0, 0, 0), tmp_path / "src" / "s1", PHI)
    header = dicom.pydicom.dcmread(next(folder.iterdir()))
    uids = [str(header.StudyInstanceUID), str(header.SeriesInstanceUID), str(header.SOPInstanceUID)]
    result = ingest_series(folder, tmp_path / "src", tmp_path / "pool" / "ct", rules, 4.0, SALT)
    assert result.accepted, result.reason
    pd.DataFrame([result.row]).to_csv(tmp_path / "pool" / "manifest.csv", index=False)

    outputs = [p for p in (tmp_path / "pool").rglob("*") if p.is_file()]
    assert len(outputs) == 2
    import gzip

    for path in outputs:
        blob = path.read_bytes()
        blob = gzip.decompress(blob) if path.name.endswith(".gz") else blob
        for secret in ["Doe", "Jane", "MRN-774411", "19610203", *uids]:
            assert secret.encode() not in blob, f"{secret} leaked into {path.name}"
    assert result.row["patient_id"] == pseudonym(SALT, "patient", "MRN-774411", prefix="P")
    assert result.row["acquisition_date"] == "2014-03-05"


def test_pseudonyms_link_series_and_depend_on_the_salt():
    assert pseudonym("a" * 16, "patient", "1") == pseudonym("a" * 16, "patient", "1")
    assert pseudonym("a" * 16, "patient", "1") != pseudonym("b" * 16, "patient", "1")
    assert pseudonym("a" * 16, "patient", "1") != pseudonym("a" * 16, "patient", "2")


def test_missing_salt_says_how_to_make_one(tmp_path, monkeypatch):
    import pytest

    from components.ct.pseudonym import SALT_ENV, load_salt, new_salt

    monkeypatch.delenv(SALT_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="radrotator new-salt"):
        load_salt(tmp_path / "salt.txt")
    new_salt(tmp_path / "salt.txt")
    assert len(load_salt(tmp_path / "salt.txt")) == 64
    with pytest.raises(FileExistsError):
        new_salt(tmp_path / "salt.txt")


def test_synthetic_salt_is_written_outside_the_tracked_data_and_never_replaces_one(tmp_path):
    import subprocess
    import sys

    from components.ct.synthetic import synthetic_salt

    def synth(*extra):
        return subprocess.run([sys.executable, "-m", "radrotator.cli", "--params", str(PROJECT_ROOT / "params.yaml"),
                               "synth-ct", str(tmp_path / "data" / "ct"), "--n", "2", "--seed", "5", *extra],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)

    salt = tmp_path / "secrets" / "salt.txt"
    assert synth("--salt-file", str(salt)).returncode == 0
    assert salt.read_text().strip() == synthetic_salt(5)
    assert not [p for p in (tmp_path / "data").rglob("*") if "salt" in p.name]  # data.dvc would push it
    salt.write_text("a-real-secret-0123456789abcdef\n")
    (tmp_path / "data" / "ct" / "series000.nii.gz").unlink()
    done = synth("--salt-file", str(salt))
    assert "kept the salt" in done.stderr and salt.read_text() == "a-real-secret-0123456789abcdef\n"
