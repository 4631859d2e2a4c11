"""Synthetic pelvis CT phantoms in Hounsfield units.

Anatomy is built from signed-distance primitives (negative inside) in a patient
frame in millimetres: x towards the patient's left, y posterior, z superior
(DICOM/ITK "LPS"), origin between the hip-joint centres. Bones are unions of
primitives; each bone gets a cortical shell over a cancellous interior, so an AP
projection shows the dense rims a radiologist expects (iliac crest, femoral
cortex, acetabular roof). Shapes are evaluated only inside their bounding box.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from components.drr.geometry import rotation_matrix

# Tissue values (HU); per-patient jitter is added on top.
AIR, FAT, SKIN, MUSCLE, ORGAN, URINE = -1000.0, -100.0, 40.0, 50.0, 30.0, 5.0
GAS, MARROW, CANCELLOUS, CORTICAL, METAL = -950.0, 0.0, 260.0, 1350.0, 3071.0


def _rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    """Rotation matrix for angles in degrees about x, then y, then z (the projector's convention)."""
    return rotation_matrix((rx, ry, rz))


@dataclass
class Shape:
    """A signed-distance primitive with a conservative bounding sphere."""

    kind: str  # "ellipsoid" | "capsule"
    a: np.ndarray  # centre (ellipsoid) or first end (capsule)
    b: np.ndarray | None = None  # second end (capsule)
    radii: np.ndarray | None = None  # ellipsoid semi-axes, in its own frame
    r0: float = 0.0  # capsule radius at a
    r1: float = 0.0  # capsule radius at b
    rot: np.ndarray = field(default_factory=lambda: np.eye(3))  # ellipsoid frame → patient
    minus: list[Shape] = field(default_factory=list)  # shapes carved out of this one

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "ellipsoid":
            r = float(np.max(self.radii))
            return self.a - r, self.a + r
        r = max(self.r0, self.r1)
        return np.minimum(self.a, self.b) - r, np.maximum(self.a, self.b) + r

    def sdf(self, p: np.ndarray) -> np.ndarray:
        """Approximate signed distance (mm) at points p of shape (..., 3)."""
        if self.kind == "ellipsoid":
            q = (p - self.a.astype(np.float32)) @ self.rot.astype(np.float32)  # ellipsoid frame
            r = self.radii.astype(np.float32)
            k0 = np.sqrt(np.square(q / r).sum(-1))
            k1 = np.sqrt(np.square(q / (r * r)).sum(-1))
            d = k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)  # Quilez's ellipsoid bound
        else:
            a, ab = self.a.astype(np.float32), (self.b - self.a).astype(np.float32)
            h = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
            d = np.sqrt(np.square(p - a - h[..., None] * ab).sum(-1))
            d = d - (self.r0 + (self.r1 - self.r0) * h)
        for hole in self.minus:
            d = np.maximum(d, -hole.sdf(p))
        return d


def ellipsoid(c, radii, rot=None, minus=()) -> Shape:
    return Shape("ellipsoid", np.asarray(c, float), radii=np.asarray(radii, float),
                 rot=np.eye(3) if rot is None else rot, minus=list(minus))


def capsule(a, b, r0, r1=None) -> Shape:
    return Shape("capsule", np.asarray(a, float), np.asarray(b, float), r0=r0,
                 r1=r0 if r1 is None else r1)


