"""Render a motion as video frames of a solid, shaded mannequin (numpy + Pillow only: no torch, no OpenGL).

The mannequin is built from the canonical joint positions (22 joints, metres,
Y up) as 3-D primitives, projected with a perspective camera and painted far
to near (painter's algorithm):

* limbs as capsules whose radii are in metres, so their on-screen widths follow
  perspective (thighs thicker than shins, upper arms thicker than forearms),
  feet as capsules from the ankle past the toe joint;
* a torso volume: two convex hulls (pelvis-waist, waist-chest) of elliptical
  cross-sections that are wider across the body than front to back, so the
  torso looks broad from the front and slim from the side;
* spheres for the head (with a small nose, so the facing direction shows),
  shoulders and hands.

Every part is shaded from its orientation to one directional light
(Lambert-like): a base tone from the surface normal that faces the camera and
a highlight offset towards the light, plus a thin darker outline. Under the
body: a floor with a 1 m grid (so travelling shows while the camera follows
the body), distance fog towards the horizon, and a soft blob shadow; behind
it a vertical sky gradient. Frames are drawn at 2x and box-downsampled
(antialiasing).

Left and right limbs have the same colours on purpose: a horizontally flipped
render of a motion must look like a render of the mirrored motion (see
``dataset.augment``).

Camera (yaw all round, elevation -5..35 degrees, field of view, a distance that
frames the whole body) and look (clothes, floor and sky colours, light
direction) are drawn from the seed, so the same joints and seed give the same
bytes. The camera aims at the root's position smoothed over about a second, so
walking and running clips stay in frame.

Speed (``python -m bench.render_throughput``, 2-core machine, single process):
about 430 frames per CPU-second at 160 px, so the ~100k frames of the full
dataset take about 4 CPU-minutes. All geometry and shading of a clip is
computed in one batch with numpy; per frame only Pillow's C drawing calls run.

The dataset stores and reads these frames with ``dataset.render``; the server draws its
previews with them (``server.preview``).
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from motion.skeleton import INDEX

SUPERSAMPLE = 2  # draw at 2x, then box-downsample: cheap antialiasing
AMBIENT, DIFFUSE = 0.42, 0.62

# Capsules: (from, to, radius at from, radius at to, part) in metres; part 0 = top (shirt), 1 = legs (trousers).
CAPSULES = [
    ("neck", "head", 0.05, 0.045, 0),
    ("left_shoulder", "left_elbow", 0.052, 0.042, 0), ("right_shoulder", "right_elbow", 0.052, 0.042, 0),
    ("left_elbow", "left_wrist", 0.041, 0.032, 0), ("right_elbow", "right_wrist", 0.041, 0.032, 0),
    ("left_hip", "left_knee", 0.082, 0.056, 1), ("right_hip", "right_knee", 0.082, 0.056, 1),
    ("left_knee", "left_ankle", 0.055, 0.04, 1), ("right_knee", "right_ankle", 0.055, 0.04, 1),
]  # fmt: skip
_CAP_A = np.array([INDEX[c[0]] for c in CAPSULES])
_CAP_B = np.array([INDEX[c[1]] for c in CAPSULES])
_CAP_R = np.array([(c[2], c[3]) for c in CAPSULES])
_CAP_PART = [c[4] for c in CAPSULES]
FOOT_RADII = (0.042, 0.032)
HEAD_RADIUS, NOSE_RADIUS, HAND_RADIUS, DELTOID_RADIUS = 0.1, 0.028, 0.042, 0.058
_RING_ANGLES = np.linspace(0, 2 * np.pi, 10, endpoint=False)
_ARC = np.linspace(-np.pi / 2, np.pi / 2, 7)  # half-circle samples for a capsule end
_DISC = np.stack([np.cos(_t := np.linspace(0, 2 * np.pi, 2 * len(_ARC), endpoint=False)), np.sin(_t)], 1)
_HULL_DIRS = np.stack([np.cos(a := np.linspace(0, 2 * np.pi, 28, endpoint=False)), np.sin(a)], axis=1)
_SHADOW_COS, _SHADOW_SIN = (
    np.cos(np.linspace(0, 2 * np.pi, 20, endpoint=False)),
    np.sin(np.linspace(0, 2 * np.pi, 20, endpoint=False)),
)


@dataclass(frozen=True)
class Camera:
    """A perspective camera orbiting the (smoothed) body root; angles in degrees, lengths in metres."""

    yaw_deg: float = 0.0  # around +Y; 0 looks at the front of the body as it faces at frame 0 (camera on +Z)
    elevation_deg: float = 10.0  # above the horizon (negative: from below)
    distance: float = 3.0  # from the aim point
    fov_deg: float = 45.0  # vertical field of view
    target_height: float = 0.8  # aim point above the floor, fixed over the clip (sampled: the body's middle)


@dataclass(frozen=True)
class Look:
    """Colours (RGB 0-255) and the light; light is a unit direction towards the light in world space."""

    top: tuple[int, int, int] = (200, 120, 90)  # shirt: chest, shoulders, arms, neck
    legs: tuple[int, int, int] = (70, 80, 120)  # trousers: pelvis, legs, feet
    skin: tuple[int, int, int] = (200, 120, 90)  # head, nose and hands
    floor: tuple[int, int, int] = (120, 120, 110)
    sky_top: tuple[int, int, int] = (150, 180, 220)
    sky_bottom: tuple[int, int, int] = (220, 225, 230)
    light: tuple[float, float, float] = (0.4, 0.8, 0.45)
    grid: float = 0.85  # brightness factor of the floor grid lines (1: invisible)
    fog: float = 15.0  # metres over which the floor fades into the horizon


def _clip_extent(joints: np.ndarray, fps: float) -> tuple[float, float, float]:
    """(lowest, highest, horizontal reach) of the body over the clip in metres, with room for the head,
    hands and feet; the reach is from the smoothed root the camera follows (90th percentile over frames)."""
    aim = _smoothed_root(joints, fps)
    reach = np.linalg.norm(joints[:, :, [0, 2]] - aim[:, None, [0, 2]], axis=-1).max(axis=1)
    return float(joints[..., 1].min()) - 0.05, float(joints[..., 1].max()) + 0.2, float(np.quantile(reach, 0.9)) + 0.15


def framing_camera(joints: np.ndarray | None, fps: float = 20.0, yaw: float = 20.0, elevation: float = 12.0,
                   fov: float = 40.0, fill: float = 0.85, jitter: float = 0.0) -> Camera:  # fmt: skip
    """A camera at these angles whose distance and aim height frame the whole body through the clip (its
    extent fills ``fill`` of the frame); without ``joints`` they suit a standing adult. The defaults
    look at the body's front from a little to its left and above (the server's previews)."""
    low, high, reach = (0.0, 1.75, 0.45) if joints is None else _clip_extent(np.asarray(joints, np.float64), fps)
    half = max(0.5 * (high - low), reach) / fill
    return Camera(
        yaw_deg=yaw,
        elevation_deg=elevation,
        distance=half / math.tan(math.radians(fov) / 2) + 0.3,  # + 0.3: the body's near side is closer
        fov_deg=fov,
        target_height=0.5 * (low + high) + jitter,
    )


CAMERA_YAWS = ("round", "axes")  # sample_camera's yaw draws


def sample_camera(rng: np.random.Generator, joints: np.ndarray | None = None, fps: float = 20.0,
                  yaws: str = "round") -> Camera:  # fmt: skip
    """A random camera framing the clip's ``joints`` (see :func:`framing_camera`): yaw all round (``yaws``
    "round") or within 15 degrees of the body's front, back or a side ("axes": the views where a monocular
    pose estimate's depth hides most), elevation -5..35 degrees, field of view 35..55 degrees, the body's
    extent filling 70-95% of the frame."""
    if yaws not in CAMERA_YAWS:
        raise ValueError(f"camera yaws {yaws!r}: use one of {', '.join(CAMERA_YAWS)}")
    if yaws == "round":
        yaw = float(rng.uniform(0.0, 360.0))
    else:
        yaw = float(rng.integers(4) * 90.0 + rng.uniform(-15.0, 15.0))
    elevation = float(rng.uniform(-5.0, 35.0))
    fov = float(rng.uniform(35.0, 55.0))
    fill = float(rng.uniform(0.7, 0.95))  # fraction of the frame the body's extent spans
    jitter = float(rng.uniform(-0.05, 0.05))
    return framing_camera(joints, fps, yaw, elevation, fov, fill, jitter)


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return int(255 * r), int(255 * g), int(255 * b)


def _stand_out(colour: tuple[int, int, int], backgrounds: tuple, min_distance: float = 70.0) -> tuple[int, int, int]:
    """``colour``, or a darker or lighter version of it, far enough (RGB distance) from every background."""
    candidates = [
        np.array(colour, float),
        0.55 * np.array(colour, float),
        np.minimum(255, 1.5 * np.array(colour, float) + 40),
    ]
    distances = [min(np.linalg.norm(c - np.array(b, float)) for b in backgrounds) for c in candidates]
    ok = [c for c, d in zip(candidates, distances) if d >= min_distance]
    best = ok[0] if ok else candidates[int(np.argmax(distances))]
    return int(best[0]), int(best[1]), int(best[2])


def sample_look(rng: np.random.Generator) -> Look:
    """Random clothes, skin, floor, sky, light and fog; the body always contrasts with the floor."""
    top_h, legs_h, floor_h, sky_h = rng.uniform(0, 1, size=4)
    top = _hsv(top_h, rng.uniform(0.3, 0.85), rng.uniform(0.6, 0.95))
    legs = top if rng.random() < 0.35 else _hsv(legs_h, rng.uniform(0.2, 0.8), rng.uniform(0.35, 0.85))
    skin = top if rng.random() < 0.4 else _hsv(rng.uniform(0.03, 0.1), rng.uniform(0.25, 0.6), rng.uniform(0.5, 0.95))
    floor_v = float(rng.uniform(0.25, 0.75))
    body_v = (max(top) + max(legs)) / 510  # keep the floor's brightness away from the body's
    if abs(floor_v - body_v) < 0.2:
        floor_v = body_v - 0.3 if body_v > 0.5 else body_v + 0.3
    floor = _hsv(floor_h, rng.uniform(0.0, 0.4), floor_v)
    sky_top = _hsv(sky_h, rng.uniform(0.0, 0.5), rng.uniform(0.55, 0.95))
    sky_bottom = _hsv(sky_h + rng.uniform(-0.08, 0.08), rng.uniform(0.0, 0.3), rng.uniform(0.75, 1.0))
    top, legs = (_stand_out(c, (floor, sky_top, sky_bottom)) for c in (top, legs))
    azimuth, altitude = rng.uniform(0, 2 * np.pi), rng.uniform(np.radians(25), np.radians(75))
    light = (math.cos(altitude) * math.sin(azimuth), math.sin(altitude), math.cos(altitude) * math.cos(azimuth))
    return Look(
        top=top,
        legs=legs,
        skin=skin,
        floor=floor,
        sky_top=sky_top,
        sky_bottom=sky_bottom,
        light=light,
        grid=float(rng.uniform(0.75, 0.92)),
        fog=float(rng.uniform(10.0, 30.0)),
    )


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-9)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1, keepdims=True)


def _sample_times(n_source: int, n_frames: int) -> np.ndarray:
    """Fractional source-frame indices at the centres of ``n_frames`` equal slices of the clip."""
    return np.clip((np.arange(n_frames) + 0.5) * n_source / n_frames - 0.5, 0, n_source - 1)


def _interpolate(joints: np.ndarray, times: np.ndarray) -> np.ndarray:
    lo = np.floor(times).astype(int)
    hi = np.minimum(lo + 1, len(joints) - 1)
    w = (times - lo).reshape(-1, *([1] * (joints.ndim - 1)))
    return (1 - w) * joints[lo] + w * joints[hi]


def _smoothed_root(joints: np.ndarray, fps: float) -> np.ndarray:
    """The pelvis per source frame, box-smoothed over about one second (edges padded)."""
    root = joints[:, INDEX["pelvis"]].astype(np.float64)
    k = max(1, round(fps / 2))
    padded = np.concatenate([np.repeat(root[:1], k, 0), root, np.repeat(root[-1:], k, 0)])
    kernel = np.ones(2 * k + 1) / (2 * k + 1)
    return np.stack([np.convolve(padded[:, i], kernel, mode="valid") for i in range(3)], axis=1)


class _View:
    """World -> camera rotation (rows: right, up, forward); the eye keeps a fixed offset from the aim point."""

    def __init__(self, camera: Camera, size: int) -> None:
        yaw, el = math.radians(camera.yaw_deg), math.radians(camera.elevation_deg)
        direction = np.array([math.cos(el) * math.sin(yaw), math.sin(el), math.cos(el) * math.cos(yaw)])
        self.offset = camera.distance * direction
        forward = -direction
        right = _unit(np.cross(forward, [0.0, 1.0, 0.0]))
        self.rotation = np.stack([right, np.cross(right, forward), forward])
        self.focal = 0.5 * size / math.tan(math.radians(camera.fov_deg) / 2)
        self.centre = size / 2

    def to_camera(self, points: np.ndarray, eye: np.ndarray) -> np.ndarray:
        return (points - eye) @ self.rotation.T

    def to_pixels(self, cam: np.ndarray) -> np.ndarray:
        z = np.maximum(cam[..., 2:3], 1e-3)
        xy = cam[..., :2] / z * self.focal
        return np.concatenate([self.centre + xy[..., :1], self.centre - xy[..., 1:2]], axis=-1)

    def image_direction(self, world: np.ndarray) -> np.ndarray:
        """A world direction as a pixel-space 2-D vector (not normalised: foreshortening shrinks it)."""
        return (world @ self.rotation[:2].T) * np.array([1.0, -1.0])


def _background(view: _View, look: Look, eye_height: float, size: int) -> Image.Image:
    """Sky gradient above the horizon, fogged floor below; both depend only on the row (no camera roll)."""
    rows = (view.centre - (np.arange(size) + 0.5)) / view.focal  # camera-space y of each row's ray (z = 1)
    _, up, forward = view.rotation
    dir_y = rows * up[1] + forward[1]
    horizontal = np.hypot(rows * up[0] + forward[0], rows * up[2] + forward[2])
    ground = dir_y < -1e-6
    dist = np.where(ground, max(eye_height, 0.05) * horizontal / np.maximum(-dir_y, 1e-6), np.inf)
    fog = 1.0 - np.exp(-dist / look.fog)
    sky_t = np.clip(np.arctan2(dir_y, horizontal) / math.radians(40), 0, 1)[:, None]  # 0 at the horizon
    sky = sky_t * np.array(look.sky_top) + (1 - sky_t) * np.array(look.sky_bottom)
    floor = (1 - fog[:, None]) * np.array(look.floor) + fog[:, None] * np.array(look.sky_bottom)
    colours = np.where(ground[:, None], floor, sky)
    return Image.fromarray(np.broadcast_to(colours[:, None], (size, size, 3)).round().astype(np.uint8))


def _clip_segments(a: np.ndarray, b: np.ndarray, near: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Camera-space segments clipped to z >= near (segments entirely behind are dropped)."""
    keep = (a[:, 2] >= near) | (b[:, 2] >= near)
    a, b = a[keep], b[keep]
    t = ((near - a[:, 2]) / (b[:, 2] - a[:, 2] + 1e-12))[:, None]
    cut = a + t * (b - a)
    return np.where((a[:, 2] < near)[:, None], cut, a), np.where((b[:, 2] < near)[:, None], cut, b)


