"""`radrotator rotate` and `video` from a local model folder, on inputs the pipeline did not make."""

import subprocess
import sys

import imageio.v2 as imageio
import imageio.v3 as iio
import numpy as np
import pytest

from components.models.unet import UNetConfig, build_unet
from components.registry.export import export_model, load_model
from tests.conftest import export_tiny_model
from tests.sampling.test_radiograph_io import gradient, write_dicom


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return export_tiny_model(tmp_path_factory.mktemp("m") / "radrotator", extra={"note": "test"})


def cli(*args):
    return subprocess.run([sys.executable, "-m", "flows.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def test_export_round_trips_through_safetensors(model_dir):
    model, config = load_model(model_dir)
    assert config["unet"]["image_size"] == 16 and config["note"] == "test"
    assert sorted(p.name for p in model_dir.iterdir()) == ["config.json", "ema.safetensors"]


def test_rotate_a_monochrome1_dicom_several_views(model_dir, tmp_path):
    dcm = write_dicom(tmp_path / "xray.dcm", (gradient(36, 48) * 4095).astype(np.uint16), "MONOCHROME1")
    done = cli("rotate", dcm, "--model", model_dir, "--angles", "0", "0", "10", "5", "-5", "0", "--steps", "3",
               "--out", tmp_path / "out.png")
    assert done.returncode == 0, done.stderr
    views = sorted(tmp_path.glob("out_*.png"))
    assert [v.name for v in views] == ["out_x+0_y+0_z+10.png", "out_x+5_y-5_z+0.png"]
    assert iio.imread(views[0]).shape == (36, 48) and iio.imread(views[0]).dtype == np.uint16


def test_rotate_refuses_out_of_range_angles_clearly(model_dir, tmp_path):
    iio.imwrite(tmp_path / "a.png", (gradient() * 255).astype(np.uint8))
    done = cli("rotate", tmp_path / "a.png", "--model", model_dir, "--angles", "0", "25", "0", "--out", tmp_path / "o.png")
    assert done.returncode == 1 and "beyond the ±15°" in done.stderr and not (tmp_path / "o.png").exists()
    bad = cli("rotate", tmp_path / "a.png", "--model", tmp_path, "--angles", "0", "0", "0", "--out", tmp_path / "o.png")
    assert bad.returncode == 1 and "not a RadRotator model" in bad.stderr


def test_video_writes_a_playable_mp4_with_the_frame_count(model_dir, tmp_path):
    iio.imwrite(tmp_path / "a.jpg", np.stack([(gradient(30, 40) * 255).astype(np.uint8)] * 3, -1))
    out = tmp_path / "sweep.mp4"
    done = cli("video", tmp_path / "a.jpg", "--model", model_dir, "--axis", "z", "--frames", "9", "--fps", "30",
               "--batch", "4", "--steps", "2", "--out", out)
    assert done.returncode == 0, done.stderr
    assert "9 frames at 30 fps" in done.stdout
    with imageio.get_reader(out, format="FFMPEG") as reader:
        assert sum(1 for _ in reader) == 9


def test_model_folder_restores_its_inference_defaults(tmp_path):
    from components.registry.export import InferenceDefaults
    from components.sampling.rotate import Rotator

    config = UNetConfig(image_size=16, channels=(8, 16), attention_levels=(False, True), num_head_channels=8,
                        norm_num_groups=8)
    folder = export_model(build_unet(config), config, tmp_path / "m", {}, InferenceDefaults(steps=3, guidance=2.5))
    rotator = Rotator.from_folder(folder)
    assert (rotator.size, rotator.steps, rotator.guidance) == (16, 3, 2.5)
    assert rotator.config["scheduler"]["schedule"] == "cosine_zero_snr"


def test_drr_of_any_ct_a_dicom_folder_at_its_own_spacing(tmp_path):
    from PIL import Image

    from components.ct import dicom
    from tests.conftest import tiny_ct

    folder = dicom.write_series(tiny_ct(), (10.0, 10.0, 1.5), (0, 0, 0), tmp_path / "series",
                                {"PatientID": "X", "AcquisitionDate": "20100101"})
    done = cli("drr", folder, "--angles", "0", "0", "5", "--pixels", "32", "--out", tmp_path / "view.png")
    assert done.returncode == 0, done.stderr
    image = Image.open(tmp_path / "view.png")
    assert image.size == (32, 32) and "z=5" in image.text["Description"]


def test_failures_end_in_one_line_without_a_traceback(tmp_path):
    import yaml

    from tests.conftest import PROJECT_ROOT, write_nifti

    flat = write_nifti(tmp_path / "flat.nii.gz", np.zeros((8, 8), np.float32))
    done = cli("drr", flat, "--angles", "0", "0", "0", "--out", tmp_path / "v.png")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"{flat}: ") and "2D" in done.stderr
    (tmp_path / "empty").mkdir()
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "salt.txt").write_text("s" * 32)
    stage = [sys.executable, "-m", "flows.ct_pool", "--params", tmp_path / "params.yaml", "--src", tmp_path / "empty",
             "--out", tmp_path / "pool"]
    quiet = subprocess.run([*map(str, stage)], capture_output=True, text=True, timeout=600,
                           env={**__import__("os").environ, "RADROTATOR_ID_SALT": "s" * 32})
    assert quiet.returncode == 1 and "Traceback" not in quiet.stderr
    assert quiet.stderr.strip().splitlines()[-1] == (f"ct_pool failed: {tmp_path / 'empty'}: no eligible CT series: "
                                                     f"every one of 0 was rejected (reasons in {tmp_path / 'pool'}"
                                                     "/rejected.csv); the pool was left as it was")
    loud = subprocess.run([*map(str, stage), "--verbose"], capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "RADROTATOR_ID_SALT": "s" * 32})
    assert loud.returncode == 1 and "Traceback" in loud.stderr
