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
from tests.params import inference
from tests.sampling.test_radiograph_io import gradient, write_dicom


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return export_tiny_model(tmp_path_factory.mktemp("m") / "radrotator", extra={"note": "test"})


def cli(*args):
    return subprocess.run([sys.executable, "-m", "radrotator.cli", *map(str, args)], capture_output=True, text=True,
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
    from components.sampling.rotate import Rotator

    config = UNetConfig(image_size=16, channels=(8, 16), attention_levels=(False, True), num_head_channels=8,
                        norm_num_groups=8)
    folder = export_model(build_unet(config), config, tmp_path / "m", {},
                          inference(sampler="unipc", steps=3, guidance=2.5))
    rotator = Rotator.from_folder(folder)
    assert (rotator.size, rotator.sampler, rotator.steps, rotator.guidance) == (16, "unipc", 3, 2.5)
    assert rotator.config["scheduler"]["beta_schedule"] == "squaredcos_cap_v2"
    assert rotator.config["scheduler"]["rescale_betas_zero_snr"] is True


def test_a_model_folder_from_before_the_samplers_samples_with_ddim(tmp_path):
    """Older folders name no sampler and the hand-written schedule: they were measured with DDIM."""
    import json

    from components.sampling.rotate import Rotator

    config = UNetConfig(image_size=16, channels=(8, 16), attention_levels=(False, True), num_head_channels=8,
                        norm_num_groups=8)
    folder = export_model(build_unet(config), config, tmp_path / "m", {}, inference())
    written = json.loads((folder / "config.json").read_text())
    written["inference"] = {"steps": 25, "guidance": 4.0}
    written["scheduler"] = {"schedule": "cosine_zero_snr", "prediction_type": "v_prediction", "num_train_timesteps": 1000}
    (folder / "config.json").write_text(json.dumps(written))
    rotator = Rotator.from_folder(folder)
    assert (rotator.sampler, rotator.steps) == ("ddim", 25)


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


def test_rotate_labels_its_outputs_png_side_by_side_and_dicom(model_dir, tmp_path):
    import pydicom

    from components.sampling.labels import MARK, read_labels

    dcm = write_dicom(tmp_path / "xray.dcm", (gradient(36, 48) * 4095).astype(np.uint16), PatientID="MRN123",
                      StudyInstanceUID="1.2.3.4")
    common = ["--model", model_dir, "--angles", "0", "-5", "10", "--steps", "2", "--seed", "3"]
    png = cli("rotate", dcm, *common, "--out", tmp_path / "view.png")
    assert png.returncode == 0, png.stderr
    assert "domain check: not available" in png.stderr  # the tiny model carries no guard, and says so
    text = read_labels(tmp_path / "view.png")
    assert "x=+0° y=-5° z=+10°" in text["Description"] and "seed 3" in text["Description"] and MARK in text["Disclaimer"]
    assert str(model_dir) in text["Description"] and "Doe" not in str(text)

    pair = cli("rotate", dcm, *common, "--side-by-side", "--out", tmp_path / "pair.png")
    assert pair.returncode == 0, pair.stderr
    assert iio.imread(tmp_path / "pair.png").shape[1] > 2 * 48  # input | rotated, titled and captioned

    anonymous = cli("rotate", dcm, *common, "--out", tmp_path / "view.dcm")
    linked = cli("rotate", dcm, *common, "--link-to-source", "--out", tmp_path / "linked.dcm")
    assert anonymous.returncode == 0 and linked.returncode == 0, anonymous.stderr + linked.stderr
    a, b = pydicom.dcmread(tmp_path / "view.dcm"), pydicom.dcmread(tmp_path / "linked.dcm")
    assert list(a.ImageType) == ["DERIVED", "SECONDARY"] and a.BitsStored == 16 and a.pixel_array.shape == (36, 48)
    assert a.PatientID == "" and a.StudyInstanceUID != "1.2.3.4"
    assert b.PatientID == "MRN123" and b.StudyInstanceUID == "1.2.3.4"

    refused = cli("rotate", tmp_path / "view.png", *common, "--link-to-source", "--out", tmp_path / "x.dcm")
    assert refused.returncode == 1 and "needs a DICOM input" in refused.stderr and not (tmp_path / "x.dcm").exists()


def test_video_overlay_burns_the_angle_into_every_frame(model_dir, tmp_path):
    iio.imwrite(tmp_path / "a.png", (gradient(40, 40) * 255).astype(np.uint8))
    plain, marked = tmp_path / "plain.mp4", tmp_path / "marked.mp4"
    for out, extra in ((plain, []), (marked, ["--overlay"])):
        done = cli("video", tmp_path / "a.png", "--model", model_dir, "--axis", "x", "--frames", "3", "--steps", "2",
                   "--out", out, *extra)
        assert done.returncode == 0, done.stderr
    with imageio.get_reader(plain, format="FFMPEG") as a, imageio.get_reader(marked, format="FFMPEG") as b:
        first_plain, first_marked = a.get_data(0), b.get_data(0)
    assert first_marked.shape[0] > first_plain.shape[0]  # a caption band below the frame
    assert first_marked[first_plain.shape[0]:].max() > 128  # holding text


def test_info_shows_a_model_folders_card(model_dir):
    done = cli("info", "--model", model_dir)
    assert done.returncode == 0, done.stderr
    assert "not for diagnosis" in done.stdout and "weights sha256" in done.stdout
