"""The mirror rule agrees across BVH, positions, features and labels."""

from __future__ import annotations

import numpy as np

from motion import load_canonical, motion_features, read_bvh, write_bvh
from motion.kinematics import forward_kinematics
from motion.mirror import mirror_bvh, mirror_features, mirror_label, mirror_positions, swap_sides
from motion.rigs import mirror_partners


def test_mirrored_bvh_mirrors_world_positions(clip):
    motion = read_bvh(clip)
    mirrored = mirror_bvh(motion)
    a, _ = forward_kinematics(motion)
    b, _ = forward_kinematics(mirrored)
    partner = mirror_partners(motion.skeleton)
    assert motion.skeleton.names[partner[motion.skeleton.index("Hand_L")]] == "Hand_R"
    assert np.abs(b[:, partner] * np.array([-1, 1, 1]) - a).max() < 1e-6


def test_features_of_mirror_follow_the_swap_rule(demo_clips, tmp_path):
    for path in demo_clips[::6]:
        canon = load_canonical(path)
        feats = motion_features(canon.positions, canon.fps)
        write_bvh(tmp_path / "mirror.bvh", mirror_bvh(read_bvh(path)))
        mirrored = load_canonical(tmp_path / "mirror.bvh")
        assert np.abs(mirrored.positions - mirror_positions(canon.positions)).max() < 1e-5
        mirrored_feats = motion_features(mirrored.positions, mirrored.fps)
        assert np.abs(mirrored_feats - mirror_features(feats)).max() < 1e-4, path.name
        assert np.array_equal(mirror_features(mirror_features(feats)), feats)
        assert not np.allclose(mirrored_feats, feats, atol=1e-3)  # a mirror is a different motion


def test_left_hand_wave_becomes_right_hand_wave(clip):
    canon = load_canonical(clip)
    mirrored = mirror_positions(canon.positions)
    assert mirrored[:, 21, 1].max() > mirrored[:, 20, 1].max() + 0.5  # right wrist (21) now waves


def test_label_swap_rule():
    assert mirror_label("wave-left-hand") == "wave-right-hand"
    assert mirror_label("walk-turn-right") == "walk-turn-left"
    assert mirror_label("raise-up-both-hands") == "raise-up-both-hands"
    assert mirror_label("walk") == "walk"
    text = "Left foot forward, then turn RIGHT clockwise"
    assert swap_sides(text) == "Right foot forward, then turn LEFT counterclockwise"
    assert swap_sides("a bright lefty") == "a bright lefty"  # whole words only