class Canvas:
    """A voxel grid in patient millimetres that shapes are rasterised onto.

    `to_anatomy` maps grid points into the (tilted) anatomical frame in which the
    shapes are defined, so per-patient pelvic tilt costs nothing per shape.
    """

    def __init__(self, shape_zyx, spacing_xyz, origin_xyz, tilt: np.ndarray):
        self.shape = tuple(shape_zyx)
        self.spacing = np.asarray(spacing_xyz, float)
        self.origin = np.asarray(origin_xyz, float)
        self.tilt = tilt
        self.hu = np.full(self.shape, AIR, np.float32)

    def _points(self, lo: np.ndarray, hi: np.ndarray):
        """Grid points (anatomical frame) covering the anatomical box [lo, hi]."""
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                            for z in (lo[2], hi[2])])
        world = corners @ self.tilt  # anatomy → world is tilt^T
        i0 = np.floor((world.min(0) - self.origin) / self.spacing).astype(int) - 1
        i1 = np.ceil((world.max(0) - self.origin) / self.spacing).astype(int) + 2
        size = np.array(self.shape[::-1])
        i0, i1 = np.clip(i0, 0, size), np.clip(i1, 0, size)
        if np.any(i1 <= i0):
            return None, None
        axes = [self.origin[k] + self.spacing[k] * np.arange(i0[k], i1[k]) for k in range(3)]
        zz, yy, xx = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
        pts = np.stack([xx, yy, zz], axis=-1).astype(np.float32) @ self.tilt.T.astype(np.float32)
        box = (slice(i0[2], i1[2]), slice(i0[1], i1[1]), slice(i0[0], i1[0]))
        return box, pts

    def points(self, shapes: list[Shape]):
        """(box, anatomical points) over the joint bounding box of shapes."""
        lo = np.min([s.bounds()[0] for s in shapes], axis=0)
        hi = np.max([s.bounds()[1] for s in shapes], axis=0)
        return self._points(lo, hi)

    def sdf(self, shapes: list[Shape]):
        """Union SDF over the shapes' joint bounding box, or (None, None).

        Each shape is evaluated only inside its own box; elsewhere it is far away.
        """
        box, _ = self.points(shapes)
        if box is None:
            return None, None
        d = np.full(tuple(sl.stop - sl.start for sl in box), np.inf, np.float32)
        for shape in shapes:
            sub, pts = self.points([shape])
            if sub is None:
                continue
            inner = tuple(slice(a.start - b.start, a.stop - b.start) for a, b in zip(sub, box))
            np.minimum(d[inner], shape.sdf(pts), out=d[inner])
        return box, d

    def fill(self, shapes: list[Shape], value: float) -> None:
        box, d = self.sdf(shapes)
        if box is not None:
            self.hu[box][d <= 0] = value

    def bone(self, shapes: list[Shape], cortex_mm: float, cortical: float,
             cancellous: float) -> None:
        """Paint a bone: cortical shell of `cortex_mm` over a cancellous core."""
        box, d = self.sdf(shapes)
        if box is None:
            return
        region = self.hu[box]
        region[d <= 0] = cortical
        region[d < -cortex_mm] = cancellous


@dataclass(frozen=True)
class PhantomSpec:
    """Per-patient anatomy draws; everything a phantom needs besides the grid."""

    scale: float
    habitus: float
    fat_mm: float
    tilt_deg: tuple[float, float, float]
    hip_offsets: tuple[tuple[float, float, float], tuple[float, float, float]]
    anteversion_deg: tuple[float, float]
    neck_angle_deg: tuple[float, float]
    cortical_hu: float
    cancellous_hu: float
    arthroplasty: tuple[bool, bool]  # (right, left)
    n_gas: int
    gas_seed: int

    @classmethod
    def draw(cls, rng: np.random.Generator, metal_fraction: float = 0.25) -> PhantomSpec:
        metal = rng.random() < metal_fraction
        sides = (False, False)
        if metal:
            sides = [(True, False), (False, True), (True, True)][rng.integers(3)]
        return cls(
            scale=float(rng.uniform(0.9, 1.1)),
            habitus=float(rng.uniform(0.92, 1.12)),
            fat_mm=float(rng.uniform(10, 35)),
            tilt_deg=(float(rng.normal(0, 3)), float(rng.normal(0, 1.5)), float(rng.normal(0, 2))),
            hip_offsets=tuple(tuple(float(v) for v in rng.normal(0, 2.0, 3)) for _ in range(2)),
            anteversion_deg=tuple(float(v) for v in rng.uniform(5, 20, 2)),
            neck_angle_deg=tuple(float(v) for v in rng.uniform(122, 138, 2)),
            cortical_hu=float(rng.uniform(1150, 1550)),
            cancellous_hu=float(rng.uniform(180, 320)),
            arthroplasty=tuple(bool(v) for v in sides),
            n_gas=int(rng.integers(3, 9)),
            gas_seed=int(rng.integers(2**31)),
        )


def _femur(side: int, hip: np.ndarray, s: float, anteversion: float, neck_angle: float):
    """Femoral head, neck, trochanters and proximal shaft of one side (+1 left, -1 right)."""
    # Neck direction: lateral and inferior by the neck-shaft angle, turned forward by anteversion.
    down = np.deg2rad(neck_angle - 90.0)
    ante = np.deg2rad(anteversion)
    neck_dir = np.array([side * np.cos(down) * np.cos(ante), -np.cos(down) * np.sin(ante), -np.sin(down)])
    neck_end = hip + 44 * s * neck_dir
    shaft_top = neck_end + np.array([side * 2, 4, -18]) * s
    shaft_bottom = shaft_top + np.array([-side * 14, 0, -190]) * s
    head = ellipsoid(hip, [23 * s] * 3)
    neck = capsule(hip, neck_end, 15 * s, 17 * s)
    greater = ellipsoid(neck_end + np.array([side * 12, 8, 20]) * s, np.array([14, 19, 24]) * s)
    intertroch = ellipsoid(shaft_top, np.array([20, 18, 26]) * s)
    lesser = ellipsoid(shaft_top + np.array([-side * 18, 12, -22]) * s, np.array([9, 8, 11]) * s)
    shaft = capsule(shaft_top, shaft_bottom, 16 * s, 13 * s)
    canal = capsule(shaft_top + np.array([0, 0, -35]) * s, shaft_bottom, 8 * s)
    return dict(head=head, neck=neck, rest=[greater, intertroch, lesser, shaft], canal=canal,
                shaft=(shaft_top, shaft_bottom))


