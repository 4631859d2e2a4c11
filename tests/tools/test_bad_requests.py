"""The campaign's bad requests to `rotate`, `video` and `drr`: each ends in one clear line (or a
correct output), nothing written, and a file that was there is still there."""

import imageio.v2 as imageio
import imageio.v3 as iio
import numpy as np
import pytest

from components.sampling import requests
from tests.sampling.test_radiograph_io import gradient
from tests.tools.test_cli import cli, model_dir  # noqa: F401 (fixture)


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "x.png"
    iio.imwrite(path, (gradient(23, 30) * 255).astype(np.uint8))
    return path


@pytest.mark.parametrize("angles, words", [
    (["0", "0", "nan"], "angle z = nan is not a finite number"),
    (["inf", "0", "0"], "angle x = inf is not a finite number"),
    (["0", "40", "0"], "beyond the ±15°"),
    (["0", "0"], "triples"),
])
def test_bad_angles_are_refused_before_the_model_loads(tmp_path, image, angles, words):
    # The model folder does not exist: the angle, checked first, is what the line names.
    done = cli("rotate", image, "--angles", *angles, "--model", tmp_path / "no_model", "--out", tmp_path / "o.png")
    assert done.returncode == 1 and words in done.stderr and "Traceback" not in done.stderr
    assert "not a RadRotator model" not in done.stderr and not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("extra, words", [
    (["--steps", "0"], "steps = 0 is out of range"),
    (["--steps", "5000"], "steps = 5000 is out of range"),
    (["--guidance", "-1"], "guidance = -1.0 is out of range"),
    (["--guidance", "nan"], "guidance = nan is not a finite number"),
])
def test_bad_sampler_settings_are_refused(tmp_path, image, model_dir, extra, words):  # noqa: F811
    done = cli("rotate", image, "--angles", "0", "0", "5", "--model", model_dir, "--out", tmp_path / "o.png", *extra)
    assert done.returncode == 1 and words in done.stderr and not (tmp_path / "o.png").exists()


def test_outputs_never_overwrite_the_input_or_leave_an_empty_file(tmp_path, image, model_dir):  # noqa: F811
    before = image.read_bytes()
    same = cli("rotate", image, "--angles", "0", "0", "5", "--model", model_dir, "--out", image)
    assert same.returncode == 1 and "is the input itself" in same.stderr and image.read_bytes() == before
    bare = cli("rotate", image, "--angles", "0", "0", "5", "--model", model_dir, "--out", tmp_path / "noext")
    assert bare.returncode == 1 and "needs one of the suffixes" in bare.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]


def test_video_of_an_odd_sized_radiograph_is_a_real_mp4(tmp_path, model_dir):  # noqa: F811
    odd = tmp_path / "odd.png"
    iio.imwrite(odd, (gradient(43, 41) * 255).astype(np.uint8))  # the campaign's 412×423, smaller
    out = tmp_path / "v.mp4"
    done = cli("video", odd, "--model", model_dir, "--axis", "x", "--frames", "3", "--steps", "2", "--out", out)
    assert done.returncode == 0, done.stderr
    with imageio.get_reader(out, format="FFMPEG") as reader:
        frames = [frame for frame in reader]
    assert len(frames) == 3 and frames[0].shape[:2] == (44, 42)  # padded by one row and column, not resized


def test_video_failure_keeps_the_video_that_was_there(tmp_path, image, model_dir):  # noqa: F811
    out = tmp_path / "v.mp4"
    out.write_bytes(b"a good video")
    done = cli("video", image, "--model", model_dir, "--axis", "x", "--frames", "0", "--out", out)
    assert done.returncode == 1 and "--frames = 0 is out of range" in done.stderr
    assert out.read_bytes() == b"a good video"


@pytest.mark.parametrize("extra, words", [
    (["--angles", "nan", "0", "0"], "angle x = nan is not a finite number"),
    (["--angles", "0", "inf", "0"], "angle y = inf is not a finite number"),
    (["--pixels", "-5"], "--pixels = -5 is out of range"),
    (["--pixels", "0"], "--pixels = 0 is out of range"),
])
def test_drr_bad_values_are_one_line(tmp_path, extra, words):
    done = cli("drr", tmp_path / "ct.nii.gz", "--out", tmp_path / "d.png", *extra)
    assert done.returncode == 1 and words in done.stderr and "Traceback" not in done.stderr


def test_image_size_is_checked_from_the_header_before_decoding(tmp_path):
    huge = tmp_path / "huge.png"
    iio.imwrite(huge, np.zeros((10000, 10000), np.uint8))  # ~100 kB on disk, 800 MB as float64
    assert requests.image_size_from_header(huge.read_bytes(), "huge.png") == (10000, 10000)
    from components.sampling.radiograph_io import read_radiograph

    with pytest.raises(requests.BadRequest, match="10000×10000 pixels"):
        read_radiograph(huge)
