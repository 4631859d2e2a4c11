"""The `radrotator` command.

    radrotator synth-ct OUT [--n N] [--seed S] [--if-empty]   synthetic pelvis CT series
    radrotator ingest SRC OUT [--salt-file F]                 build a CT pool (the ct_pool flow)
    radrotator new-salt FILE                                  a fresh pseudonymisation salt
    radrotator drr CT --angles X Y Z --out PNG [--pixels N]   one DRR of any CT (NIfTI or DICOM folder)
    radrotator rotate IMAGE --angles X Y Z [X Y Z ...] --out OUT    mode A: rotated view(s)
    radrotator video IMAGE --axis x|y|z --out OUT.mp4|.gif          mode B: a rotation sweep
    radrotator ct-from-xrays AP LATERAL --out CT.nii.gz        a CT volume from two radiographs
    radrotator info [--model M]                               the model card
    radrotator demo [--model M] [--port P]                    the web page (Gradio)
    radrotator sweep --trials N                               Optuna over training knobs (flows/sweep.py)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def synth_ct(args) -> int:
    from components.config import load_config
    from components.ct import synthetic
    from components.ct.series import discover_sources

    params = load_config(args.params)
    cfg = params.synthetic
    n = args.n if args.n is not None else cfg.n_series
    seed = args.seed if args.seed is not None else cfg.seed
    out = Path(args.out)
    if args.if_empty and out.is_dir() and discover_sources(out):
        print(f"{out} already holds CT series; nothing generated")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    plans = synthetic.plan_pool(n, seed, dicom_every=cfg.dicom_every, inplane_mm=tuple(cfg.inplane_mm))
    workers = args.workers or min(len(plans), os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for path in pool.map(synthetic.write_series, plans, [seed] * len(plans), [out] * len(plans)):
            print(f"wrote {path}")
    salt = Path(args.salt_file or params.ct_pool.salt_file)
    if not salt.exists():  # outside the data folder: never tracked by data.dvc, never pushed with it
        salt.parent.mkdir(parents=True, exist_ok=True)
        salt.write_text(synthetic.synthetic_salt(seed) + "\n")
    elif salt.read_text().strip() != synthetic.synthetic_salt(seed):
        print(f"note: kept the salt already in {salt} (the pool's ids depend on it)", file=sys.stderr)
    n_bad = sum(p.kind != "eligible" for p in plans)
    print(f"{len(plans)} series ({n_bad} deliberately ineligible) from "
          f"{len({p.patient for p in plans})} patients in {out}; salt in {salt}")
    return 0


def ingest(args) -> int:
    from flows import ct_pool

    summary = ct_pool.run(args.params, src=args.src, out=args.out, salt_file=args.salt_file,
                          patient_pattern=args.patient_pattern)
    print(f"{summary['accepted']} volumes from {summary['patients']} patients in {Path(args.out) / 'ct'}; "
          f"{summary['rejected']} series rejected, reasons in {Path(args.out) / 'rejected.csv'}")
    return 0


def new_salt(args) -> int:
    from components.ct.pseudonym import new_salt as write_salt

    try:
        print(f"wrote {write_salt(args.file)}: keep it with the raw data, out of git")
    except FileExistsError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


def drr(args) -> int:
    import dataclasses

    import torch

    from components.ct.eligibility import Eligibility
    from components.ct.ingest import read_ct_volume
    from components.ct.series import SeriesError
    from components.drr.display import window
    from components.drr.projector import TorchProjector
    from components.drr.render import DRRConfig, volume_from_image
    from components.pixels import quantise
    from components.sampling import requests

    try:
        requests.check_angles([args.angles], allow_extrapolation=True)
        if args.pixels is not None:
            check_range("--pixels", args.pixels, 8, 2048)
        requests.check_output(args.out, [args.ct], (".png",))
    except requests.BadRequest as err:
        print(f"drr failed: {err}", file=sys.stderr)
        return 1
    from components.config import load_config

    params = load_config(args.params)
    config = DRRConfig.from_params(params.drrs)
    if args.pixels:
        config = dataclasses.replace(config, geometry=dataclasses.replace(config.geometry, pixels=args.pixels))
    if max(abs(a) for a in args.angles) > 15:
        print(f"note: {args.angles} lies outside the ±15° the model is trained on", file=sys.stderr)
    try:  # any CT: resampled to the pool's convention on the fly, as ingest does
        image, notes = read_ct_volume(args.ct, float(params.ct_pool.spacing_mm),
                                      Eligibility.from_params(params.ct_pool.eligibility))
    except (SeriesError, FileNotFoundError) as err:
        print(f"{args.ct}: {err}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"note: {args.ct}: {note} (the pool would reject it; rendered anyway)", file=sys.stderr)
    volume = volume_from_image(image, config)
    if args.style == "radiograph":  # the evaluation's radiograph-style stand-in: film response, scatter, markers
        import numpy as np

        from components.evaluation.xray_style import Style, render_radiograph_style

        style = Style.draw(np.random.default_rng(args.seed))
        view = render_radiograph_style(volume, config.geometry, np.array([args.angles]), style, args.seed)[0]
    else:
        projector = TorchProjector(volume, config.geometry, config.physics)
        with torch.inference_mode():
            drr, _, _ = window(projector.render([args.angles], generator=torch.Generator().manual_seed(args.seed)),
                               config.display, config.geometry.pixel_mm)
        view = drr[0].numpy()
    write_labelled_png(args.out, quantise(view), {
        "Description": f"{'Radiograph-style DRR' if args.style == 'radiograph' else 'DRR'} of {Path(args.ct).name} "
                       f"at x={args.angles[0]:g} y={args.angles[1]:g} z={args.angles[2]:g} degrees (synthetic)",
        "Software": "radrotator drr"})
    print(f"wrote {args.out} ({config.geometry.pixels}² DRR at x={args.angles[0]:g}° y={args.angles[1]:g}° "
          f"z={args.angles[2]:g}°)")
    return 0


def write_labelled_png(path: str | Path, pixels, text: dict[str, str]) -> None:
    """A PNG with text chunks saying what made it, written to a temporary name and renamed."""
    from PIL import Image, PngImagePlugin

    from components.atomic_write import atomic_path

    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    with atomic_path(Path(path)) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG", pnginfo=info)


def check_range(option: str, value: int, low: int, high: int) -> None:
    from components.sampling.requests import BadRequest

    if not low <= value <= high:
        raise BadRequest(f"{option} = {value} is out of range: {low} to {high}")


def clear_stale_temporaries(path: Path) -> None:
    """Remove the temporaries of `path` that a killed run of this command left (its pid is gone)."""
    from components.atomic_write import TMP_PREFIX

    for stale in path.parent.glob(f"{TMP_PREFIX}*-{path.name}"):
        pid = stale.name[len(TMP_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists() and Path("/proc/self").exists():
            stale.unlink(missing_ok=True)


def default_threads() -> int:
    """Torch threads for one command: the cores this process may use, less those other jobs keep busy
    (the 1-minute load), at most 4. Two threads on two cores that another job also wants thrash
    (benchmarks/threads.py measures it); one thread then runs several times faster."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    busy = int(round(os.getloadavg()[0])) if hasattr(os, "getloadavg") else 0
    return max(1, min(4, cores - busy))


