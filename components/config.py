"""params.yaml, typed: one frozen model per section, validated where it enters.

params.yaml is the one source of every knob; this module holds its shape and no
values (no defaults: a key missing from the file is an error, not a silent
fallback). `load_config` reads the file, applies a profile's overrides
(profiles/<name>.yaml holds only what differs) and validates the result; a bad
file ends in one line naming the file and the key:

    params.yaml: train.optim.lrr: unknown key
    profiles/paper.yaml: train.grid_steps: not a key of params.yaml

Numbers are kept as written (an int stays an int), so that a configuration's
hash, which keys cached shards and checkpoints, does not depend on this module.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

Number = int | float  # smart union: 1200 stays 1200, 0.5 stays 0.5


class ConfigError(ValueError):
    """A parameters or profile file that does not fit the schema; the message is one line."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")


# --- the pool ----------------------------------------------------------------------------------------
class Synthetic(Section):
    n_series: int
    seed: int
    inplane_mm: tuple[Number, Number]
    dicom_every: int


class EligibilityRules(Section):
    min_slices: int
    max_slice_thickness_mm: Number
    min_z_extent_mm: Number
    min_lr_extent_mm: Number
    max_obliquity_deg: Number
    air_hu_min: Number
    air_hu_max: Number
    padding_hu: Number
    body_median_hu: tuple[Number, Number]
    bone_hu: Number
    min_bone_fraction: Number


class CtPool(Section):
    src: str
    out: str
    salt_file: str
    patient_id_pattern: str | None
    spacing_mm: Number
    workers: int
    eligibility: EligibilityRules
    metal_hu: Number
    metal_min_voxels: int


# --- DRRs --------------------------------------------------------------------------------------------
class DisplayParams(Section):
    body_threshold: Number
    low_quantile: Number
    high_quantile: Number
    equalisation: Number
    equalisation_sigma_mm: Number


class GeometryParams(Section):
    source_to_detector_mm: Number
    source_to_isocentre_mm: Number
    pixels: int
    detector_mm: Number


class PhysicsParams(Section):
    kvp: Number
    filtration_mm_al: Number
    scatter_fraction: Number
    scatter_sigma_mm: Number
    photons_per_mm2: Number


class ContactSheet(Section):
    n_ct: int
    poses: tuple[tuple[Number, Number, Number], ...]


class Drrs(Section):
    out: str
    backend: Literal["torch", "deepdrr"]
    drrs_per_ct: int
    seed: int
    volume_spacing_mm: Number
    batch_size: int
    task_runner: Literal["threads", "dask"]
    workers: int
    dask_address: str | None
    display: DisplayParams
    geometry: GeometryParams
    physics: PhysicsParams
    contact_sheet: ContactSheet


class Folds(Section):
    out: str
    n_folds: int
    train: tuple[int, ...]
    val: int
    test: int
    seed: int
    size_tolerance: Number

    @property
    def csv(self) -> Path:
        return Path(self.out) / "folds.csv"


class XrayDomain(Section):
    out: str
    folds: tuple[int, ...]
    seed: int
    real_dir: str


# --- training ----------------------------------------------------------------------------------------
class Inference(Section):
    sampler: Literal["ddim", "dpmsolver++", "unipc"]
    steps: int
    guidance: Number


class UNet(Section):
    channels: tuple[int, ...]
    attention_levels: tuple[bool, ...]
    num_res_blocks: int
    num_head_channels: int | tuple[int, ...]
    norm_num_groups: int


class Optim(Section):
    lr: Number
    weight_decay: Number
    ema_decay: Number
    guidance_drop_prob: Number
    vlb_weight: Number
    timesteps: int
    lr_schedule: Literal["constant", "cosine"]
    warmup_steps: int


class Train(Section):
    out: str
    experiment: str
    run_name: str | None
    register_model: bool
    seed: int
    max_steps: int
    batch_size: int
    histogram_transform: Literal["match", "monai_shift", "none"]
    gradient_clip: Number
    bf16: bool
    accelerator: Literal["auto", "gpu", "cpu"]
    devices: int | str
    num_nodes: int
    strategy: str
    val_every: int
    val_batches: int
    val_pairs: int
    log_every: int
    progress_bar: bool
    grid_pairs: int
    checkpoint_every: int
    resume: bool
    inference: Inference
    unet: UNet
    optim: Optim

    @property
    def model_dir(self) -> Path:
        return Path(self.out) / "radrotator"


class PoseRegressor(Section):
    out: str
    seed: int
    max_steps: int
    batch_size: int
    lr: Number
    channels: tuple[int, ...]
    guard_images_per_ct: int


class CycleGan(Section):
    out: str
    experiment: str
    seed: int
    max_steps: int
    batch_size: int
    filters: int
    blocks: int
    disc_filters: int
    lr: Number
    lr_schedule: Literal["constant", "linear_decay"]
    lambda_cycle: Number
    lambda_identity: Number
    pool_size: int
    domain_b: Literal["auto", "real", "stand_in"]


# --- evaluation, registry, operations --------------------------------------------------------------
class Registration(Section):
    pixels: int
    volume_spacing_mm: Number
    step_deg: Number
    limit_deg: Number
    margin: Number


class Evaluate(Section):
    out: str
    ablations_out: str
    angle_bins: tuple[Number, ...]
    pairs_per_bin: int
    sampler: Literal["ddim", "dpmsolver++", "unipc"] | None
    steps: int | None
    guidance: Number | None
    seed: int
    batch_size: int
    bootstrap: int
    confidence: Number
    registration: Registration
    real_rotations: tuple[tuple[Number, Number, Number], ...]


class Promote(Section):
    out: str
    primary: str
    guards: tuple[str, ...]