def _hemipelvis(side: int, hip: np.ndarray, s: float, head_r: float) -> list[Shape]:
    """Ilium (wing and body around the acetabulum), ischium and pubic rami of one side."""
    socket = ellipsoid(hip, [head_r + 3.0] * 3)  # joint space around the femoral head
    body = ellipsoid(hip + np.array([side * 8, 10, 24]) * s, np.array([28, 30, 44]) * s,
                     minus=[socket])
    # The wing: a plate from the sacroiliac joint (posteromedial) to the anterior superior
    # iliac spine, flaring laterally towards the crest; its rim is the dense iliac crest.
    wing_rot = _rotation(0.0, side * 14.0, side * -34.0)
    wing = ellipsoid(np.array([side * 78, 24, 66]) * s, np.array([70, 11, 60]) * s, rot=wing_rot)
    sym = np.array([side * 17, -58, -18]) * s
    tuber = np.array([side * 58, 8, -58]) * s
    pubis = ellipsoid(sym, np.array([9, 11, 19]) * s)
    sup_ramus = capsule(hip + np.array([-side * 22, -22, 2]) * s, sym + np.array([0, 0, 6]) * s, 10 * s, 8 * s)
    inf_ramus = capsule(sym + np.array([0, 4, -14]) * s, tuber + np.array([-side * 6, -8, 2]) * s, 7 * s)
    ischium = capsule(hip + np.array([side * 2, 22, -20]) * s, tuber, 14 * s, 12 * s)
    tuberosity = ellipsoid(tuber, np.array([14, 17, 12]) * s)
    return [body, wing, pubis, sup_ramus, inf_ramus, ischium, tuberosity]


def _spine(s: float) -> list[Shape]:
    """Sacrum, coccyx and the fifth lumbar vertebra."""
    # Sacral segments S1..S5 narrow downwards (an inverted triangle in AP) and curve backwards.
    segments = [((0, 48, 104), (56, 24, 18)), ((0, 56, 80), (42, 19, 15)),
                ((0, 63, 58), (30, 16, 14)), ((0, 70, 38), (20, 13, 13))]
    sacrum = [ellipsoid(np.array(c) * s, np.array(r) * s, rot=_rotation(-20.0, 0.0, 0.0))
              for c, r in segments]
    coccyx = capsule(np.array([0, 76, 22]) * s, np.array([0, 66, -4]) * s, 8 * s, 5 * s)
    l5_body = ellipsoid(np.array([0, 28, 148]) * s, np.array([27, 20, 15]) * s)
    pedicles = [capsule(np.array([side * 14, 40, 150]) * s, np.array([side * 14, 58, 150]) * s, 6 * s)
                for side in (-1, 1)]
    spinous = capsule(np.array([0, 58, 150]) * s, np.array([0, 90, 140]) * s, 6 * s)
    transverse = [capsule(np.array([side * 10, 52, 150]) * s, np.array([side * 48, 50, 146]) * s, 7 * s, 5 * s)
                  for side in (-1, 1)]
    return [*sacrum, coccyx, l5_body, *pedicles, spinous, *transverse]


def _torso_sdf(p: np.ndarray, a: float, b: float, s: float) -> np.ndarray:
    """Elliptic cross-sections (semi-axes a left-right, b antero-posterior at the hips) that narrow
    above z = 40 mm towards the waist (to 84 % of the width, 94 % of the depth at z = 200 mm)."""
    above = np.clip((p[..., 2] - 40.0 * s) / (160.0 * s), 0.0, 1.0)
    ax, ay = a * (1 - 0.16 * above), b * (1 - 0.06 * above)
    qx, qy = p[..., 0] - 0.0, p[..., 1] + 4.0
    k0 = np.sqrt((qx / ax) ** 2 + (qy / ay) ** 2)
    k1 = np.sqrt((qx / ax**2) ** 2 + (qy / ay**2) ** 2)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)


def _smooth_min(d1: np.ndarray, d2: np.ndarray, k: float) -> np.ndarray:
    """Union of two SDFs with a fillet of about `k` mm where they meet (polynomial smooth minimum)."""
    h = np.clip(0.5 + 0.5 * (d2 - d1) / k, 0.0, 1.0)
    return d2 * (1 - h) + d1 * h - k * h * (1 - h)


