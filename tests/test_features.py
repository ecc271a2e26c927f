"""Canonical positions, features, windows, body parts and normalisation on real clips."""

from __future__ import annotations

import numpy as np
import pytest

from motion import FEATURE_DIM, LAYOUT, load_canonical, motion_features, read_bvh
from motion.body_parts import body_parts
from motion.canonical import facing_angle
from motion.normalize import FeatureStats
from motion.resample import crop_windows, resample_bvh
from motion.skeleton import INDEX, JOINTS


def test_layout_is_the_documented_263_dims():
    assert FEATURE_DIM == 263
    sizes = {name: s.stop - s.start for name, s in LAYOUT.items()}
    assert sizes == {"root_rot_vel": 1, "root_lin_vel": 2, "root_y": 1, "ric": 63, "rot6d": 126,
                     "local_vel": 66, "foot_contact": 4}  # fmt: skip


def _check_clip(path):
    canon = load_canonical(path)
    feats = motion_features(canon.positions, canon.fps)
    assert canon.positions.shape[1:] == (22, 3) and canon.fps == 20
    assert feats.shape == (canon.n_frames - 1, 263) and feats.dtype == np.float32
    assert np.isfinite(feats).all(), f"{path.name}: non-finite features"
    return canon, feats


def test_every_demo_clip_gives_finite_features(demo_clips):
    for path in demo_clips:
        _check_clip(path)


def test_dataset_sample_gives_finite_features(dataset_sample):
    """60 seeded clips of the full dataset here; `python -m motion check` covers all 3,076."""
    for path in dataset_sample:
        canon, _ = _check_clip(path)
        assert canon.rig == "bandai_namco" and canon.units == "cm" and canon.up == "y"


def test_canonical_placement(clip):
    canon = load_canonical(clip)
    p = canon.positions
    assert np.allclose(p[0, INDEX["pelvis"], [0, 2]], 0, atol=1e-9)
    assert abs(facing_angle(p[:1])[0]) < 1e-9  # facing +Z at frame 0
    assert p[0, INDEX["left_hip"], 0] > 0 > p[0, INDEX["right_hip"], 0]  # left is +X
    feet = [INDEX[n] for n in ("left_ankle", "left_foot", "right_ankle", "right_foot")]
    assert abs(p[:, feet, 1].min()) < 1e-9  # lowest foot point on the floor
    assert 1.2 < p[0, INDEX["head"], 1] < 2.0  # metres, Y up, standing adult
    # a wave with the left hand raises the left wrist, not the right one
    assert p[:, INDEX["left_wrist"], 1].max() > p[:, INDEX["right_wrist"], 1].max() + 0.5


def test_features_follow_their_definition(clip):
    canon, feats = _check_clip(clip)
    p = canon.positions
    assert np.allclose(feats[:, LAYOUT["root_y"]][:, 0], p[:-1, 0, 1], atol=1e-6)
    # ric of frame 0 (facing +Z) is the joint minus the pelvis in x/z, height as is
    ric0 = feats[0, LAYOUT["ric"]].reshape(21, 3)
    expected = p[0, 1:] - p[0, :1] * np.array([1, 0, 1])
    assert np.allclose(ric0, expected, atol=1e-5)
    speeds = np.linalg.norm(feats[:, LAYOUT["local_vel"]].reshape(-1, 22, 3), axis=-1)
    assert np.allclose(speeds, np.linalg.norm(np.diff(p, axis=0), axis=-1), atol=1e-5)
    rot = feats[:, LAYOUT["rot6d"]].reshape(-1, 21, 2, 3)
    assert np.allclose(np.linalg.norm(rot, axis=-1), 1, atol=1e-4)  # unit columns
    assert np.allclose((rot[:, :, 0] * rot[:, :, 1]).sum(-1), 0, atol=1e-4)  # orthogonal
    assert set(np.unique(feats[:, LAYOUT["foot_contact"]])) <= {0.0, 1.0}


def test_walking_feet_alternate_contact(demo_clips):
    walk = next(p for p in demo_clips if "_walk_" in p.name)
    _, feats = _check_clip(walk)
    contact = feats[:, LAYOUT["foot_contact"]]
    left, right = contact[:, 0], contact[:, 2]
    assert 0.2 < left.mean() < 0.9 and 0.2 < right.mean() < 0.9
    assert (left != right).mean() > 0.2  # single support happens


def test_resampling_keeps_duration(clip):
    motion = read_bvh(clip)
    canon = load_canonical(clip, fps=20)
    assert abs(canon.duration - (motion.n_frames - 1) / motion.fps) < 1 / 20
    at_ten = resample_bvh(motion, 10)
    assert abs(at_ten.fps - 10) < 1e-9 and abs((at_ten.n_frames - 1) / 10 - canon.duration) < 0.1


@pytest.mark.parametrize(("n", "expected"), [(50, [(0, 50)]), (196, [(0, 196)]),
                                             (300, [(0, 196), (98, 294), (104, 300)]),
                                             (400, [(0, 196), (98, 294), (196, 392), (204, 400)])])  # fmt: skip
def test_long_clips_become_overlapping_windows(n, expected):
    windows = crop_windows(n, 196)
    assert windows == expected
    covered = np.zeros(n, bool)
    for start, stop in windows:
        assert stop - start <= 196
        covered[start:stop] = True
    assert covered.all()


def test_body_parts_partition_the_features():
    parts = body_parts()
    assert len(parts) == 8
    assert all(2 <= len(p.joints) <= 4 for p in parts)
    joints = [j for p in parts for j in p.joints]
    assert sorted(joints) == sorted(JOINTS)
    columns = np.concatenate([p.columns for p in parts])
    assert sorted(columns.tolist()) == list(range(FEATURE_DIM))


def test_normalisation_uses_only_the_training_clips(demo_clips):
    feats = [motion_features(load_canonical(p).positions, 20) for p in demo_clips[:12]]
    train, held_out = feats[:8], feats[8:]
    stats = FeatureStats.fit(train)
    normed = np.concatenate([stats.normalize(f) for f in train])
    varying = np.concatenate(train).std(0) > 1e-3
    assert np.allclose(normed.mean(0), 0, atol=1e-3)
    assert np.allclose(normed.std(0)[varying], 1, atol=1e-2)
    assert not np.allclose(FeatureStats.fit(feats).mean, stats.mean)  # held-out clips would change it
    back = stats.denormalize(stats.normalize(held_out[0]))
    assert np.allclose(back, held_out[0], atol=1e-4)
