"""The mannequin renderer, its storage and the video augmentations, on real demo clips."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from dataset.augment import Augmentation, apply_augmentation, augment_frames, sample_augmentation
from dataset.render import (
    Camera,
    Look,
    contact_sheet,
    load_frames,
    main,
    render_frames,
    sample_camera,
    sample_look,
    save_frames,
)
from motion.canonical import load_canonical

# A look made for masks: red clothes, magenta skin, a blue sky and a green floor (body pixels are the only
# ones with much red; shading only scales the colours).
MASK_LOOK = Look(
    top=(255, 0, 0),
    legs=(255, 0, 0),
    skin=(255, 0, 255),
    floor=(0, 200, 0),
    sky_top=(0, 0, 255),
    sky_bottom=(0, 0, 255),
    light=(0.3, 0.8, 0.5),
)
FRONT = Camera(yaw_deg=0.0, elevation_deg=5.0, distance=3.6, fov_deg=45.0, target_height=0.8)


def body_mask(frames: np.ndarray) -> np.ndarray:
    f = frames.astype(int)
    return f[..., 0] > 60 + f[..., 1]


@pytest.fixture(scope="module")
def joints(clip):
    return load_canonical(clip).positions


@pytest.fixture(scope="module")
def walk(demo_clips):
    return load_canonical(next(p for p in demo_clips if "walk_masculine" in p.name)).positions


def test_shape_dtype_and_determinism_by_seed(joints):
    a = render_frames(joints, n_frames=4, size=96, seed=3)
    assert a.shape == (4, 96, 96, 3) and a.dtype == np.uint8
    assert render_frames(joints, n_frames=4, size=96, seed=3).tobytes() == a.tobytes()
    assert not np.array_equal(a, render_frames(joints, n_frames=4, size=96, seed=4))


def test_seeds_draw_different_cameras_and_looks(joints):
    cameras = [sample_camera(np.random.default_rng(s), joints) for s in range(8)]
    looks = [sample_look(np.random.default_rng(s)) for s in range(8)]
    assert len({c.yaw_deg for c in cameras}) == 8 and len({lk.top for lk in looks}) == 8
    assert all(-5 <= c.elevation_deg <= 35 and 0 <= c.yaw_deg < 360 for c in cameras)
    assert sample_camera(np.random.default_rng(1), joints) == cameras[1]
    axes = [sample_camera(np.random.default_rng(s), joints, yaws="axes").yaw_deg for s in range(40)]
    assert all(min(abs(y - a) for a in (0, 90, 180, 270, 360)) <= 15 for y in axes)
    assert {round(y / 90) % 4 for y in axes} == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="camera yaws"):
        sample_camera(np.random.default_rng(0), joints, yaws="sideways")
    # a given camera keeps the seed's look (and the reverse)
    a = render_frames(joints, n_frames=2, size=64, seed=5)
    rng = np.random.default_rng(5)
    cam, look = sample_camera(rng, joints), sample_look(rng)
    np.testing.assert_array_equal(a, render_frames(joints, n_frames=2, size=64, seed=99, camera=cam, look=look))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_mannequin_covers_a_plausible_part_of_every_frame(walk, seed):
    """A walking clip from random cameras: the body is in every frame, neither tiny nor filling it."""
    frames = render_frames(walk, n_frames=8, size=128, seed=seed, look=MASK_LOOK)
    mask = body_mask(frames)
    fractions = mask.mean(axis=(1, 2))
    assert (fractions > 0.015).all() and (fractions < 0.35).all(), fractions
    rows, cols = mask.any(axis=2), mask.any(axis=1)
    assert not (rows[:, 0] | rows[:, -1] | cols[:, 0] | cols[:, -1]).any(), "the body touches the frame edge"


def test_head_is_above_the_feet_from_the_front(joints):
    frame = render_frames(joints[:1], n_frames=1, size=128, camera=FRONT, look=MASK_LOOK)[0].astype(int)
    skin = (frame[..., 0] > 60 + frame[..., 1]) & (frame[..., 2] > 60 + frame[..., 1])
    clothes = (frame[..., 0] > 60 + frame[..., 1]) & (frame[..., 2] < 40)
    skin_rows, cloth_rows = np.flatnonzero(skin.any(axis=1)), np.flatnonzero(clothes.any(axis=1))
    assert skin_rows[0] < cloth_rows[0], "the head is the top of the figure"
    assert cloth_rows[-1] - skin_rows[0] > 60, "a standing person spans much of the frame height"
    assert skin_rows[0] < 64 < cloth_rows[-1]
    head_cols = np.flatnonzero(skin[skin_rows[0] : skin_rows[0] + 6].any(axis=0))
    assert abs(head_cols.mean() - 64) < 16, "the head is near the image's centre line"


def test_render_rejects_non_canonical_joints():
    with pytest.raises(ValueError, match="22, 3"):
        render_frames(np.zeros((10, 20, 3)))


def test_save_load_round_trip(tmp_path, joints):
    frames = render_frames(joints, n_frames=5, size=80, seed=1)
    save_frames(tmp_path / "v.jpg", frames)
    back = load_frames(tmp_path / "v.jpg")
    assert back.shape == frames.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - frames).mean() < 3.0  # JPEG, quality 90
    save_frames(tmp_path / "v.npz", frames)
    np.testing.assert_array_equal(load_frames(tmp_path / "v.npz"), frames)  # lossless


def test_augment_keeps_shape_and_flip_mirrors(joints):
    frames = render_frames(joints, n_frames=3, size=64, seed=2)
    out, flipped = augment_frames(frames, np.random.default_rng(0))
    assert out.shape == frames.shape and out.dtype == np.uint8 and isinstance(flipped, bool)
    again, _ = augment_frames(frames, np.random.default_rng(0))
    np.testing.assert_array_equal(out, again)
    off = dict(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), brightness=0, contrast=0, saturation=0, hue=0)
    off |= dict(p_greyscale=0, p_blur=0)
    plain, was_flipped = augment_frames(frames, np.random.default_rng(1), p_flip=0.0, **off)
    assert not was_flipped
    np.testing.assert_array_equal(plain, frames)
    mirrored, was_flipped = augment_frames(frames, np.random.default_rng(1), p_flip=1.0, **off)
    assert was_flipped
    np.testing.assert_array_equal(mirrored, np.flip(frames, axis=2))
    flips = [augment_frames(frames, np.random.default_rng(s), **off)[1] for s in range(20)]
    assert 0 < sum(flips) < 20


def test_each_augmentation_changes_the_frames_alike(joints):
    frames = render_frames(joints, n_frames=2, size=64, seed=2)
    frames = np.stack([frames[0], frames[0]])  # two equal frames must stay equal
    base = Augmentation.identity(64, 64)
    for aug in (
        replace(base, crop=(8, 4, 56, 60)),
        replace(base, brightness=1.3, contrast=0.7, saturation=1.4),
        replace(base, hue=0.2),
        replace(base, greyscale=True),
        replace(base, blur=1.5),
    ):
        out = apply_augmentation(frames, aug)
        assert out.shape == frames.shape and not np.array_equal(out, frames), aug
        np.testing.assert_array_equal(out[0], out[1])
    grey = apply_augmentation(frames, replace(base, greyscale=True))
    assert (grey[..., 0] == grey[..., 1]).all()
    crop = sample_augmentation(np.random.default_rng(0), 64, 64).crop
    assert 0 <= crop[0] < crop[2] <= 64 and 0 <= crop[1] < crop[3] <= 64


def test_contact_sheet(tmp_path, demo_clips):
    out = tmp_path / "sheet.png"
    assert main(["sheet", "--source", str(demo_clips[0]), str(demo_clips[5]), "--out", str(out), "--size", "64"]) == 0
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size[1] == 2 * 64
    contact_sheet([np.zeros((4, 32, 32, 3), np.uint8)], ["x"], tmp_path / "one.png", frames_per_row=2)
    with Image.open(tmp_path / "one.png") as image:
        assert image.size == (220 + 64, 32)


def test_bench_writes_json(tmp_path, demo_clips):
    from bench import render_throughput

    out = tmp_path / "render.json"
    result = render_throughput.main(["--source", str(demo_clips[0].parent), "--limit", "2", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["clips"] == result["clips"] == 2
    assert saved["render_frames_per_s"] > 0 and saved["kb_per_item"]["npy"] > saved["kb_per_item"]["jpeg"] > 1
