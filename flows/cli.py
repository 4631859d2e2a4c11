"""The `radrotator` command.

    radrotator synth-ct OUT [--n N] [--seed S] [--if-empty]   synthetic pelvis CT series
    radrotator ingest SRC OUT [--salt-file F]                 build a CT pool (the ct_pool flow)
    radrotator new-salt FILE                                  a fresh pseudonymisation salt
    radrotator drr CT --angles X Y Z --out PNG [--pixels N]   one DRR of a pool volume
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from components.params import load_params


def synth_ct(args) -> int:
    from components.ct import synthetic
    from components.ct.series import discover_sources

    cfg = load_params(args.params).get("synthetic", {}) if Path(args.params).exists() else {}
    n = args.n if args.n is not None else int(cfg.get("n_series", 12))
    seed = args.seed if args.seed is not None else int(cfg.get("seed", 0))
    out = Path(args.out)
    if args.if_empty and out.is_dir() and discover_sources(out):
        print(f"{out} already holds CT series; nothing generated")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    plans = synthetic.plan_pool(n, seed, dicom_every=int(cfg.get("dicom_every", 4)),
                                inplane_mm=tuple(cfg.get("inplane_mm", (1.4, 2.0))))
    workers = args.workers or min(len(plans), os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for path in pool.map(synthetic.write_series, plans, [seed] * len(plans), [out] * len(plans)):
            print(f"wrote {path}")
    salt = out / "id_salt.txt"
    salt.write_text(synthetic.synthetic_salt(seed) + "\n")
    n_bad = sum(p.kind != "eligible" for p in plans)
    print(f"{len(plans)} series ({n_bad} deliberately ineligible) from "
          f"{len({p.patient for p in plans})} patients in {out}; salt in {salt}")
    return 0


def ingest(args) -> int:
    from flows import ct_pool

    salt_file = args.salt_file or str(Path(args.src) / "id_salt.txt")
    try:
        summary = ct_pool.run(args.params, src=args.src, out=args.out, salt_file=salt_file)
    except Exception as err:
        print(f"ingest failed: {err}", file=sys.stderr)
        return 1
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
    from PIL import Image

    from components.drr.contact_sheet import to_png_array
    from components.drr.render import DRRConfig, load_volume
    from components.drr.projector import TorchProjector, rescale_unit

    config = DRRConfig.from_params(load_params(args.params)["drrs"])
    if args.pixels:
        config = dataclasses.replace(config, geometry=dataclasses.replace(config.geometry, pixels=args.pixels))
    if max(abs(a) for a in args.angles) > 15:
        print(f"note: {args.angles} lies outside the ±15° the model is trained on", file=sys.stderr)
    try:
        volume = load_volume(args.ct, config)
    except (RuntimeError, ValueError, OSError) as err:
        print(f"{args.ct}: {err}", file=sys.stderr)
        return 1
    with torch.inference_mode():
        image, _, _ = rescale_unit(TorchProjector(volume, config.geometry, config.physics).render([args.angles]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_png_array(image[0].numpy())).save(args.out)
    print(f"wrote {args.out} ({config.geometry.pixels}² DRR at x={args.angles[0]:g}° y={args.angles[1]:g}° "
          f"z={args.angles[2]:g}°)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="radrotator", description="RadRotator: rotate radiographs in 3D.")
    parser.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth-ct", help="write synthetic pelvis CT series (NIfTI + DICOM)")
    p.add_argument("out")
    p.add_argument("--n", type=int, help="number of series (default: params synthetic.n_series)")
    p.add_argument("--seed", type=int, help="random seed (default: params synthetic.seed)")
    p.add_argument("--workers", type=int, help="processes (default: all cores)")
    p.add_argument("--if-empty", action="store_true", help="do nothing when OUT already holds CT series")
    p.set_defaults(func=synth_ct)

    p = sub.add_parser("ingest", help="build a CT pool from a folder of NIfTI files and DICOM series")
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--salt-file", help="pseudonymisation salt (default: SRC/id_salt.txt)")
    p.set_defaults(func=ingest)

    p = sub.add_parser("new-salt", help="write a fresh random salt for pseudonymous ids")
    p.add_argument("file")
    p.set_defaults(func=new_salt)

    p = sub.add_parser("drr", help="render one DRR of a pool CT volume (pool/ct/<ct_id>.nii.gz)")
    p.add_argument("ct")
    p.add_argument("--angles", nargs=3, type=float, default=[0.0, 0.0, 0.0], metavar=("X", "Y", "Z"),
                   help="rotation in degrees about x (left-right), y (antero-posterior), z (head-foot)")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--pixels", type=int, help="detector size (default: params drrs.geometry.pixels)")
    p.set_defaults(func=drr)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