def _rotator(args):
    import torch

    from components.project import PROJECT_ROOT
    from components.registry.loading import load_rotator

    threads = args.threads or default_threads()
    torch.set_num_threads(threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"loading {args.model} ({device}, {threads} thread{'s' if threads > 1 else ''})…", file=sys.stderr)
    rotator, loaded = load_rotator(args.model, PROJECT_ROOT, device)
    print(f"model: {loaded}", file=sys.stderr)
    return rotator, loaded


def _progress():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), transient=False)


def _provenance(args, rotator, loaded, triple, image_path, score):
    return rotator.provenance(triple, loaded, args.seed, Path(image_path).name, score, args.sampler, args.steps,
                              args.guidance)


def _domain_check(rotator, pixels) -> float:
    from components.models.domain_guard import describe

    score = rotator.domain_score(pixels)
    print(describe(score), file=sys.stderr)
    return score


def rotate(args) -> int:
    from components.sampling import requests
    from components.sampling.labels import side_by_side, write_labelled
    from components.sampling.radiograph_io import read_radiograph
    from components.sampling.samplers import check_sampler

    try:  # everything a user typed is checked before the model loads (seconds) or the sampler runs
        if len(args.angles) % 3:
            raise requests.BadRequest("--angles takes triples: X Y Z [X Y Z ...]")
        triples = requests.check_angles([args.angles[i:i + 3] for i in range(0, len(args.angles), 3)],
                                        args.allow_extrapolation)
        steps, guidance = requests.check_steps(args.steps), requests.check_guidance(args.guidance)
        sampler = check_sampler(args.sampler) if args.sampler else None
        out = Path(args.out)
        paths = [out] if len(triples) == 1 else [out.with_name(
            f"{out.stem}_x{t[0]:+g}_y{t[1]:+g}_z{t[2]:+g}{out.suffix}") for t in triples]
        for path in paths:
            requests.check_output(path, [args.image], requests.IMAGE_SUFFIXES)
        if args.side_by_side and out.suffix.lower() != ".png":
            raise requests.BadRequest("--side-by-side writes a PNG figure: give --out a .png name")
        if args.link_to_source and out.suffix.lower() != ".dcm":
            raise requests.BadRequest("--link-to-source files a DICOM output with its study: give --out a .dcm name")
        image = read_radiograph(args.image)
        if args.link_to_source and image.dicom is None:
            raise requests.BadRequest(f"{args.image}: --link-to-source needs a DICOM input")
        rotator, loaded = _rotator(args)
        score = _domain_check(rotator, image.pixels)
        with _progress() as bar:
            job = bar.add_task(f"rotating {len(triples)} view{'s' if len(triples) > 1 else ''}",
                               total=steps or rotator.steps)
            views = rotator.rotate(image.pixels, triples, steps=steps, guidance=guidance, seed=args.seed,
                                   allow_extrapolation=args.allow_extrapolation, sampler=sampler,
                                   on_step=lambda: bar.advance(job))
    except (ValueError, FileNotFoundError, LookupError) as err:
        print(f"rotate failed: {err}", file=sys.stderr)
        return 1
    for path, view, triple in zip(paths, views, triples):
        clear_stale_temporaries(path)
        provenance = _provenance(args, rotator, loaded, triple, args.image, score)
        if args.side_by_side:
            write_labelled(path, side_by_side(image.pixels_01(), view, provenance), 8, provenance)
        else:
            write_labelled(path, view, image.bit_depth, provenance, image.dicom, args.link_to_source)
        print(f"wrote {path} ({provenance.angle_text}; synthetic view, research use only)")
    return 0


