"""The pose front end: BlazePose on ONNX Runtime against MediaPipe's own outputs, and landmarks -> motion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pose.blazepose import PoseEstimator, ssd_anchors

FIXTURES = Path(__file__).parent / "fixtures" / "pose"


@pytest.fixture(scope="module")
def estimator() -> PoseEstimator:
    return PoseEstimator()


def _frame(name: str) -> np.ndarray:
    return np.asarray(Image.open(FIXTURES / name).convert("RGB"))


def test_anchors_match_the_detector_output():
    anchors = ssd_anchors()
    assert anchors.shape == (2254, 2)
    assert np.allclose(anchors[0], [0.5 / 28, 0.5 / 28]) and np.allclose(anchors[-1], [6.5 / 7, 6.5 / 7])


def test_world_landmarks_match_mediapipe_within_1cm(estimator):
    """reference.npz: mediapipe 0.10.14's pose_world_landmarks on each frame (static mode), from pose.reference."""
    ref = np.load(FIXTURES / "reference.npz")
    assert len(ref["names"]) >= 10 and ref["found"].sum() >= 10
    worst = 0.0
    for name, world, found in zip(ref["names"], ref["world"], ref["found"]):
        result = estimator.estimate(_frame(str(name)))
        assert (result is not None) == bool(found), name
        if found:
            error = np.linalg.norm(result.world - world, axis=1)
            worst = max(worst, float(error.max()))
            assert error.max() < 0.01, f"{name}: landmark off by {error.max() * 100:.2f} cm"
    assert worst > 0  # really compared


def test_tracking_follows_the_person_across_frames(estimator):
    frame = _frame("render_side.png")
    track = estimator.track([frame, frame, np.zeros_like(frame), frame])
    assert track.found.tolist() == [True, True, False, True]
    assert np.isnan(track.world[2]).all() and np.isfinite(track.world[[0, 1, 3]]).all()
    # tracked from the previous frame's landmarks: the same pose as detected afresh, to within 10 cm
    assert np.abs(track.world[1] - track.world[0]).max() < 0.1
