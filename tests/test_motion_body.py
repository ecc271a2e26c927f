"""motion.body on real clips: any body, any rig, comes back on the reference body with the same motion."""

from __future__ import annotations

import numpy as np
import pytest

from motion import augment as aug
from motion import canonicalize, read_bvh, write_bvh
from motion.body import MIN_BONE, bone_lengths, fit, reference_features, reference_lengths, to_reference
from motion.canonical import load_canonical
from motion.features import motion_features
from motion.mirror import mirror_positions
from motion.resample import TARGET_FPS, resample_positions
from motion.rig_export import RIGS, export_rig
from motion.skeleton import INDEX, JOINTS


@pytest.fixture(scope="module")
def clips(dataset_sample) -> list[np.ndarray]:
    """Six dataset clips (several performers' skeletons) as canonical positions at 20 fps."""
    return [load_canonical(path).positions for path in dataset_sample[:6]]


def test_any_body_comes_back_as_the_same_motion_on_the_reference_body(clips):
    rng = np.random.default_rng(0)
    reference = np.array([reference_lengths()[name] for name in JOINTS[1:]])
    for p in clips:
        on_reference = to_reference(p)
        np.testing.assert_allclose(bone_lengths(on_reference), reference, atol=1e-6)
        assert list(fit([on_reference]).values()) == pytest.approx(reference.tolist(), abs=1e-5)
        for height in ((1.4, 1.45), (1.95, 2.0)):  # a child-sized and a tall body, proportions jittered
            other = aug.random_body(p, rng, height=height)
            assert np.abs(other - p).max() > 0.05
            np.testing.assert_allclose(to_reference(other), on_reference, atol=1e-6)


def test_a_rig_on_another_body_gives_the_features_of_the_original(clip, tmp_path):
    """A clip written as Mixamo, CMU and iClone export it, on their bodies (1.95, 1.75, 1.55 m, other proportions),
    and read back as the server reads a user's file has the features of the original on the reference body; on
    its own body it did not. What is left is the rigs' frame rates (60, 120 fps) resampled to 20 fps."""
    motion = read_bvh(clip)
    native = canonicalize(motion, fps=motion.fps)
    original = reference_features(resample_positions(native.positions, native.fps, TARGET_FPS))[0]
    spread = np.abs(original).max()
    for name, spec in RIGS.items():
        path = tmp_path / f"{name}.bvh"
        write_bvh(path, export_rig(native.positions, native.fps, spec))
        back = canonicalize(read_bvh(path)).positions
        own_body = reference_features(back)[0]
        assert own_body.shape == original.shape
        on_reference = np.abs(own_body - original).max() / spread
        as_read = np.abs(motion_features(back, TARGET_FPS) - original).max() / spread
        # measured: 0.04-0.1 % of the features' range on the reference body, 6-17 % as read
        assert on_reference < 0.005 and as_read > 10 * on_reference, (name, on_reference, as_read)


def test_a_bone_of_no_length_keeps_it(clips):
    p = clips[0].copy()
    p[:, INDEX["left_foot"]] = p[:, INDEX["left_ankle"]]  # a rig that maps two joints to one place
    q = to_reference(p)
    assert np.isfinite(q).all()
    np.testing.assert_allclose(q[:, INDEX["left_foot"]], q[:, INDEX["left_ankle"]], atol=1e-9)
    assert bone_lengths(q)[INDEX["left_foot"] - 1] < MIN_BONE


def test_the_mirror_is_taken_on_the_reference_body(clips):
    own, mirrored = reference_features(clips[1])
    np.testing.assert_allclose(own, motion_features(to_reference(clips[1]), TARGET_FPS))
    np.testing.assert_allclose(mirrored, motion_features(mirror_positions(to_reference(clips[1])), TARGET_FPS))