def ct_from_xrays(args) -> int:
    import torch

    from components.project import PROJECT_ROOT
    from components.sampling import requests
    from components.sampling.radiograph_io import read_radiograph
    from components.x2ct.registry import load_x2ct
    from components.x2ct.request import ct_from_radiographs, write_ct

    try:  # the request is checked before the model loads
        steps = requests.check_steps(args.steps)
        out = Path(args.out)
        if not out.name.endswith((".nii", ".nii.gz")):
            raise requests.BadRequest(f"{out}: --out must name a NIfTI file (.nii.gz or .nii)")
        requests.check_output(out, [args.ap, args.lateral], (".gz", ".nii"))
        ap, lateral = read_radiograph(args.ap), read_radiograph(args.lateral)
        torch.set_num_threads(args.threads or default_threads())
        model, loaded = load_x2ct(args.model, PROJECT_ROOT)
        print(f"model: {loaded}", file=sys.stderr)
        with _progress() as bar:
            job = bar.add_task("reconstructing", total=steps or model.config["inference"]["steps"])
            hu = ct_from_radiographs(model, ap.pixels, lateral.pixels, seed=args.seed, steps=steps,
                                     on_step=lambda: bar.advance(job))
    except (ValueError, FileNotFoundError, LookupError) as err:
        print(f"ct-from-xrays failed: {err}", file=sys.stderr)
        return 1
    clear_stale_temporaries(out)
    write_ct(out, hu, model.grid.spacing_mm, {
        "model": loaded, "ap": Path(args.ap).name, "lateral": Path(args.lateral).name, "seed": args.seed,
        "sampler": model.config["inference"]["sampler"], "steps": steps or model.config["inference"]["steps"],
        "grid": model.grid.to_dict(), "geometry": model.config["geometry"],
        "frame": "LPS, HU; the isocentre (the views' rotation centre) at the origin"})
    print(f"wrote {out} ({hu.shape[0]}³ voxels of {model.grid.spacing_mm:g} mm, HU; synthetic CT, research use only)")
    return 0


