"""`radrotator demo`: a Gradio page to try a model on one radiograph, live.

Upload a PNG/JPEG/TIFF (8 or 16-bit) or a DICOM file: only its pixels are used; the
upload is deleted once read and no tag is shown or kept. Three sliders (±15°) rotate
on release (mode A), with an optional per-pixel spread over a few seeds; a short
sweep along one axis makes a video (mode B). A model picker offers the champion,
the challenger and every registered version; the model card sits below. One request
runs at a time (a bounded queue), errors are shown in the page, and the page listens
on loopback unless told otherwise.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from components.pixels import quantise
from components.sampling.labels import MARK, side_by_side, with_caption, write_labelled

UNCERTAINTY_SEEDS = (0, 1, 2)
QUEUE_SIZE = 8
NO_UPLOAD = "Upload a radiograph first (PNG, JPEG, TIFF or DICOM)."
VIDEO_FRAMES = 16  # short by default: a sweep is frames × steps denoising steps


class ModelShelf:
    """The models the page offers, loaded on first use and kept (one at a time is denoising anyway)."""

    def __init__(self, first: str, project_root: str | Path) -> None:
        self.first, self.root = first, Path(project_root)
        self._loaded: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def choices(self) -> list[str]:
        found = [self.first]
        try:
            from mlflow import MlflowClient

            from components.registry import tracking

            tracking.configure(self.root)
            client = MlflowClient()
            versions = client.search_model_versions(f"name='{tracking.MODEL_NAME}'")
            aliases = sorted({a for v in versions for a in getattr(v, "aliases", [])})
            found += [f"models:/{tracking.MODEL_NAME}@{a}" for a in aliases]
            found += [f"models:/{tracking.MODEL_NAME}/{v.version}" for v in sorted(versions, key=lambda v: int(v.version))]
        except Exception:  # noqa: BLE001 (no registry here: the first model is the only one)
            pass
        return list(dict.fromkeys(found))

    def get(self, spec: str):
        from components.registry.loading import load_rotator

        with self._lock:
            if spec not in self._loaded:
                self._loaded[spec] = load_rotator(spec, self.root)
            return self._loaded[spec]

    def card(self, spec: str) -> str:
        from components.registry.loading import model_card_text

        try:
            return model_card_text(spec, self.root)
        except Exception as err:  # noqa: BLE001
            return f"No model card for {spec}: {err}"


def read_upload(path: str | None):
    """The radiograph of an uploaded file, its DICOM header dropped; the file is deleted once read (the page
    keeps no upload and no tag)."""
    import gradio as gr

    from components.sampling.radiograph_io import decode_radiograph
    from components.sampling.requests import BadRequest

    if not path:
        raise gr.Error(NO_UPLOAD)
    name = Path(path).name
    try:
        data = Path(path).read_bytes()
        image = decode_radiograph(data, name, dicom_hint=name.lower().endswith((".dcm", ".dicom")))
    except BadRequest as err:
        raise gr.Error(str(err)) from None
    finally:
        Path(path).unlink(missing_ok=True)
    return replace(image, dicom=None)


def step_progress(progress, total: int):
    """An `on_step` for the sampler that moves the page's progress bar over `total` steps."""
    done = [0]

    def step():
        done[0] += 1
        progress(done[0] / total, desc="denoising")
    return step


def spread_map(views: list[np.ndarray]) -> np.ndarray:
    """Per-pixel standard deviation over seeds as an RGB heat map, with its caption."""
    from matplotlib import colormaps

    spread = np.std(np.stack(views), axis=0)
    scaled = spread / max(float(spread.max()), 1e-6)
    captioned = with_caption(scaled, [f"per-pixel spread over seeds {', '.join(map(str, UNCERTAINTY_SEEDS))} "
                                      f"(max {spread.max():.3f} of the range)", MARK])
    return quantise(colormaps["magma"](captioned)[..., :3])


class LazyModel:
    """A model beside the rotation model (CT from two radiographs, the generator), loaded on first use: the
    rotation page works without one. `load(spec, project_root)` returns (model, what was loaded)."""

    def __init__(self, spec: str, project_root: str | Path, load) -> None:
        self.spec, self.root, self.load = spec, Path(project_root), load
        self._loaded = None
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            if self._loaded is None:
                self._loaded = self.load(self.spec, self.root)
            return self._loaded


