"""The pose front end: BlazePose on ONNX Runtime against MediaPipe's own outputs, and landmarks -> motion."""

from __future__ import annotations

import io
from pathlib import Path

import grpc
import numpy as np
import pytest
from PIL import Image

from motion.bvh import write_bvh
from motion.canonical import load_canonical
from motion.canonical_bvh import positions_bvh
from motion.features import motion_features
from motion.render import framing_camera, render_frames
from motion.skeleton import INDEX
from motionsearch.v1 import motionsearch_pb2 as pb
from motionsearch.v1 import motionsearch_pb2_grpc as pb_grpc
from pose.blazepose import PoseEstimator, ssd_anchors
from pose.video import video_motion

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


def test_frames_analysed_at_10_fps_within_the_encoder_window():
    from pose.video import frame_indices

    indices, rate = frame_indices(90, 30.0)  # a 3 s clip at 30 fps: every third frame
    assert rate == 10.0 and indices.tolist() == list(range(0, 90, 3))
    indices, rate = frame_indices(600, 30.0, max_seconds=9.8)  # 20 s: only its centre 9.8 s (+ a step)
    assert rate == 10.0 and 99 <= len(indices) <= 100 and abs((indices[0] + indices[-1]) / 2 - 300) <= 3
    assert frame_indices(5, 6.0)[0].tolist() == [0, 1, 2, 3, 4]  # slower than 10 fps: every frame
    with pytest.raises(ValueError):
        frame_indices(10, float("nan"))


# landmarks -> the canonical skeleton


def _landmarks_of(positions: np.ndarray) -> np.ndarray:
    """MediaPipe-like world landmarks (hip-centred, camera axes) standing where canonical joints are."""
    from pose import skeleton as sk

    world = np.zeros((len(positions), 33, 3))
    places = {sk.L_HIP: "left_hip", sk.R_HIP: "right_hip", sk.L_KNEE: "left_knee", sk.R_KNEE: "right_knee",
              sk.L_ANKLE: "left_ankle", sk.R_ANKLE: "right_ankle", sk.L_HEEL: "left_ankle", sk.R_HEEL: "right_ankle",
              sk.L_FOOT: "left_foot", sk.R_FOOT: "right_foot", sk.L_SHOULDER: "left_shoulder",
              sk.R_SHOULDER: "right_shoulder", sk.L_ELBOW: "left_elbow", sk.R_ELBOW: "right_elbow",
              sk.L_WRIST: "left_wrist", sk.R_WRIST: "right_wrist", sk.L_EAR: "head", sk.R_EAR: "head",
              sk.NOSE: "head"}  # fmt: skip
    for landmark, joint in places.items():
        world[:, landmark] = positions[:, INDEX[joint]]
    world -= (world[:, [sk.L_HIP]] + world[:, [sk.R_HIP]]) / 2
    return world * np.array([1.0, -1.0, -1.0])


def test_landmarks_become_the_canonical_skeleton(demo_clips):
    from motion.body import reference_lengths
    from pose.skeleton import track_positions

    clip = next(p for p in demo_clips if "walk_not-confident" in p.name)
    truth = load_canonical(clip).positions
    world = _landmarks_of(truth)[::2]  # 10 fps, as a video is analysed
    found = np.ones(len(world), bool)
    found[3] = False  # a frame without a person is filled in
    world[3] = np.nan
    positions = track_positions(world, found, 10.0)
    assert positions.shape[1:] == (22, 3) and abs(len(positions) - len(truth)) <= 2 and np.isfinite(positions).all()
    lengths = reference_lengths()
    knee = np.linalg.norm(positions[:, INDEX["left_knee"]] - positions[:, INDEX["left_hip"]], axis=1)
    assert np.allclose(knee, lengths["left_knee"], atol=1e-6)  # the reference body's proportions
    # placed as every motion: facing +Z at frame 0 with the left side on +X, feet on the floor
    first = positions[0]
    assert first[INDEX["left_hip"], 0] > first[INDEX["right_hip"], 0]
    assert first[INDEX["head"], 1] > 1.2 and abs(positions[..., 1].min()) < 1e-6
    # foot locking recovers the walk: forward (+Z), about as far as the recorded clip goes
    travelled, recorded = positions[-1, 0, [0, 2]], truth[-1, 0, [0, 2]] - truth[0, 0, [0, 2]]
    assert travelled[1] > 0.5 and 0.6 < np.linalg.norm(travelled) / np.linalg.norm(recorded) < 1.4
    features = motion_features(positions, 20.0)
    assert features.shape[1] == 263 and np.isfinite(features).all()


def test_frames_read_from_the_wrong_side_are_turned_back(demo_clips):
    """A frame BlazePose reads as facing the other way (depth reflected, left and right swapped) is put back in
    line with its neighbours; the clip's majority reading stays, and a clean clip is left as it is."""
    from pose.skeleton import reflect_depth, track_positions, unflip

    clip = next(p for p in demo_clips if "walk_not-confident" in p.name)
    world = _landmarks_of(load_canonical(clip).positions)[::2]
    found = np.ones(len(world), bool)
    np.testing.assert_array_equal(unflip(world, found), world)
    misread = world.copy()
    misread[[4, 9, 10]] = reflect_depth(world[[4, 9, 10]])
    assert not np.allclose(misread[4], world[4])
    np.testing.assert_allclose(unflip(misread, found), world, atol=1e-12)
    np.testing.assert_allclose(track_positions(misread, found, 10.0), track_positions(world, found, 10.0), atol=1e-9)
    # read from the wrong side throughout but for two frames: those two follow the rest
    mostly = reflect_depth(world)
    mostly[[2, 3]] = world[[2, 3]]
    np.testing.assert_allclose(unflip(mostly, found), reflect_depth(world), atol=1e-12)
    # frames without a person are skipped over, not compared with
    gap = misread.copy()
    gap[5], found[5] = np.nan, False
    fixed = unflip(gap, found)
    np.testing.assert_allclose(np.delete(fixed, 5, axis=0), np.delete(world, 5, axis=0), atol=1e-12)


