"""motion.augment on real clips of the dataset: what each augmentation changes and what it keeps."""

from __future__ import annotations

import numpy as np
import pytest

from motion import augment as aug
from motion.body import FEET, bone_lengths
from motion.canonical import facing_angle, load_canonical
from motion.features import motion_features
from motion.resample import TARGET_FPS, resample_positions
from motion.skeleton import JOINTS, PARENTS


@pytest.fixture(scope="module")
def clips(dataset_sample) -> list[np.ndarray]:
    """Six dataset clips as canonical positions at 20 fps (walks, runs and waves among them)."""
    out = []
    for path in dataset_sample[:6]:
        motion = load_canonical(path)
        out.append(resample_positions(motion.positions, motion.fps, TARGET_FPS))
    return out


def _directions(p: np.ndarray) -> np.ndarray:
    bones = p[:, 1:] - p[:, list(PARENTS[1:])]
    return bones / np.linalg.norm(bones, axis=-1, keepdims=True)


def test_random_body_reaches_the_height_and_keeps_the_joint_angles(clips):
    rng = np.random.default_rng(0)
    for p in clips:
        assert 1.5 < aug.stature(p) < 1.9  # the dataset's actors
        for height in ((1.4, 1.45), (1.95, 2.0)):
            q = aug.random_body(p, rng, height=height)
            assert height[0] - 1e-9 <= aug.stature(q) <= height[1] + 1e-9
            np.testing.assert_allclose(_directions(q), _directions(p), atol=1e-6)
            assert abs(q[:, FEET, 1].min() - p[:, FEET, 1].min()) < 1e-9  # feet stay on the floor
            ratio = bone_lengths(q) / bone_lengths(p)  # one factor per segment, left and right alike
            for name in ("knee", "ankle", "elbow", "wrist"):
                assert ratio[JOINTS.index(f"left_{name}") - 1] == pytest.approx(
                    ratio[JOINTS.index(f"right_{name}") - 1]
                )


def test_tempo_changes_the_length_by_the_factor(clips):
    for p in clips:
        for factor in (0.8, 1.25):
            q = aug.change_tempo(p, factor)
            assert abs((len(q) - 1) - (len(p) - 1) / factor) <= 1
            np.testing.assert_allclose(q[0], p[0])


def test_yaw_rotates_the_facing_by_the_angle(clips):
    for p in clips:
        q = aug.rotate_yaw(p, np.radians(30))
        turn = np.angle(np.exp(1j * (facing_angle(q) - facing_angle(p))))
        np.testing.assert_allclose(turn, np.radians(30), atol=1e-9)
        np.testing.assert_allclose(np.linalg.norm(q[:, 0] - q[:1, 0], axis=-1),
                                   np.linalg.norm(p[:, 0] - p[:1, 0], axis=-1), atol=1e-9)  # fmt: skip
        w = aug.wobble_yaw(p, np.random.default_rng(1), degrees=8)
        np.testing.assert_allclose(w[:, 0], p[:, 0], atol=1e-9)  # the path stays
        wobble = np.degrees(np.angle(np.exp(1j * (facing_angle(w) - facing_angle(p)))))
        assert 0.5 < np.abs(wobble).max() < 45


def test_joint_noise_has_the_size_asked_for_and_is_smooth(clips):
    p = clips[0]
    q = aug.add_joint_noise(p, np.random.default_rng(2), sigma=0.03, depth=1.0)
    noise = q - p
    assert 0.02 < noise.std() < 0.04
    assert np.abs(np.diff(noise, axis=0)).mean() < 0.5 * np.abs(noise).mean()  # smoothed over time


def test_pose_like_keeps_the_body_and_has_the_template_bones(clips):
    from motion.body import reference_lengths
    from pose.video import POSE_FPS

    assert aug.POSE_FPS == POSE_FPS
    template = np.array([reference_lengths()[name] for name in JOINTS[1:]])
    for p in clips:
        q = aug.pose_like(p)
        n = min(len(p), len(q))
        assert abs(len(q) - len(p)) <= 1
        body = np.linalg.norm((q[:n] - q[:n, :1]) - (p[:n] - p[:n, :1]), axis=-1).mean()
        assert body < 0.10, body  # pelvis-relative joints within 10 cm on average
        assert abs(q[:n, 0, 1] - p[:n, 0, 1]).mean() < 0.10  # the pelvis height
        # limbs and head take the template's lengths exactly; the torso is the template's, placed per frame
        lengths = np.linalg.norm(q[:, 1:] - q[:, list(PARENTS[1:])], axis=-1)
        limbs = [JOINTS.index(n) - 1 for n in ("left_knee", "right_ankle", "left_foot", "right_elbow",
                                                "left_wrist", "head")]  # fmt: skip
        np.testing.assert_allclose(lengths[:, limbs], np.broadcast_to(template[limbs], (len(q), len(limbs))),
                                   atol=1e-6)  # fmt: skip
        assert np.abs(lengths.mean(0) - template).max() < 0.02


def test_augment_is_seeded_and_gives_valid_features(clips):
    for k, p in enumerate(clips):
        a = aug.augment(p, np.random.default_rng(k))
        b = aug.augment(p, np.random.default_rng(k))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, aug.augment(p, np.random.default_rng(k + 100)))
        features = motion_features(a, TARGET_FPS)
        assert np.isfinite(features).all() and len(features) >= 1
        assert abs(a[:, FEET, 1].min()) < 1e-9  # placed: feet on the floor
    with pytest.raises(ValueError, match="unknown augment key"):
        aug.AugmentConfig.from_dict({"tempo": 0.5, "speed": 1.0})
    assert aug.AugmentConfig.from_dict({"height": [1.5, 1.8]}).height == (1.5, 1.8)
