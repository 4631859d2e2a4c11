"""How a reconstructed volume is scored against its truth (both HU on the model's grid).

- psnr: over the volume, in the model's range (air to 2000 HU: 3000 HU of data range), dB.
- ssim: mean SSIM of the axial slices; ssim3d: SSIM of the volume (both torchmetrics,
  Gaussian window 7, the same data range).
- mae_hu: mean absolute error in HU.
- bone_dice: Dice of the voxels at or above `bone_hu` after rigid alignment of the
  output to the truth (SimpleITK, Euler 3D, mean squares), as the knee model scores
  bone overlap "after registration".
- reprojection_mae: the output re-rendered as AP and lateral views (the same
  projector, physics without quantum noise, and display) against the input views,
  mean absolute difference in display units [0, 1].
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import SimpleITK as sitk
import torch

from components.drr.render import DRRConfig
from components.evaluation.bootstrap import row_differences
from components.x2ct.biplanar import render_case_views
from components.x2ct.grid import HU_AIR, HU_TOP, VolumeGrid, normalise

with warnings.catch_warnings():  # torchmetrics.functional's __init__ warns about names we do not use
    warnings.simplefilter("ignore", FutureWarning)
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

LOWER_IS_BETTER = {"psnr": False, "ssim": False, "ssim3d": False, "mae_hu": True, "bone_dice": False,
                   "reprojection_mae": True}
MEASURES = tuple(LOWER_IS_BETTER)
WINDOW = 7


def rigid_align(moving_hu: np.ndarray, fixed_hu: np.ndarray, spacing_mm: float) -> np.ndarray:
    """`moving` resampled onto `fixed` after the rigid transform that best matches them (mean squares)."""
    fixed, moving = (sitk.GetImageFromArray(np.asarray(a, np.float32)) for a in (fixed_hu, moving_hu))
    for image in (fixed, moving):
        image.SetSpacing([spacing_mm] * 3)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)  # one summation order: the same Dice every run
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMeanSquares()
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=spacing_mm / 2, minStep=1e-3,
                                                    numberOfIterations=60)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetInitialTransform(sitk.CenteredTransformInitializer(fixed, moving, sitk.Euler3DTransform(),
                                                                 sitk.CenteredTransformInitializerFilter.GEOMETRY))
    transform = method.Execute(fixed, moving)
    return sitk.GetArrayFromImage(sitk.Resample(moving, fixed, transform, sitk.sitkLinear, HU_AIR))


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2 * np.logical_and(a, b).sum() / total) if total else float("nan")


def reprojection_views(hu: np.ndarray, grid: VolumeGrid, config: DRRConfig) -> tuple[np.ndarray, np.ndarray]:
    """AP and lateral views of a grid volume at pose 0, noise-free: (p, p) each in [0, 1]."""
    quiet = replace(config, volume_spacing_mm=grid.spacing_mm, physics=replace(config.physics, photons_per_mm2=0))
    ap, lateral = render_case_views(hu.astype(np.float32), grid.spacing_mm, grid.origin, np.zeros((1, 3)), quiet,
                                    torch.Generator().manual_seed(0))
    return ap[0], lateral[0]


def volume_scores(output_hu: np.ndarray, truth_hu: np.ndarray, ap: np.ndarray, lateral: np.ndarray,
                  grid: VolumeGrid, config: DRRConfig, bone_hu: float) -> dict[str, float]:
    """Every measure of one output against its truth and its input views."""
    out, truth = (torch.as_tensor(normalise(np.asarray(a, np.float32)))[None, None] for a in (output_hu, truth_hu))
    data_range = 2.0  # [-1, 1] ↔ [HU_AIR, HU_TOP]
    slices = lambda v: v[0, 0][:, None]  # noqa: E731 — axial slices as a batch of images
    aligned = rigid_align(output_hu, truth_hu, grid.spacing_mm)
    re_ap, re_lateral = reprojection_views(output_hu, grid, config)
    return {
        "psnr": float(peak_signal_noise_ratio(out, truth, data_range=data_range)),
        "ssim": float(structural_similarity_index_measure(slices(out), slices(truth), data_range=data_range,
                                                          kernel_size=WINDOW)),
        "ssim3d": float(structural_similarity_index_measure(out, truth, data_range=data_range, kernel_size=WINDOW)),
        "mae_hu": float(np.abs(np.clip(output_hu, HU_AIR, HU_TOP) - np.clip(truth_hu, HU_AIR, HU_TOP)).mean()),
        "bone_dice": dice(aligned >= bone_hu, truth_hu >= bone_hu),
        "reprojection_mae": float((np.abs(re_ap - ap).mean() + np.abs(re_lateral - lateral).mean()) / 2),
    }


def paired_differences(a: pd.DataFrame, b: pd.DataFrame, n_boot: int, confidence: float, seed: int) -> dict:
    """{measure: {mean, lo, hi}} of a − b case by case (the same cases on both sides), the interval over
    patients, then cases."""
    return row_differences(a, b, MEASURES, ["ct_id", "case"], n_boot, confidence, seed)