def render_pelvis(spec: PhantomSpec, shape_zyx, spacing_xyz, origin_xyz,
                  rng: np.random.Generator) -> np.ndarray:
    """Rasterise one phantom onto a grid; returns HU as float32 (z, y, x)."""
    s = spec.scale
    canvas = Canvas(shape_zyx, spacing_xyz, origin_xyz, _rotation(*spec.tilt_deg))
    hips = [np.array([side * 92 * s, -6 * s, 0.0]) + np.array(off)
            for side, off in zip((-1, 1), spec.hip_offsets)]

    # Soft tissue: a torso that narrows towards the waist above the iliac crests, two thighs
    # that taper towards the knees, joined by a smooth union (a rounded crotch, no flat cut);
    # skin, fat, then muscle.
    a, b = 160 * s * spec.habitus, 118 * s * spec.habitus
    groin = -70.0 * s
    thighs = [capsule([side * 100 * s, 4, 10], [side * 80 * s, 4, -420], 80 * s * spec.habitus,
                      56 * s * spec.habitus) for side in (-1, 1)]
    box, pts = canvas.points([ellipsoid([0, -4, 0], [a, b, 500.0])])
    # The torso ends at the groin in two gluteal folds, convex downwards over the thighs.
    over_thigh = np.clip(1 - ((np.abs(pts[..., 0]) - 100 * s) / (90 * s)) ** 2, 0.0, 1.0)
    d_torso = np.maximum(_torso_sdf(pts, a, b, s), groin - 30 * s * over_thigh - pts[..., 2])
    d_body = _smooth_min(d_torso, np.min([t.sdf(pts) for t in thighs], axis=0), 60.0 * s)
    region = canvas.hu[box]
    region[d_body <= 0] = SKIN
    region[d_body < -2.5] = FAT + rng.normal(0, 8)
    region[d_body < -(2.5 + spec.fat_mm)] = MUSCLE
    del pts, d_torso, d_body

    # Pelvic contents: visceral soft tissue, bladder, gas-filled bowel loops.
    canvas.fill([ellipsoid(np.array([0, -22, 70]) * s, np.array([96, 66, 95]) * s)], ORGAN)
    canvas.fill([ellipsoid(np.array([0, -48, 10]) * s, np.array([42, 30, 30]) * s)], URINE)
    gas_rng = np.random.default_rng(spec.gas_seed)
    for _ in range(spec.n_gas):
        c = np.array([gas_rng.uniform(-80, 80), gas_rng.uniform(-70, 10), gas_rng.uniform(40, 160)]) * s
        canvas.fill([ellipsoid(c, gas_rng.uniform(6, 22, 3) * s, rot=_rotation(*gas_rng.uniform(0, 90, 3)))], GAS)
    canvas.fill([ellipsoid(np.array([0, 40, 40]) * s, np.array([14, 12, 12]) * s)], GAS)  # rectal gas

    # Bones.
    bone = dict(cortex_mm=2.5, cortical=spec.cortical_hu, cancellous=spec.cancellous_hu)
    canvas.bone(_spine(s), **bone)
    for side, hip, metal in zip((-1, 1), hips, spec.arthroplasty):
        side_idx = 0 if side < 0 else 1
        canvas.bone(_hemipelvis(side, hip, s, 23 * s), **bone)
        femur = _femur(side, hip, s, spec.anteversion_deg[side_idx], spec.neck_angle_deg[side_idx])
        canvas.bone(femur["rest"] + ([] if metal else [femur["neck"]]), cortex_mm=4.0,
                    cortical=spec.cortical_hu, cancellous=spec.cancellous_hu)
        if not metal:
            canvas.bone([femur["head"]], **bone)
            canvas.fill([femur["canal"]], MARROW)
        else:
            # Total hip arthroplasty: cup in the acetabulum, ball head, neck taper, stem in the canal.
            cup = ellipsoid(hip, [27 * s] * 3, minus=[ellipsoid(hip, [23.5 * s] * 3),
                                                     ellipsoid(hip + np.array([side * 10, -12, -26]) * s, [26 * s] * 3)])
            canvas.fill([femur["canal"]], MARROW)
            top_, bottom = femur["shaft"]
            stem = capsule(top_ + np.array([0, 0, 10]) * s, top_ + (bottom - top_) * 0.6, 9 * s, 5 * s)
            canvas.fill([cup, ellipsoid(hip, [14 * s] * 3), capsule(hip, femur["neck"].b, 7 * s), stem], METAL)

    # Partial volume and quantum noise.
    hu = ndimage.gaussian_filter(canvas.hu, sigma=0.6)
    hu += rng.normal(0, 12, hu.shape).astype(np.float32)
    return hu
