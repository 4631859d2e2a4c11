"""A model card per registered version: what the model is for, where it stops, how it measured, what made it.

Written by the promote stage (the first stage that holds the evaluation) into the
version's description and as `model_card.md` in its run; `radrotator info` and the
demo show it. Everything in it comes from the model folder, the evaluation and the
pipeline's lock file: nothing is typed in by hand.
"""

from __future__ import annotations

import pandas as pd

from components.drr.pose_protocol import MAX_ANGLE

DOMAINS = {"drr": "DRR inputs", "radiograph_style": "radiograph-style inputs (a rendered stand-in)"}
MEASURES = (("mae", "MAE ↓", "{:.3f}"), ("ssim", "SSIM ↑", "{:.3f}"),
            ("rotation_error_deg", "rotation error ° ↓ (registration)", "{:.2f}"))
METHODS = ("model", "identity", "affine_warp")


def _cell(values: dict, measure: str, fmt: str) -> str:
    if measure not in values:
        return "–"
    return f"{fmt.format(values[measure])} [{fmt.format(values[measure + '_lo'])}, {fmt.format(values[measure + '_hi'])}]"


def evaluation_table(metrics: dict) -> list[str]:
    """All bins together, each method and the paired differences model − baseline, with 95 % intervals."""
    lines = []
    for domain, title in DOMAINS.items():
        methods = metrics.get("domains", {}).get(domain)
        if not methods:
            continue
        lines += ["", f"**{title}**, all rotation bins (mean [95 % interval over patients, then pairs]):", "",
                  "| | n | " + " | ".join(m[1] for m in MEASURES) + " |", "|---" * (len(MEASURES) + 2) + "|"]
        for method in METHODS:
            values = methods.get(method, {}).get("all")
            if values:
                lines.append(f"| {method} | {values['n']} | " + " | ".join(_cell(values, m, f) for m, _, f in MEASURES)
                             + " |")
        for name, differences in metrics.get("differences", {}).items():
            values = differences.get(domain, {}).get("all")
            if values:
                lines.append(f"| {name} (paired) | {values['n']} | "
                             + " | ".join(_cell(values, m, f) for m, _, f in MEASURES) + " |")
    return lines


def training_data(manifest: pd.DataFrame, folds: pd.DataFrame, train_folds: list[int]) -> str:
    train = folds[folds["fold"].isin(train_folds)]
    formats = ", ".join(f"{n} {k}" for k, n in manifest["source_format"].value_counts().sort_index().items())
    return (f"{train['ct_id'].nunique()} CTs of {train['patient_id'].nunique()} patients (training folds "
            f"{', '.join(map(str, train_folds))}) of a pool of {len(manifest)} CTs ({formats})")


def model_card(version: str, model_sha256: str, config: dict, params: dict, metrics: dict, record: dict,
               data: str, lineage: dict[str, str], decision: str) -> str:
    inference = config.get("inference", {})
    size = config["unet"]["image_size"]
    lines = [
        f"# RadRotator v{version}: model card",
        "",
        "**Synthetic views for research only: not for diagnosis, treatment or any clinical decision.**",
        "",
        "## Intended use",
        f"Rotate the anatomy of one **AP pelvis radiograph** in 3D by up to **±{MAX_ANGLE:g}°** about x "
        "(left–right), y (antero-posterior) and z (head–foot), to give researchers a view of the same anatomy "
        "from another angle. Angles beyond the range are refused unless the user asks to extrapolate.",
        "",
        "## Limits",
        f"- Trained on digitally reconstructed radiographs of {data}; profile `{params.get('profile', 'cpu')}`, "
        f"{params.get('train', {}).get('max_steps', '?')} training steps, {size}² pixels. The outputs are resized back to the "
        "input's size: detail finer than the model's resolution is not rotated but interpolated.",
        "- The default build's pool is **synthetic** (pelvis phantoms from `radrotator synth-ct`): the figures "
        "below say how the model does on held-out patients of its pool, not on real radiographs.",
        "- Other body parts, lateral views, children, implants and photographs of films are outside the "
        "training domain: the input guard warns (domain score > 1) but does not refuse.",
        f"- Defaults: {inference.get('sampler', 'ddim')}, {inference.get('steps', '?')} steps, guidance "
        f"{inference.get('guidance', '?')}; the noise is fixed by a seed, so one request gives one image, not a "
        "distribution.",
        "",
        "## Evaluation",
        f"Test fold: {record.get('n_pairs', '?')} pairs per domain from {len(record.get('test_patients', []))} "
        "patients never seen in training; rotation error is the pose read back by 2D/3D registration minus the "
        "pose asked for. Full tables: reports/evaluation.md.",
        *evaluation_table(metrics),
        "",
        f"Promotion: {decision}",
        "",
        "## Lineage",
        f"- weights sha256: `{model_sha256}`",
        f"- evaluation fingerprint `{record.get('fingerprint', '?')}`, test set `{record.get('test_fingerprint', '?')}`, "
        f"pose regressor `{record.get('pose_regressor', '?')}`",
        *[f"- {key}: `{value}`" for key, value in sorted(lineage.items())],
    ]
    return "\n".join(lines) + "\n"