class Schedule(Section):
    deployment: str
    cron: str
    timezone: str
    targets: tuple[str, ...]


class Pruner(Section):
    n_startup_trials: int
    n_warmup_steps: int


class Range(Section):
    low: Number
    high: Number
    log: bool = False  # a range is linear unless it says log: true (Optuna's own default)


class Sweep(Section):
    out: str
    study: str
    storage: str
    experiment: str
    seed: int
    max_steps: int
    validate_on: Literal["drr", "radiograph_style"]
    val_every: int
    val_batches: int
    pruner: Pruner
    space: dict[str, Range | list[Any]]


# --- CT from two radiographs ------------------------------------------------------------------------
class Grid(Section):
    voxels: int
    spacing_mm: Number


class Biplanar(Section):
    out: str
    seed: int
    poses_per_ct: int
    max_rotation_deg: tuple[Number, Number, Number]
    grid: Grid


class X2ctSampling(Section):
    sampler: Literal["ddim", "dpmsolver++", "unipc"]
    steps: int


class X2ct(Section):
    out: str
    experiment: str
    seed: int
    max_steps: int
    batch_size: int
    lr: Number
    ema_decay: Number
    timesteps: int
    projection_weight: Number
    unet: UNet
    inference: X2ctSampling


class X2ctEvaluate(Section):
    out: str
    report: str
    seed: int
    bone_hu: Number
    bootstrap: int
    confidence: Number
    examples: int
    primary: str
    guards: tuple[str, ...]


# --- radiographs on request ---------------------------------------------------------------------------
class GenerationData(Section):
    out: str
    image_size: int
    oblique_deg: Number


class Reader(Section):
    channels: tuple[int, ...]
    max_steps: int
    batch_size: int
    lr: Number


class GenerateTrain(Section):
    out: str
    experiment: str
    seed: int
    max_steps: int
    batch_size: int
    lr: Number
    ema_decay: Number
    timesteps: int
    label_drop_prob: Number
    guidance_drop_prob: Number
    unet: UNet
    inference: Inference
    reader: Reader


class GenerateEvaluate(Section):
    out: str
    report: str
    folds: tuple[int, ...]
    images_per_ct: int
    seed: int
    bootstrap: int
    confidence: Number
    samples_per_label_set: int
    primary: str
    guards: tuple[str, ...]


class Params(Section):
    profile: str
    synthetic: Synthetic
    ct_pool: CtPool
    drrs: Drrs
    folds: Folds
    train: Train
    train_no_rhs: dict[str, Any]  # an ablation: keys of `train` it overrides (checked by train_section)
    pose_regressor: PoseRegressor
    xray_domain: XrayDomain
    cyclegan: CycleGan
    evaluate: Evaluate
    promote: Promote
    schedule: Schedule
    sweep: Sweep
    biplanar: Biplanar
    x2ct: X2ct
    x2ct_evaluate: X2ctEvaluate
    generation_data: GenerationData
    generate_train: GenerateTrain
    generate_evaluate: GenerateEvaluate

    def train_section(self, section: str | None = None) -> Train:
        """`train`, overridden by the section named (an ablation such as `train_no_rhs`)."""
        if not section:
            return self.train
        override = getattr(self, section, None)
        if not isinstance(override, dict):
            raise ConfigError(f"--section {section}: not an override section of params.yaml (e.g. train_no_rhs)")
        return validated(Train, deep_merge(self.train.to_dict(), override, where=section), section)


# --- reading and composing ---------------------------------------------------------------------------
def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such parameters file (run from the project root?)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} not valid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return data


def deep_merge(base: dict, override: dict, where: str, prefix: str = "") -> dict:
    """`base` with `override`'s leaves put in; a key that `base` lacks is an error (a typo would be silent)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        dotted = f"{prefix}{key}"
        if key not in merged:
            raise ConfigError(f"{where}: {dotted}: not a key of params.yaml")
        if isinstance(value, dict) and isinstance(merged[key], dict) and value:
            merged[key] = deep_merge(merged[key], value, where, dotted + ".")
        else:
            merged[key] = value
    return merged


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} → {"a.b": 1}: the leaves, with dotted keys (lists are leaves)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def validated(model: type[Section], data: dict, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{where}: " + "; ".join(describe(e) for e in err.errors())) from None


def describe(error: dict) -> str:
    key = ".".join(str(p) for p in error["loc"])
    if error["type"] == "missing":
        return f"{key}: missing"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    return f"{key}: {error['msg']} (got {error['input']!r})"


def profile_path(profile: str, root: str | Path = ".") -> Path:
    path = Path(root) / "profiles" / f"{profile}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in (Path(root) / "profiles").glob("*.yaml"))
        raise ConfigError(f"{path}: no such profile (profiles: {', '.join(known) or 'none'})")
    return path


def compose(params_path: str | Path = "params.yaml", profile: str | None = None) -> dict:
    """params.yaml with a profile's overrides applied (raw, not yet validated)."""
    data = read_yaml(params_path)
    if profile:
        path = profile_path(profile, Path(params_path).parent)
        data = deep_merge(data, read_yaml(path), where=str(path))
    return data


def load_config(params_path: str | Path = "params.yaml", profile: str | None = None) -> Params:
    """The validated parameters of the pipeline (with a profile's overrides when named)."""
    where = str(params_path) + (f" + profiles/{profile}.yaml" if profile else "")
    return validated(Params, compose(params_path, profile), where)


def profile_overrides(profile: str, root: str | Path = ".") -> dict[str, Any]:
    """A profile's leaves as dotted keys (what `dvc exp run -S key=value` sets), checked against params.yaml."""
    path = profile_path(profile, root)
    load_config(Path(root) / "params.yaml", profile)  # the composition must validate first
    return flatten(read_yaml(path))
