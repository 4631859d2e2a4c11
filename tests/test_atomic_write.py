"""A write that dies leaves neither a partial file nor a damaged earlier one."""

import pytest

from components.atomic_write import atomic_path, remove_stale_temporaries


def test_success_renames_into_place(tmp_path):
    with atomic_path(tmp_path / "a.nii.gz") as tmp:
        assert tmp.name.endswith(".nii.gz") and tmp.parent == tmp_path
        tmp.write_text("done")
    assert (tmp_path / "a.nii.gz").read_text() == "done"
    assert [p.name for p in tmp_path.iterdir()] == ["a.nii.gz"]


def test_failure_keeps_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "m.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.csv"]


def test_stale_temporaries_from_a_killed_process_are_removed(tmp_path):
    (tmp_path / ".tmp-999-x.nii.gz").write_text("partial")
    (tmp_path / "keep.nii.gz").write_text("whole")
    assert remove_stale_temporaries(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["keep.nii.gz"]
