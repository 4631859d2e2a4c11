"""X-ray physics for DRRs: materials from HU, mass attenuation, a filtered tube spectrum.

Material decomposition: air, soft tissue, bone and titanium (arthroplasty metal,
which DeepDRR's thresholds would call bone). DeepDRR's thresholding mode makes
each voxel one material, so cancellous bone (150–400 HU: the iliac wings'
interior, the femoral heads) below its 350 HU bone threshold projects as dense
soft tissue and the wings vanish. Here a voxel above `mix_from` HU is instead a
mixture of water and cortical bone by volume, the fraction read off its HU
(HU is linear in the fraction: HU = f · HU_cortical), so cancellous bone
attenuates partly as bone. Air is left out of the line integrals: 300 mm of
air attenuates less than 1 mm of water.

Mass attenuation coefficients μ/ρ (cm²/g) are NIST XCOM values (Hubbell &
Seltzer) for ICRU-44 soft tissue, ICRU cortical bone, titanium and aluminium,
interpolated log-log between the tabulated energies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ENERGIES_KEV = np.array([20, 30, 40, 50, 60, 80, 100, 150], float)
MASS_ATTENUATION = {  # cm²/g at ENERGIES_KEV
    "soft_tissue": np.array([0.8096, 0.3756, 0.2683, 0.2266, 0.2059, 0.1837, 0.1693, 0.1492]),
    "bone": np.array([4.001, 1.331, 0.6655, 0.4242, 0.3148, 0.2229, 0.1855, 0.1480]),
    "titanium": np.array([15.85, 4.972, 2.214, 1.213, 0.7661, 0.4052, 0.2721, 0.1649]),
    "aluminium": np.array([3.441, 1.128, 0.5685, 0.3681, 0.2778, 0.2018, 0.1704, 0.1378]),
}
ALUMINIUM_DENSITY = 2.699  # g/cm³


@dataclass(frozen=True)
class MaterialThresholds:
    """HU bounds: soft tissue above `air_max`; water–bone mixtures above `mix_from`, pure cortical bone
    from `bone_hu`; metal from `metal_min`."""

    air_max: float = -800.0
    mix_from: float = 100.0
    bone_hu: float = 1350.0
    metal_min: float = 2500.0


MATERIALS = ("soft_tissue", "bone", "titanium")


def densities(hu: np.ndarray, thresholds: MaterialThresholds = MaterialThresholds()) -> np.ndarray:
    """HU (z, y, x) → per-material density volumes (3, z, y, x) in g/cm³.

    Soft tissue: ρ = 1 + HU/1000 (water-like). Above `mix_from`: a water–bone mixture with
    bone volume fraction f = HU / bone_hu (≤ 1), water at 1 g/cm³ and bone at
    1 + 0.63e-3·max(HU, bone_hu) (1350 HU → 1.85 g/cm³, cortical bone), so the
    attenuation is continuous where the mixture begins (within 3 % at 60 keV).
    Metal: titanium at 4.5 g/cm³ (CT saturates there).
    """
    hu = hu.astype(np.float32, copy=False)
    out = np.zeros((3, *hu.shape), np.float32)
    soft = (hu > thresholds.air_max) & (hu <= thresholds.mix_from)
    mixed = (hu > thresholds.mix_from) & (hu < thresholds.metal_min)
    metal = hu >= thresholds.metal_min
    out[0][soft] = 1.0 + hu[soft] / 1000.0
    h = hu[mixed]
    fraction = np.minimum(h / thresholds.bone_hu, 1.0)
    out[0][mixed] = 1.0 - fraction
    out[1][mixed] = fraction * (1.0 + 0.63e-3 * np.maximum(h, thresholds.bone_hu))
    out[2][metal] = 4.5
    return out


def mass_attenuation(material: str, energies_kev: np.ndarray) -> np.ndarray:
    """μ/ρ in cm²/g at the given energies (log-log interpolation of the table)."""
    table = MASS_ATTENUATION[material]
    return np.exp(np.interp(np.log(energies_kev), np.log(ENERGIES_KEV), np.log(table)))


def tube_spectrum(kvp: float = 90.0, filtration_mm_al: float = 2.5, bin_kev: float = 5.0):
    """A tungsten-anode spectrum: Kramers' bremsstrahlung through aluminium filtration.

    Returns (energies keV, photon fluence weights summing to 1). Characteristic lines
    are omitted; they sit at 58–69 keV and shift contrast by a few percent.
    """
    energies = np.arange(20.0, kvp, bin_kev) + bin_kev / 2
    fluence = (kvp - energies) / energies
    fluence *= np.exp(-mass_attenuation("aluminium", energies) * ALUMINIUM_DENSITY * filtration_mm_al / 10)
    return energies, fluence / fluence.sum()


def detector_weights(kvp: float, filtration_mm_al: float, bin_kev: float = 5.0):
    """(energies, weights, μ/ρ per material (M, E)) for an energy-integrating detector."""
    energies, fluence = tube_spectrum(kvp, filtration_mm_al, bin_kev)
    weights = fluence * energies
    mu = np.stack([mass_attenuation(m, energies) for m in MATERIALS])
    return energies, weights / weights.sum(), mu