def test_no_person_anywhere_is_an_error():
    from pose.skeleton import track_positions

    with pytest.raises(ValueError, match="no person"):
        track_positions(np.full((4, 33, 3), np.nan), np.zeros(4, bool), 10.0)


def test_pose_bvh_round_trips_through_the_motion_layer(demo_clips, tmp_path):
    truth = load_canonical(demo_clips[3]).positions
    write_bvh(tmp_path / "pose.bvh", positions_bvh(truth, 20.0))
    back = load_canonical(tmp_path / "pose.bvh")
    assert back.rig == "smpl" and np.abs(back.positions - truth).max() < 1e-4


# SearchVideo through pose, on a live server


def _render(clip: Path, yaw: float = 0.0, fps: float = 10.0, size: int = 256) -> np.ndarray:
    joints = load_canonical(clip).positions
    n = int(round((len(joints) - 1) / 20.0 * fps)) + 1
    return render_frames(joints, 20.0, n, size, seed=1, camera=framing_camera(joints, 20.0, yaw=yaw, elevation=10))


def _requests(frames, fps: float, top_k: int = 10):
    config = pb.VideoConfig(kind=pb.VideoConfig.KIND_IMAGE_FRAMES, fps=fps, options=pb.SearchOptions(top_k=top_k))
    yield pb.SearchVideoRequest(config=config)
    for frame in frames:
        out = io.BytesIO()
        Image.fromarray(frame).save(out, format="JPEG", quality=90)
        yield pb.SearchVideoRequest(chunk=out.getvalue())


@pytest.fixture(scope="module")
def stub(server_address):
    with grpc.insecure_channel(server_address) as channel:
        yield pb_grpc.MotionSearchStub(channel)


def test_search_video_is_a_pose_encoder_search_of_the_pose(stub, served_library, demo_clips, tmp_path):
    """SearchVideo (pose path) scores each motion by Eq. 8 of the shipped bundle's pose encoder tokens of the motion
    pose.video sees in the same frames against its stored windows: the pose encoder (a motion encoder tuned to
    video-estimated motion) is in use, not the motion encoder SearchMotion uses."""
    from server.similarity import eq8

    encoders = served_library.encoders
    assert encoders.has_pose_encoder, "the shipped release carries its pose encoder (model/weights/default/pose)"
    clip = next(p for p in demo_clips if "raise-up-left-hand" in p.name)
    requests = list(_requests(_render(clip), fps=10.0))
    by_video = stub.SearchVideo(iter(requests)).hits
    frames = [np.asarray(Image.open(io.BytesIO(r.chunk)).convert("RGB")) for r in requests[1:]]
    video = video_motion(PoseEstimator(), frames, len(frames), fps=10.0)
    assert video.track.found.all()
    q, a = encoders.encode_pose_motion(video.features)
    windows: dict[str, list] = {}
    for r in served_library.index.windows():
        windows.setdefault(r.id, []).append(r)
    assert len(by_video) == 10 and [h.score for h in by_video] == sorted((h.score for h in by_video), reverse=True)
    for hit in by_video:  # each motion's score: Eq. 8 of the pose encoder's tokens against its best stored window
        best = max(eq8(q, a, r.tokens, r.weights, "max") for r in windows[hit.motion.id])
        assert hit.score == pytest.approx(best, abs=1e-4)
    write_bvh(tmp_path / "pose.bvh", positions_bvh(video.positions, 20.0))
    by_motion = stub.SearchMotion(pb.SearchMotionRequest(bvh=(tmp_path / "pose.bvh").read_bytes())).hits
    motion_scores = {h.motion.id: h.score for h in by_motion}
    assert any(abs(h.score - motion_scores.get(h.motion.id, 0.0)) > 1e-3 for h in by_video)


def test_search_video_without_a_person_is_invalid(stub):
    sky = np.zeros((6, 96, 128, 3), np.uint8)
    sky[:] = (150, 180, 220)
    with pytest.raises(grpc.RpcError) as error:
        stub.SearchVideo(_requests(sky, fps=10.0))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no person was found" in error.value.details()


def test_the_frame_encoder_is_still_selectable(library_server, demo_clips):
    from server.service import Limits

    _, address = library_server(4, Limits(), video_encoder="frames")
    sky = np.zeros((6, 96, 128, 3), np.uint8)  # the frame encoder embeds any picture
    with grpc.insecure_channel(address) as channel:
        assert len(pb_grpc.MotionSearchStub(channel).SearchVideo(_requests(sky, fps=10.0, top_k=3)).hits) == 3


def test_client_saves_the_pose_as_bvh(server_address, demo_clips, tmp_path, capsys):
    from server.client import main as client_main

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(_render(demo_clips[0], fps=10.0, size=192)):
        Image.fromarray(frame).save(folder / f"{i:03d}.png")
    out = tmp_path / "pose.bvh"
    assert client_main(["--address", server_address, "video", str(folder), "--top", "3", "--save-pose", str(out)]) == 0
    assert "saved" in capsys.readouterr().out
    saved = load_canonical(out)
    assert saved.n_frames > 10 and np.isfinite(saved.positions).all()
