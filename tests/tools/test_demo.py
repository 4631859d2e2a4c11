"""`radrotator demo` for real: the page served by the CLI, driven in headless Chromium (Playwright with the
system's browser: nothing is downloaded) and through gradio_client.

The model is an untrained tiny U-Net exported to a folder: it cannot rotate anatomy, but its output is a
function of the input and the angles, so "differs from the input" and "keeps the input's aspect" are real
checks. RADROTATOR_DEMO_MODEL and RADROTATOR_DEMO_SCREENSHOT run the same steps on another model and keep
the screenshot (docs/figures/demo.png is made so, with the champion: see docs/demo.md).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import export_tiny_generator, export_tiny_model, export_tiny_x2ct
from tests.processes import free_port, served

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "pelvis_ap.png"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The page, served by `radrotator demo` on loopback; yields its URL."""
    tmp = tmp_path_factory.mktemp("demo")
    model = os.environ.get("RADROTATOR_DEMO_MODEL") or str(export_tiny_model(tmp / "model", image_size=32))
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}", "GRADIO_TEMP_DIR": str(tmp / "gr"),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    if os.environ.get("RADROTATOR_DEMO_MODEL", "").startswith("models:/"):
        env.pop("MLFLOW_TRACKING_URI")  # the project's registry
    x2ct, generator = str(export_tiny_x2ct(tmp / "x2ct")), str(export_tiny_generator(tmp / "generator"))
    cmd = [sys.executable, "-m", "radrotator.cli", "demo", "--model", model, "--x2ct-model", x2ct,
           "--generator-model", generator, "--port", str(port), "--threads", "1"]
    with served(cmd, f"http://127.0.0.1:{port}/", env, ROOT, timeout=120):
        yield f"http://127.0.0.1:{port}/"


def test_the_page_rotates_an_uploaded_radiograph_in_a_real_browser(demo, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("no system Chromium: `make browser` installs Debian's chromium")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(demo)
        expect(page.locator("#banner")).to_contain_text("research use only, not for diagnosis")

        page.locator("#upload input[type=file]").set_input_files(str(SAMPLE))
        expect(page.locator("#about")).to_contain_text("pixels only", timeout=60_000)
        for axis, value in (("x", "5"), ("z", "10")):
            box = page.locator(f"#angle_{axis} input[type=number]")
            box.fill(value)
            box.press("Enter")
        page.locator("#rotate").click()  # a slider rotates on release too: wait for the view at both angles
        link = page.locator("#download a[href*='rotated_x%2B5_y%2B0_z%2B10']").first
        expect(link).to_be_attached(timeout=180_000)
        expect(page.get_by_text(re.compile("denoising"))).to_have_count(0, timeout=180_000)  # every queued run done
        expect(page.locator("#output img")).to_be_visible()
        expect(page.locator("#domain")).to_contain_text("domain")

        rotated_bytes = page.request.get(link.get_attribute("href")).body()
        rotated = Image.open(io.BytesIO(rotated_bytes))
        source = Image.open(SAMPLE)
        assert rotated.size == source.size  # the input's size, so its aspect
        assert "x=+5° y=+0° z=+10°" in rotated.text["Description"]
        difference = np.abs(np.asarray(rotated, float) - np.asarray(source.convert("L"), float)).mean()
        assert difference > 5, difference  # of 255: not the input handed back
        screenshot = Path(os.environ.get("RADROTATOR_DEMO_SCREENSHOT") or tmp_path / "demo.png")
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.stat().st_size > 10_000

        not_an_image = tmp_path / "notes.png"
        not_an_image.write_text("these are notes, not a radiograph")
        clear = page.locator("#upload button[aria-label='Clear']")
        if clear.count():  # the file box holds the sample: empty it first, as a person would
            clear.first.click()
        page.locator("#upload input[type=file]").set_input_files(str(not_an_image))
        expect(page.get_by_text("notes.png: not a readable image").first).to_be_visible(timeout=60_000)
        browser.close()


def test_the_api_rotates_and_answers_a_bad_upload_with_its_reason(demo, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(demo, verbose=False, download_files=str(tmp_path))
    assert "pixels only" in client.predict(handle_file(str(SAMPLE)), api_name="/on_upload")[-1]
    figure, labelled, spread, domain = client.predict(0, 0, 10, client.view_api(
        print_info=False, return_format="dict")["named_endpoints"]["/rotate"]["parameters"][3]["parameter_default"],
        True, api_name="/rotate")
    image = Image.open(labelled)
    assert image.size == Image.open(SAMPLE).size and "z=+10°" in image.text["Description"]
    assert Path(spread).exists() and "domain" in domain
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(AppError, match="not a readable image"):
        client.predict(handle_file(str(bad)), api_name="/on_upload")


def test_the_api_reconstructs_a_labelled_ct_from_two_views(demo, tmp_path):
    import json

    import SimpleITK as sitk
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(demo, verbose=False, download_files=str(tmp_path))
    figure, (nifti, sidecar) = client.predict(handle_file(str(SAMPLE)), handle_file(str(SAMPLE)), 3,
                                              api_name="/ct_from_xrays")
    volume = sitk.ReadImage(nifti)
    assert volume.GetSize() == (16, 16, 16) and volume.GetSpacing() == (20.0, 20.0, 20.0)
    labels = json.loads(Path(sidecar).read_text())
    assert labels["seed"] == 3 and "research use only" in labels["notice"]
    assert Image.open(figure).size[0] > 3 * 16 * 8  # three slices, enlarged, with a caption
    with pytest.raises(AppError, match="both views"):
        client.predict(handle_file(str(SAMPLE)), None, 0, api_name="/ct_from_xrays")


def test_the_api_generates_labelled_radiographs_for_a_label_set(demo, tmp_path):
    import json

    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from components.sampling.labels import read_labels

    client = Client(demo, verbose=False, download_files=str(tmp_path))
    sheet, files = client.predict("oblique", "left", "f", 70, None, 3, 9, api_name="/generate")
    listed = json.loads(Path(next(f for f in files if f.endswith("generated.json"))).read_text())
    assert [i["seed"] for i in listed["images"]] == [9, 10, 11]
    assert listed["labels"] == {"view": "oblique", "prosthesis": "left", "sex": "f", "age": 70.0, "bmi": "unknown"}
    pngs = sorted(f for f in files if f.endswith(".png"))
    assert len(pngs) == 3 and "research use only" in read_labels(pngs[0])["Disclaimer"]
    assert Image.open(sheet).size[0] > 3 * 128  # three tiles, labelled
    with pytest.raises(AppError, match="age 200"):
        client.predict("ap", "none", "unknown", 200, None, 1, 0, api_name="/generate")
