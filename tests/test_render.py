"""The mannequin renderer and video augmentations on real clips."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from dataset.augment import Augmentation, apply_augmentation, augment_frames
from dataset.render import Camera, contact_sheet, load_frames, main, render_frames, sample_look, save_frames
from motion.canonical import load_canonical


@pytest.fixture(scope="module")
def joints(clip):
    return load_canonical(clip).positions


def test_render_is_deterministic_by_seed(joints):
    a = render_frames(joints, n_frames=4, size=96, seed=3)
    assert a.shape == (4, 96, 96, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, render_frames(joints, n_frames=4, size=96, seed=3))
    assert not np.array_equal(a, render_frames(joints, n_frames=4, size=96, seed=4))


def body_mask(frames: np.ndarray, look) -> np.ndarray:
    """Pixels close to the body colour (any shade of it)."""
    body = np.array(look.body, dtype=float)
    f = frames.astype(float)
    cos = (f @ body) / (np.linalg.norm(f, axis=-1) * np.linalg.norm(body) + 1e-9)
    return (cos > 0.995) & (np.linalg.norm(f, axis=-1) > 0.3 * np.linalg.norm(body))


def test_the_mannequin_fills_a_plausible_part_of_every_frame(joints):
    look = sample_look(np.random.default_rng(0))
    frames = render_frames(joints, n_frames=8, size=128, seed=0, look=look)
    fractions = body_mask(frames, look).mean(axis=(1, 2))
    assert (fractions > 0.02).all() and (fractions < 0.4).all(), fractions


def test_head_is_above_the_feet_from_the_front(joints):
    look = sample_look(np.random.default_rng(1))
    front = Camera(yaw=0.0, elevation=math.radians(10), distance=3.0, fov=math.radians(50))
    frame = render_frames(joints[:1], n_frames=1, size=128, camera=front, look=look)[0]
    rows = np.flatnonzero(body_mask(frame[None], look)[0].any(axis=1))
    assert rows[-1] - rows[0] > 50, "a standing person spans most of the frame height"
    cols_top = np.flatnonzero(body_mask(frame[None], look)[0][rows[0] : rows[0] + 10].any(axis=0))
    assert abs(cols_top.mean() - 64) < 20, "the head is near the image centre line"


def test_render_rejects_non_canonical_joints():
    with pytest.raises(ValueError, match="22, 3"):
        render_frames(np.zeros((10, 20, 3)))


def test_save_load_round_trip(tmp_path, joints):
    frames = render_frames(joints, n_frames=5, size=80, seed=1)
    save_frames(tmp_path / "v.jpg", frames)
    back = load_frames(tmp_path / "v.jpg")
    assert back.shape == frames.shape
    assert np.abs(back.astype(int) - frames).mean() < 3.0  # JPEG, quality 90


def test_augmentations_keep_shape_and_flip_mirrors(joints):
    frames = render_frames(joints, n_frames=3, size=64, seed=2)
    out, flipped = augment_frames(frames, np.random.default_rng(0))
    assert out.shape == frames.shape and out.dtype == np.uint8 and isinstance(flipped, bool)
    plain = Augmentation((0, 0, 64, 64), 1.0, 1.0, 1.0, 0.0, False, 0.0, flip=False)
    np.testing.assert_array_equal(apply_augmentation(frames, plain), frames)
    mirrored = Augmentation((0, 0, 64, 64), 1.0, 1.0, 1.0, 0.0, False, 0.0, flip=True)
    np.testing.assert_array_equal(apply_augmentation(frames, mirrored), frames[:, :, ::-1])
    flips = [augment_frames(frames, np.random.default_rng(s))[1] for s in range(20)]
    assert 0 < sum(flips) < 20


def test_contact_sheet_command(tmp_path, demo_clips):
    out = tmp_path / "sheet.png"
    assert main(["sheet", "--source", str(demo_clips[0].parent), "--out", str(out), "--clips", "2"]) == 0
    image = Image.open(out)
    assert image.size[1] == 2 * 160
    contact_sheet([np.zeros((4, 32, 32, 3), np.uint8)], ["x"], tmp_path / "one.png", frames_per_row=2)
    assert Image.open(tmp_path / "one.png").size == (220 + 64, 32)