def generate(args) -> int:
    import torch

    from components.generation.labels import Labels
    from components.generation.registry import load_registered_generator
    from components.generation.request import generate_to_folder
    from components.project import PROJECT_ROOT
    from components.sampling import requests

    try:  # the request is checked before the model loads
        steps, guidance = requests.check_steps(args.steps), requests.check_guidance(args.guidance)
        labels = Labels(view=args.view, prosthesis=args.prosthesis, sex=args.sex, age=args.age, bmi=args.bmi)
        torch.set_num_threads(args.threads or default_threads())
        generator, loaded = load_registered_generator(args.model, PROJECT_ROOT)
        print(f"model: {loaded}", file=sys.stderr)
        record = generate_to_folder(generator, loaded, labels, args.n, args.seed, args.out, steps=steps,
                                    guidance=guidance)
    except (ValueError, FileNotFoundError, FileExistsError, LookupError) as err:
        print(f"generate failed: {err}", file=sys.stderr)
        return 1
    print(f"wrote {len(record['images'])} images ({labels.caption()}; seeds {args.seed}–{args.seed + args.n - 1}) "
          f"and generated.json, sheet.png in {args.out} (synthetic radiographs, research use only)")
    return 0


def video(args) -> int:
    import math

    import numpy as np

    from components.sampling import requests
    from components.sampling.labels import MARK, with_caption
    from components.sampling.radiograph_io import read_radiograph
    from components.sampling.samplers import check_sampler
    from components.sampling.video import write_video

    try:
        k = "xyz".index(args.axis)
        requests.check_angles([[v if i == k else 0.0 for i in range(3)] for v in args.range],
                              args.allow_extrapolation)
        check_range("--frames", args.frames, 1, 10000)
        check_range("--fps", args.fps, 1, 120)
        check_range("--batch", args.batch, 1, 1024)
        steps, guidance = requests.check_steps(args.steps), requests.check_guidance(args.guidance)
        sampler = check_sampler(args.sampler) if args.sampler else None
        out = requests.check_output(args.out, [args.image], requests.VIDEO_SUFFIXES)
        image = read_radiograph(args.image)
        rotator, loaded = _rotator(args)
        _domain_check(rotator, image.pixels)
        clear_stale_temporaries(out)
        batches = math.ceil(args.frames / args.batch)
        with _progress() as bar:
            denoise = bar.add_task(f"denoising ({batches} batches of {args.batch})",
                                   total=(steps or rotator.steps) * batches)
            frames = rotator.sweep(image.pixels, args.axis, args.range[0], args.range[1], args.frames, args.batch,
                                   steps, guidance, args.seed, args.allow_extrapolation, sampler,
                                   on_step=lambda: bar.advance(denoise))
            if args.overlay:
                frames = (with_caption(f, [f"{args.axis} = {v:+.1f}°  ·  {loaded}", MARK])
                          for f, v in zip(frames, np.linspace(*args.range, args.frames)))  # the sweep's angles
            count = write_video(out, frames, args.fps)
    except (ValueError, FileNotFoundError, LookupError, OSError) as err:
        print(f"video failed: {err}".splitlines()[0], file=sys.stderr)  # ffmpeg appends its command line
        return 1
    print(f"wrote {out}: {count} frames at {args.fps} fps, {args.axis} from {args.range[0]:+g}° to "
          f"{args.range[1]:+g}° (synthetic views, research use only)")
    return 0


def info(args) -> int:
    from components.project import PROJECT_ROOT
    from components.registry.loading import model_card_text

    try:
        print(model_card_text(args.model, PROJECT_ROOT))
    except Exception as err:  # noqa: BLE001 (registry errors come in many kinds; one line each)
        print(f"info failed: {args.model}: {err}".splitlines()[0], file=sys.stderr)
        return 1
    return 0


def demo(args) -> int:
    from radrotator.demo import launch

    return launch(args.model, args.host, args.port, args.threads or default_threads(), args.x2ct_model,
                  args.generator_model)


def sweep(args) -> int:
    from flows import sweep as sweep_flow

    if args.trials < 1:
        print("sweep failed: --trials must be at least 1", file=sys.stderr)
        return 1
    sweep_flow.sweep(args.params, args.trials)
    return 0


def profile(args) -> int:
    """A profile's overrides as `dvc exp run -S` settings; with --run, run the pipeline with them."""
    import shlex
    import subprocess

    from components.config import profile_overrides
    from components.project import venv_env

    settings = [f"{key}={json.dumps(value)}" for key, value in profile_overrides(args.name).items()]
    command = ["dvc", "exp", "run", *(a for s in settings for a in ("-S", s)), *args.dvc_args]
    if not args.run:
        print(shlex.join(command))
        return 0
    print(f"profile {args.name}: {len(settings)} settings over params.yaml, run as a DVC experiment")
    return subprocess.run(command, env=venv_env()).returncode