def x2ct_shelf(spec: str, project_root: str | Path) -> LazyModel:
    from components.x2ct.registry import load_x2ct

    return LazyModel(spec, project_root, load_x2ct)


def generator_shelf(spec: str, project_root: str | Path) -> LazyModel:
    from components.generation.registry import load_registered_generator

    return LazyModel(spec, project_root, load_registered_generator)


def volume_figure(hu: np.ndarray, caption: list[str]) -> np.ndarray:
    """Axial, coronal and sagittal middle slices side by side (soft tissue to bone), captioned."""
    from components.x2ct.report import middle_slice, windowed

    planes = [middle_slice(hu, plane) for plane in ("axial", "coronal", "sagittal")]
    gap = np.ones((hu.shape[0], 2))
    row = np.concatenate([p for plane in planes for p in (windowed(plane), gap)][:-1], axis=1)
    big = np.kron(row, np.ones((8, 8)))  # 32³ is small on a page: nearest-neighbour ×8
    return quantise(with_caption(big, ["axial | coronal | sagittal (middle slices)", *caption]))


def build(shelf: ModelShelf, out_dir: Path, x2ct: LazyModel | None = None, generator: LazyModel | None = None):
    import gradio as gr

    from components.models.domain_guard import describe
    from components.sampling.requests import BadRequest

    def on_upload(path):
        upload = read_upload(path)
        h, w = upload.pixels.shape
        return (upload, quantise(upload.pixels_01()),
                f"{upload.source}: {w}×{h}, {upload.bit_depth}-bit (pixels only; the file was not kept)")

    def rotate(upload, x: float, y: float, z: float, spec: str, uncertainty: bool,
               progress=gr.Progress()):
        if upload is None:
            raise gr.Error(NO_UPLOAD)
        try:
            rotator, loaded = shelf.get(spec)
            seeds = UNCERTAINTY_SEEDS if uncertainty else UNCERTAINTY_SEEDS[:1]
            step = step_progress(progress, rotator.steps * len(seeds))
            views = [rotator.rotate(upload.pixels, [[x, y, z]], seed=seed, on_step=step)[0] for seed in seeds]
        except (BadRequest, ValueError, LookupError, FileNotFoundError) as err:
            raise gr.Error(str(err)) from None
        score = rotator.domain_score(upload.pixels)
        provenance = rotator.provenance((x, y, z), loaded, seeds[0], upload.source, score)
        figure = side_by_side(upload.pixels_01(), views[0], provenance)
        out = write_labelled(out_dir / f"rotated_x{x:+g}_y{y:+g}_z{z:+g}.png", views[0], upload.bit_depth, provenance)
        return (quantise(figure), str(out), spread_map(views) if uncertainty else None,
                ("⚠️ " if score > 1 else "") + describe(score))

    def video(upload, axis: str, frames: int, spec: str, progress=gr.Progress()):
        from components.sampling.video import write_video

        if upload is None:
            raise gr.Error(NO_UPLOAD)
        frames = int(frames)
        try:
            rotator, loaded = shelf.get(spec)
            batch = 8
            step = step_progress(progress, rotator.steps * -(-frames // batch))
            values = np.linspace(-15, 15, frames)
            sweep = rotator.sweep(upload.pixels, axis, -15.0, 15.0, frames, batch, on_step=step)
            path = out_dir / f"sweep_{axis}.mp4"
            write_video(path, (with_caption(f, [f"{axis} = {v:+.1f}°  ·  {loaded}", MARK])
                               for f, v in zip(sweep, values)), fps=8)
        except (BadRequest, ValueError, LookupError, FileNotFoundError, OSError) as err:
            raise gr.Error(str(err).splitlines()[0]) from None
        return str(path)

    def ct_from_xrays(ap_path, lateral_path, seed: float, progress=gr.Progress()):
        from components.x2ct.request import NOTICE, ct_from_radiographs, write_ct

        if x2ct is None:
            raise gr.Error("this page was started without a CT-from-radiographs model")
        if not ap_path or not lateral_path:
            raise gr.Error("Upload both views: an AP and a left lateral radiograph.")
        ap = read_upload(ap_path)  # (the page keeps no upload: each is deleted once read)
        lateral = ap if Path(lateral_path) == Path(ap_path) else read_upload(lateral_path)
        try:
            model, loaded = x2ct.get()
            steps = model.config["inference"]["steps"]
            hu = ct_from_radiographs(model, ap.pixels, lateral.pixels, seed=int(seed),
                                     on_step=step_progress(progress, steps))
        except (BadRequest, ValueError, LookupError, FileNotFoundError) as err:
            raise gr.Error(str(err).splitlines()[0]) from None
        path, sidecar = write_ct(out_dir / f"ct_seed{int(seed)}.nii.gz", hu, model.grid.spacing_mm,
                                 {"model": loaded, "ap": ap.source, "lateral": lateral.source, "seed": int(seed)})
        caption = [f"{loaded} · seed {int(seed)} · {hu.shape[0]}³ × {model.grid.spacing_mm:g} mm", NOTICE]
        return volume_figure(hu, caption), [str(path), str(sidecar)]

    def generate_images(view: str, prosthesis: str, sex: str, age, bmi, n: float, seed: float, progress=gr.Progress()):
        from components.generation.labels import UNKNOWN, Labels
        from components.generation.request import generate_to_folder

        if generator is None:
            raise gr.Error("this page was started without a radiograph generator")
        try:
            labels = Labels(**{k: None if v in (UNKNOWN, None, "") else v
                               for k, v in (("view", view), ("prosthesis", prosthesis), ("sex", sex))},
                            age=None if age in (None, "") else float(age), bmi=None if bmi in (None, "") else float(bmi))
            model, loaded = generator.get()
            progress(0, desc=f"generating {int(n)}")
            folder = Path(tempfile.mkdtemp(prefix="generated-", dir=out_dir))
            record = generate_to_folder(model, loaded, labels, int(n), int(seed), folder)
        except (ValueError, LookupError, FileNotFoundError) as err:
            raise gr.Error(str(err).splitlines()[0]) from None
        files = [str(folder / item["file"]) for item in record["images"]] + [str(folder / "generated.json")]
        return str(folder / "sheet.png"), files

    with gr.Blocks(title="RadRotator — synthetic views, research use only", delete_cache=(600, 600)) as page:
        gr.Markdown(f"# RadRotator\n**⚠️ {MARK.capitalize()}.** Rotates the anatomy of one AP pelvis radiograph "
                    "by up to ±15° about x (left–right), y (antero-posterior) and z (head–foot).",
                    elem_id="banner")
        upload = gr.State(None)
        with gr.Row():
            model = gr.Dropdown(shelf.choices(), value=shelf.first, label="model", elem_id="model")
        with gr.Row():
            with gr.Column():
                file = gr.File(label="radiograph (PNG, JPEG, TIFF, DICOM; only pixels are used)",
                               file_types=[".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm"], elem_id="upload")
                preview = gr.Image(label="input", interactive=False, format="png", elem_id="input")
                about = gr.Markdown(elem_id="about")
            with gr.Column():
                sliders = [gr.Slider(-15, 15, value=0, step=0.5, label=f"{axis} (°)", elem_id=f"angle_{axis}")
                           for axis in "xyz"]
                uncertainty = gr.Checkbox(label=f"uncertainty: spread over {len(UNCERTAINTY_SEEDS)} seeds (slower)")
                go = gr.Button("Rotate", variant="primary", elem_id="rotate")
        with gr.Row():
            output = gr.Image(label="input | rotated", interactive=False, format="png", elem_id="output")
            spread = gr.Image(label="per-pixel spread", interactive=False, format="png", elem_id="spread")
        domain = gr.Markdown(elem_id="domain")
        download = gr.File(label="labelled PNG (angles, model, seed, research-use mark in its text chunks)",
                           elem_id="download")
        with gr.Accordion("Video: a sweep along one axis (mode B)", open=False):
            with gr.Row():
                axis = gr.Radio(["x", "y", "z"], value="z", label="axis")
                frames = gr.Slider(4, 120, value=VIDEO_FRAMES, step=1, label="frames")
                make = gr.Button("Video", elem_id="video")
            clip = gr.Video(label="sweep ±15°", elem_id="clip")
        with gr.Accordion("CT from two radiographs (AP + left lateral → a synthetic CT volume)", open=False):
            with gr.Row():
                ap_file = gr.File(label="AP radiograph", file_types=[".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm"],
                                  elem_id="x2ct_ap")
                lateral_file = gr.File(label="left lateral radiograph",
                                       file_types=[".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm"],
                                       elem_id="x2ct_lateral")
                x2ct_seed = gr.Number(value=0, precision=0, label="seed")
                reconstruct = gr.Button("Reconstruct", elem_id="x2ct_go")
            slices = gr.Image(label="synthetic CT: middle slices", interactive=False, format="png",
                              elem_id="x2ct_slices")
            nifti = gr.File(label="NIfTI (HU) and its labels (JSON)", file_count="multiple", elem_id="x2ct_nifti")
        with gr.Accordion("Radiographs on request (a label set → synthetic pelvis radiographs)", open=False):
            with gr.Row():
                gen_view = gr.Dropdown(["unknown", "ap", "oblique"], value="ap", label="view", elem_id="gen_view")
                gen_prosthesis = gr.Dropdown(["unknown", "none", "right", "left", "both"], value="none",
                                             label="hip prosthesis", elem_id="gen_prosthesis")
                gen_sex = gr.Dropdown(["unknown", "f", "m"], value="unknown", label="sex", elem_id="gen_sex")
                gen_age = gr.Number(value=None, label="age (years; empty: unknown)", elem_id="gen_age")
                gen_bmi = gr.Number(value=None, label="BMI (empty: unknown)", elem_id="gen_bmi")
            with gr.Row():
                gen_n = gr.Slider(1, 16, value=4, step=1, label="images")
                gen_seed = gr.Number(value=0, precision=0, label="first seed (image k: seed + k)")
                gen_go = gr.Button("Generate", elem_id="gen_go")
            gen_sheet = gr.Image(label="generated (labels, model, seeds, research-use mark)", interactive=False,
                                 format="png", elem_id="gen_sheet")
            gen_files = gr.File(label="labelled PNGs and generated.json", file_count="multiple", elem_id="gen_files")
        with gr.Accordion("Model card", open=False):
            card = gr.Markdown(shelf.card(shelf.first), elem_id="card")

        file.upload(on_upload, file, [upload, preview, about])
        inputs = [upload, *sliders, model, uncertainty]
        outputs = [output, download, spread, domain]
        go.click(rotate, inputs, outputs, api_name="rotate")
        for slider in sliders:
            slider.release(rotate, inputs, outputs, api_name=False)
        make.click(video, [upload, axis, frames, model], clip, api_name="video")
        model.change(shelf.card, model, card, api_name=False)
        reconstruct.click(ct_from_xrays, [ap_file, lateral_file, x2ct_seed], [slices, nifti], api_name="ct_from_xrays")
        gen_go.click(generate_images, [gen_view, gen_prosthesis, gen_sex, gen_age, gen_bmi, gen_n, gen_seed],
                     [gen_sheet, gen_files], api_name="generate")
    return page.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)


def launch(model: str, host: str, port: int, threads: int, x2ct_model: str = "models:/radrotator-x2ct@champion",
           generator_model: str = "models:/radrotator-generator@champion") -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr
    import torch

    from components.project import PROJECT_ROOT

    torch.set_num_threads(threads)
    out_dir = Path(tempfile.mkdtemp(prefix="radrotator-demo-"))
    page = build(ModelShelf(model, PROJECT_ROOT), out_dir, x2ct_shelf(x2ct_model, PROJECT_ROOT),
                 generator_shelf(generator_model, PROJECT_ROOT))
    print(f"RadRotator demo on http://{host}:{port} (model {model}; {threads} threads; Ctrl-C stops it)")
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],  # no web fonts: works offline
                              font_mono=["ui-monospace", "monospace"])
    page.launch(server_name=host, server_port=port, theme=theme, ssr_mode=False, max_file_size="64mb",
                footer_links=["api"], quiet=True, allowed_paths=[str(out_dir)])
    return 0