def _grid_segments(centre_xz: np.ndarray, half: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The 1 m floor grid lines within ``half`` metres of a point: (starts, ends) in world space."""
    cx, cz = np.round(centre_xz)
    k = np.arange(-half, half + 1, dtype=float)
    e = np.full_like(k, half)
    zero = np.zeros_like(k)
    starts = np.concatenate([np.stack([cx + k, zero, cz - e], 1), np.stack([cx - e, zero, cz + k], 1)])
    ends = np.concatenate([np.stack([cx + k, zero, cz + e], 1), np.stack([cx + e, zero, cz + k], 1)])
    return starts, ends


def _capsule_outlines(pa: np.ndarray, pb: np.ndarray, ra: np.ndarray, rb: np.ndarray) -> np.ndarray:
    """(..., 2k, 2) pixel polygons of 2-D capsules: a half circle round each end joined by tangents."""
    d = pb - pa
    length = np.linalg.norm(d, axis=-1, keepdims=True)
    d = np.where(length > 1e-6, d / np.maximum(length, 1e-6), np.array([1.0, 0.0]))
    n = np.stack([-d[..., 1], d[..., 0]], axis=-1)
    cos, sin = np.cos(_ARC)[:, None], np.sin(_ARC)[:, None]
    ring = cos * d[..., None, :] + sin * n[..., None, :]  # (..., k, 2) unit vectors round the b end
    end_b = pb[..., None, :] + rb[..., None, None] * ring
    end_a = pa[..., None, :] - ra[..., None, None] * ring
    outline = np.concatenate([end_b, end_a], axis=-2)
    # seen nearly end-on, one end's disc swallows the other: draw that disc whole
    swallowed = (length[..., 0] < np.abs(ra - rb))[..., None, None]
    big_centre = np.where((ra >= rb)[..., None], pa, pb)[..., None, :]
    disc = big_centre + np.maximum(ra, rb)[..., None, None] * _DISC
    return np.where(swallowed, disc, outline)


def _hull_polygons(points: np.ndarray) -> np.ndarray:
    """(..., K, 2) convex outline of (..., N, 2) pixel points: the extreme point in K sampled directions,
    in angle order (exact at the sampled directions; close enough for smooth ellipse rings)."""
    support = points @ _HULL_DIRS.T  # (..., N, K)
    best = support.argmax(axis=-2)  # (..., K)
    return np.take_along_axis(points, best[..., None].repeat(2, axis=-1), axis=-2)


def _shades(colours: np.ndarray, tones: np.ndarray) -> list:
    """(..., 3) colours times (...) brightness -> nested lists of RGB tuples."""
    rgb = np.minimum(colours * tones[..., None], 255).astype(np.int64)
    return [[tuple(c) for c in row] for row in rgb.tolist()]


def _cylinder_tones(axis: np.ndarray, to_camera: np.ndarray, light: np.ndarray) -> tuple:
    """Base and highlight brightness of cylinders (unit ``axis``, (..., 3)) seen along ``to_camera``, and
    the light's component across each (its length says how much of the light falls across the axis)."""
    facing = _unit(to_camera - _dot(to_camera, axis) * axis)
    across_light = light - _dot(axis, light) * axis
    strength = np.linalg.norm(across_light, axis=-1)
    toward = (facing * _unit(across_light)).sum(-1)
    base = AMBIENT + DIFFUSE * (facing @ light).clip(0, None)
    high = np.maximum(base, AMBIENT + DIFFUSE * strength * (0.55 + 0.45 * toward)) + 0.05
    return base, high, across_light


def _torso_points(poses: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World points (F, 2, R*S, 3) of the lower and upper torso volumes (stacked elliptical sections),
    their centres (F, 2, 3) and spine axes (F, 2, 3)."""
    j = {n: poses[:, INDEX[n]] for n in ("pelvis", "spine1", "spine3", "left_hip", "right_hip")}
    l_sh, r_sh = poses[:, INDEX["left_shoulder"]], poses[:, INDEX["right_shoulder"]]
    across = (j["left_hip"] - j["right_hip"]) + (l_sh - r_sh)
    spine = _unit(j["spine3"] - j["pelvis"])
    forward = _unit(np.cross(across, spine))
    across = _unit(np.cross(spine, forward))
    shoulders = 0.5 * (l_sh + r_sh)
    up_low, up_high = _unit(j["spine1"] - j["pelvis"]), _unit(shoulders - j["spine3"])
    shoulder_half = 0.5 * np.linalg.norm(l_sh - r_sh, axis=-1, keepdims=True)
    ones = np.ones_like(shoulder_half)
    chest = j["spine3"] + 0.015 * forward
    # sections: (centre, half-width across, half-depth front to back)
    low = [
        (j["pelvis"] - 0.06 * up_low, 0.15, 0.1),
        (j["pelvis"] + 0.05 * up_low, 0.145, 0.1),
        (j["spine1"], 0.13, 0.09),
    ]
    high = [
        (j["spine1"], 0.13, 0.09),
        (chest, 0.155, 0.1),
        (shoulders - 0.035 * up_high + 0.01 * forward, np.maximum(0.15, shoulder_half + 0.05), 0.085 * ones),
    ]
    cos, sin = np.cos(_RING_ANGLES)[:, None], np.sin(_RING_ANGLES)[:, None]

    def volume(sections: list) -> np.ndarray:
        rings = [
            c[:, None] + (w * ones)[:, None] * cos * across[:, None] + (d * ones)[:, None] * sin * forward[:, None]
            for c, w, d in sections
        ]
        return np.concatenate(rings, axis=1)

    points = np.stack([volume(low), volume(high)], axis=1)
    centres = np.stack([j["pelvis"], 0.5 * (j["spine1"] + shoulders)], axis=1)
    axes = np.stack([up_low, _unit(shoulders - j["spine1"])], axis=1)
    return points, centres, axes


def _figure_commands(view: _View, eyes: np.ndarray, poses: np.ndarray, look: Look, light: np.ndarray) -> list:
    """Per frame, the mannequin's drawing commands far to near: (polygon?, shape, fill, outline, highlight
    shape, highlight fill). All geometry and shading is computed for all frames at once."""
    n = len(poses)
    focal = view.focal
    top, legs, skin = (np.array(c, dtype=np.float64) for c in (look.top, look.legs, look.skin))

    # capsules: limbs, neck and feet (ankle to just past the toe joint)
    toe = np.stack([poses[:, INDEX[f"{s}_foot"]] for s in ("left", "right")], 1)
    ankle = np.stack([poses[:, INDEX[f"{s}_ankle"]] for s in ("left", "right")], 1)
    cap_a = np.concatenate([poses[:, _CAP_A], ankle], axis=1)
    cap_b = np.concatenate([poses[:, _CAP_B], toe + 0.05 * _unit(toe - ankle)], axis=1)
    radii = np.concatenate([_CAP_R, np.array([FOOT_RADII, FOOT_RADII])])
    cap_colour = np.array([(top, legs)[p] for p in (*_CAP_PART, 1, 1)])
    base, high, across_light = _cylinder_tones(_unit(cap_b - cap_a), eyes[:, None] - 0.5 * (cap_a + cap_b), light)
    cam_a, cam_b = view.to_camera(cap_a, eyes[:, None]), view.to_camera(cap_b, eyes[:, None])
    za, zb = np.maximum(cam_a[..., 2], 1e-3), np.maximum(cam_b[..., 2], 1e-3)
    pa, pb = view.to_pixels(cam_a), view.to_pixels(cam_b)
    ra, rb = focal * radii[:, 0] / za, focal * radii[:, 1] / zb
    outer = _capsule_outlines(pa, pb, ra, rb)
    shift = 0.38 * view.image_direction(across_light) * np.minimum(ra, rb)[..., None]
    inner = _capsule_outlines(pa + shift, pb + shift, 0.5 * ra, 0.5 * rb)
    cap = (outer, inner, cap_colour, base, high, 0.5 * (za + zb))

    # spheres: head, nose, deltoids, hands
    head_up = _unit(poses[:, INDEX["head"]] - poses[:, INDEX["neck"]])
    head = poses[:, INDEX["head"]] + 0.075 * head_up
    torso_pts, torso_centres, torso_axes = _torso_points(poses)
    chest_forward = _unit(np.cross(poses[:, INDEX["left_shoulder"]] - poses[:, INDEX["right_shoulder"]], head_up))
    face = _unit(chest_forward - _dot(chest_forward, head_up) * head_up)
    hands = [
        poses[:, INDEX[f"{s}_wrist"]] + 0.045 * _unit(poses[:, INDEX[f"{s}_wrist"]] - poses[:, INDEX[f"{s}_elbow"]])
        for s in ("left", "right")
    ]
    nose = head + 0.085 * face - 0.02 * head_up
    centres = np.stack([head, nose, poses[:, INDEX["left_shoulder"]], poses[:, INDEX["right_shoulder"]], *hands], 1)
    sphere_r = np.array([HEAD_RADIUS, NOSE_RADIUS, DELTOID_RADIUS, DELTOID_RADIUS, HAND_RADIUS, HAND_RADIUS])
    sphere_colour = np.array([skin, skin, top, top, skin, skin])
    to_cam = _unit(eyes[:, None] - centres)
    s_base = AMBIENT + DIFFUSE * (to_cam @ light).clip(0, None)
    s_high = np.maximum(s_base, AMBIENT + DIFFUSE * (0.55 + 0.45 * (to_cam @ light))) + 0.05
    s_cam = view.to_camera(centres, eyes[:, None])
    s_z = np.maximum(s_cam[..., 2], 1e-3)
    s_pix = view.to_pixels(s_cam)
    s_rad = (focal * sphere_r / s_z)[..., None]
    s_box = np.concatenate([s_pix - s_rad, s_pix + s_rad], axis=-1)
    h_pix = s_pix + 0.35 * s_rad * view.image_direction(light)
    h_box = np.concatenate([h_pix - 0.5 * s_rad, h_pix + 0.5 * s_rad], axis=-1)
    s_depth = s_z - np.array([0, 0.01, 0, 0, 0, 0])  # the nose sits on the head: draw it after when level
    sph = (s_box, h_box, sphere_colour, s_base, s_high, s_depth)

    # torso volumes: convex outlines of their cross-sections
    t_cam = view.to_camera(torso_pts, eyes[:, None, None])
    t_pix = view.to_pixels(t_cam)
    hull = _hull_polygons(t_pix)
    t_base, t_high, t_across = _cylinder_tones(torso_axes, eyes[:, None] - torso_centres, light)
    centre_2d = hull.mean(axis=-2, keepdims=True)
    half_size = 0.5 * np.ptp(hull, axis=-2).min(axis=-1)
    offset = 0.3 * half_size[..., None] * view.image_direction(t_across)
    inner_hull = centre_2d + offset[..., None, :] + 0.6 * (hull - centre_2d)
    t_depth = t_cam[..., 2].mean(-1) + 0.03
    t_depth = np.where((t_cam[..., 2] < 0.05).any(-1), -1.0, t_depth)  # behind the camera: skipped
    tor = (hull, inner_hull, np.array([legs, top]), t_base, t_high, t_depth)

    groups = [(True, cap), (False, sph), (True, tor)]
    frames: list[list] = [[] for _ in range(n)]
    depth_all = []
    per_group = []
    for is_poly, (shape, hi_shape, colour, tone, hi_tone, depth) in groups:
        fills = _shades(colour[None], tone)
        lines = _shades(colour[None], 0.7 * tone)
        hi_fills = _shades(colour[None], hi_tone)
        flat = shape.reshape(n, shape.shape[1], -1).tolist()
        hi_flat = hi_shape.reshape(n, shape.shape[1], -1).tolist()
        per_group.append((is_poly, flat, fills, lines, hi_flat, hi_fills))
        depth_all.append(depth)
    depth_all = np.concatenate(depth_all, axis=1)
    index = [(g, i) for g, grp in enumerate(groups) for i in range(grp[1][0].shape[1])]
    order = np.argsort(-depth_all, axis=1, kind="stable")
    for f in range(n):
        for k in order[f].tolist():
            if depth_all[f, k] < 0.1:
                continue
            g, i = index[k]
            is_poly, flat, fills, lines, hi_flat, hi_fills = per_group[g]
            frames[f].append((is_poly, flat[f][i], fills[f][i], lines[f][i], hi_flat[f][i], hi_fills[f][i]))
    return frames


def _draw_ground(
    draw: ImageDraw.ImageDraw, view: _View, eye: np.ndarray, aim: np.ndarray, pose: np.ndarray, look: Look
) -> None:
    """Grid lines round the aim point and a soft blob shadow under the body (RGBA blending)."""
    starts, ends = _grid_segments(aim[[0, 2]])
    a, b = _clip_segments(view.to_camera(starts, eye), view.to_camera(ends, eye))
    line = tuple(min(255, int(c * look.grid)) for c in look.floor)
    for seg in np.concatenate([view.to_pixels(a), view.to_pixels(b)], axis=1).tolist():
        draw.line(seg, fill=line, width=SUPERSAMPLE)
    # shadow: nested ellipses on the floor round the body's footprint, each darkening a little more
    xz = pose[:, [0, 2]]
    centre = 0.5 * (xz.min(0) + xz.max(0))
    half = np.maximum(0.5 * (xz.max(0) - xz.min(0)), 0.12)
    fade = max(0.3, 1.0 - float(pose[:, 1].min()))  # a jumping body casts a lighter shadow
    for grow, alpha in ((1.6, 22), (1.35, 22), (1.1, 24), (0.85, 26), (0.6, 28)):
        x = centre[0] + grow * half[0] * _SHADOW_COS
        z = centre[1] + grow * half[1] * _SHADOW_SIN
        cam = view.to_camera(np.stack([x, np.zeros_like(x), z], axis=1), eye)
        if (cam[:, 2] > 0.1).all():
            draw.polygon(view.to_pixels(cam).ravel().tolist(), fill=(0, 0, 0, int(alpha * fade)))


def render_frames(
    joints: np.ndarray,
    fps: float = 20.0,
    n_frames: int = 16,
    size: int = 160,
    seed: int = 0,
    camera: Camera | None = None,
    look: Look | None = None,
) -> np.ndarray:
    """(n_frames, size, size, 3) uint8 RGB frames of the mannequin, sampled uniformly over the clip.

    ``joints`` are canonical positions (T, 22, 3). A camera or look not given is drawn from ``seed``
    (both are always drawn, so passing one leaves the other as the seed makes it).
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (22, 3) or len(joints) == 0:
        raise ValueError(f"expected canonical joints (frames, 22, 3), got {joints.shape}")
    rng = np.random.default_rng(seed)
    sampled_camera, sampled_look = sample_camera(rng, joints, fps), sample_look(rng)
    camera, look = camera or sampled_camera, look or sampled_look
    times = _sample_times(len(joints), n_frames)
    poses = _interpolate(joints, times)
    aims = _interpolate(_smoothed_root(joints, fps), times)
    aims[:, 1] = camera.target_height
    big = size * SUPERSAMPLE
    view = _View(camera, big)
    light = _unit(np.asarray(look.light, dtype=np.float64))
    eyes = aims + view.offset
    background = _background(view, look, float(eyes[0, 1]), big)
    commands = _figure_commands(view, eyes, poses, look, light)
    width = SUPERSAMPLE
    out = np.empty((n_frames, size, size, 3), dtype=np.uint8)
    for k in range(n_frames):
        image = background.copy()
        _draw_ground(ImageDraw.Draw(image, "RGBA"), view, eyes[k], aims[k], poses[k], look)
        draw = ImageDraw.Draw(image)
        for is_poly, shape, fill, line, hi_shape, hi_fill in commands[k]:
            if is_poly:
                draw.polygon(shape, fill=fill, outline=line, width=width)
                draw.polygon(hi_shape, fill=hi_fill)
            else:
                draw.ellipse(shape, fill=fill, outline=line, width=width)
                draw.ellipse(hi_shape, fill=hi_fill)
        out[k] = np.asarray(image.reduce(SUPERSAMPLE) if SUPERSAMPLE > 1 else image)
    return out