def _model_options(p) -> None:
    p.add_argument("--model", default="models:/radrotator@champion",
                   help="registry URI or a folder with ema.safetensors + config.json")
    p.add_argument("--sampler", help="ddim | dpmsolver++ | unipc (default: the model's, from its folder; report: ddim)")
    p.add_argument("--steps", type=int, help="sampler steps (default: the model's, from its folder; report: 200)")
    p.add_argument("--threads", type=int, help="torch threads (default: free cores, at most 4)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance (default: the model's; report: 4)")
    p.add_argument("--seed", type=int, default=0, help="fixes the noise shared by every view")
    p.add_argument("--allow-extrapolation", action="store_true", help="allow angles beyond ±15°")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="radrotator", description="RadRotator: rotate radiographs in 3D.")
    parser.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    parser.add_argument("--verbose", action="store_true", help="show the traceback of a failure")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth-ct", help="write synthetic pelvis CT series (NIfTI + DICOM)")
    p.add_argument("out")
    p.add_argument("--n", type=int, help="number of series (default: params synthetic.n_series)")
    p.add_argument("--seed", type=int, help="random seed (default: params synthetic.seed)")
    p.add_argument("--workers", type=int, help="processes (default: all cores)")
    p.add_argument("--if-empty", action="store_true", help="do nothing when OUT already holds CT series")
    p.add_argument("--salt-file", help="where the synthetic pool's salt goes, unless one is there (default: "
                   "params ct_pool.salt_file, outside the data folder)")
    p.set_defaults(func=synth_ct)

    p = sub.add_parser("ingest", help="build a CT pool from a folder of NIfTI files and DICOM series")
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--salt-file", help="pseudonymisation salt, anywhere outside the tracked data (default: "
                   "params ct_pool.salt_file)")
    p.add_argument("--patient-pattern", help="regex with a `patient` group: the patient in a file name when a "
                   "NIfTI has no PatientID (default: params ct_pool.patient_id_pattern; else one patient per file)")
    p.set_defaults(func=ingest)

    p = sub.add_parser("new-salt", help="write a fresh random salt for pseudonymous ids")
    p.add_argument("file")
    p.set_defaults(func=new_salt)

    p = sub.add_parser("drr", help="render one DRR of any CT (NIfTI file or DICOM folder)")
    p.add_argument("ct", help="a NIfTI file or a DICOM folder; resampled to the pool's convention on the fly")
    p.add_argument("--angles", nargs=3, type=float, default=[0.0, 0.0, 0.0], metavar=("X", "Y", "Z"),
                   help="rotation in degrees about x (left-right), y (antero-posterior), z (head-foot)")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--pixels", type=int, help="detector size (default: params drrs.geometry.pixels)")
    p.add_argument("--seed", type=int, default=0, help="quantum noise seed (and the radiograph style's draw)")
    p.add_argument("--style", choices=["drr", "radiograph"], default="drr",
                   help="radiograph: the evaluation's radiograph-style rendering (film response, scatter, marker)")
    p.set_defaults(func=drr)

    p = sub.add_parser("rotate", help="mode A: rotate a radiograph (PNG/JPEG/DICOM) in 3D")
    p.add_argument("image")
    p.add_argument("--angles", nargs="+", type=float, required=True, metavar="DEG",
                   help="one or more triples X Y Z in degrees; several triples share the noise")
    p.add_argument("--out", required=True, help="PNG/TIFF/JPEG (labelled) or .dcm (a DICOM Secondary Capture)")
    p.add_argument("--side-by-side", action="store_true", help="write input | rotated with the angles on it (PNG)")
    p.add_argument("--link-to-source", action="store_true",
                   help="DICOM in and out: file the view with the source's study and patient (a new series); "
                        "without it no patient data is copied")
    _model_options(p)
    p.set_defaults(func=rotate)

    p = sub.add_parser("video", help="mode B: a rotation sweep about one axis as MP4 or GIF")
    p.add_argument("image")
    p.add_argument("--axis", choices=["x", "y", "z"], required=True)
    p.add_argument("--range", nargs=2, type=float, default=[-15.0, 15.0], metavar=("FROM", "TO"))
    p.add_argument("--frames", type=int, default=60, help="frames (the report's demo: 300 over ±15°)")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--batch", type=int, default=16, help="frames denoised together")
    p.add_argument("--overlay", action="store_true", help="burn the angle, model and research-use mark into frames")
    p.add_argument("--out", required=True)
    _model_options(p)
    p.set_defaults(func=video)

    p = sub.add_parser("ct-from-xrays", help="a CT volume (NIfTI, HU) from an AP and a lateral radiograph")
    p.add_argument("ap", help="AP radiograph (PNG/JPEG/TIFF/DICOM)")
    p.add_argument("lateral", help="left lateral radiograph of the same patient and position")
    p.add_argument("--out", required=True, help="output .nii.gz (a JSON sidecar is written beside it)")
    p.add_argument("--model", default="models:/radrotator-x2ct@champion",
                   help="registry URI or a model folder (models/x2ct/diffusion)")
    p.add_argument("--steps", type=int, help="sampler steps (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="fixes the noise")
    p.add_argument("--threads", type=int, help="torch threads (default: free cores, at most 4)")
    p.set_defaults(func=ct_from_xrays)

    p = sub.add_parser("generate", help="radiographs on request: synthetic pelvis radiographs for a label set")
    p.add_argument("--view", choices=["ap", "oblique"], help="leave out: unknown (the model's null label)")
    p.add_argument("--prosthesis", choices=["none", "right", "left", "both"], help="hip arthroplasty per side")
    p.add_argument("--sex", choices=["f", "m"])
    p.add_argument("--age", type=float, help="years")
    p.add_argument("--bmi", type=float, help="kg/m²")
    p.add_argument("--n", type=int, default=8, help="images (image k from seed + k)")
    p.add_argument("--seed", type=int, default=0, help="the first image's seed")
    p.add_argument("--out", required=True, help="folder: PNGs, generated.json (labels, seeds), sheet.png")
    p.add_argument("--model", default="models:/radrotator-generator@champion",
                   help="registry URI or a model folder (models/generator/generator)")
    p.add_argument("--steps", type=int, help="sampler steps (default: the model's)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance (default: the model's)")
    p.add_argument("--threads", type=int, help="torch threads (default: free cores, at most 4)")
    p.set_defaults(func=generate)

    p = sub.add_parser("info", help="the model card: intended use, limits, evaluation, lineage")
    p.add_argument("--model", default="models:/radrotator@champion", help="registry URI or a model folder")
    p.set_defaults(func=info)

    p = sub.add_parser("demo", help="a web page to try the model (Gradio, loopback by default)")
    p.add_argument("--model", default="models:/radrotator@champion",
                   help="the model first shown; the page also offers @challenger and each version")
    p.add_argument("--x2ct-model", default="models:/radrotator-x2ct@champion",
                   help="the CT-from-two-radiographs model (registry URI or folder), loaded on first use")
    p.add_argument("--generator-model", default="models:/radrotator-generator@champion",
                   help="the radiograph generator (registry URI or folder), loaded on first use")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--threads", type=int, help="torch threads (default: free cores, at most 4)")
    p.set_defaults(func=demo)

    p = sub.add_parser("profile", help="a profile (profiles/NAME.yaml) as DVC experiment settings; --run runs it")
    p.add_argument("name", help="profile name, e.g. paper")
    p.add_argument("--run", action="store_true", help="dvc exp run with these settings (a DVC experiment: dvc exp show lists it)")
    p.add_argument("dvc_args", nargs="*", help="more `dvc exp run` arguments, after --")
    p.set_defaults(func=profile)
    p = sub.add_parser("sweep", help="Optuna sweep over training knobs (params.yaml `sweep`), resumable")
    p.add_argument("--trials", type=int, required=True, help="finished trials the study should hold")
    p.add_argument("--params", default=argparse.SUPPRESS, help="as before the command")
    p.set_defaults(func=sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    from flows.stage import prepare_last_words, quiet_tracebacks, say_last, verbose_requested

    args = build_parser().parse_args(argv)
    quiet_tracebacks(args.verbose)
    prepare_last_words()
    try:
        return args.func(args)
    except Exception as err:  # anything a command did not turn into its own one-line error
        if verbose_requested(args.verbose):
            raise
        say_last(f"{args.command} failed: {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
