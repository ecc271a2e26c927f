"""BlazePose GHUM on ONNX Runtime, torch-free: RGB frames -> 33 metric world landmarks per frame.

The two MediaPipe models (``pose/models/``, converted once by ``pose.convert``) run as MediaPipe's pose
graph runs them (``pose_landmark_cpu`` with ``model_complexity=1``):

1. **Detection** (:meth:`PoseEstimator.detect`): the frame, letterboxed to a 224 x 224 square (zero border,
   values in -1..1), through the SSD detector; 2,254 anchors (strides 8, 16, 32 x 3) decode to boxes and four
   keypoints (hip centre, a point on the full-body circle, shoulder centre, a point on the upper-body
   circle); scores are sigmoids, kept at >= 0.5; weighted non-maximum suppression (IoU > 0.3 merged,
   weighted by score); the best person is kept.
2. **Region of interest** (:func:`roi_from_points`): centred on the hip centre, a square of 2 x the distance
   to the body-circle point, turned so that the hip -> body-circle vector points up, enlarged 1.25x.
3. **Landmarks** (:meth:`PoseEstimator.landmarks`): the rotated square cropped to 256 x 256 (bilinear,
   replicated border, values in 0..1) through the landmark model: 39 image landmarks (33 body + 6
   auxiliary), a pose presence score, and 39 world landmarks (metres, origin between the hips, image
   axes: x right, y down, z away from the camera) turned back by the region's rotation.
4. **Tracking** (:meth:`PoseEstimator.track`): the next frame's region comes from this frame's auxiliary
   landmarks 33 and 34 (as in step 2); detection runs again when the presence score drops below 0.5.

Parity with MediaPipe 0.10.14 itself (``tests/test_pose.py``, reference outputs recorded by
``pose.reference``): world landmarks within 1 cm.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

MODELS = Path(__file__).resolve().parent / "models"
DETECTOR_SIZE, LANDMARK_SIZE = 224, 256
N_LANDMARKS, N_ALL = 33, 39
MIN_DETECTION_SCORE, MIN_PRESENCE = 0.5, 0.5
NMS_IOU = 0.3
ROI_SCALE = 1.25
_SUBPIXEL = 32  # OpenCV's warp snaps sample points to 1/32 pixel (INTER_BITS = 5)


def ssd_anchors() -> np.ndarray:
    """(2254, 2) anchor centres (x, y) in 0..1 of the detector input (MediaPipe's SsdAnchorsCalculator with
    BlazePose's options: 5 layers, strides 8, 16, 32, 32, 32, one aspect ratio plus the interpolated one,
    fixed anchor size; layers of the same stride share a grid)."""
    strides = [8, 16, 32, 32, 32]
    centres, layer = [], 0
    while layer < len(strides):
        same = 0
        while layer + same < len(strides) and strides[layer + same] == strides[layer]:
            same += 1
        n = -(-DETECTOR_SIZE // strides[layer])
        y, x = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        grid = np.stack([x.ravel(), y.ravel()], 1)
        centres.append(np.repeat(grid, 2 * same, axis=0))
        layer += same
    return np.concatenate(centres).astype(np.float32)


_ANCHORS = ssd_anchors()


@dataclass(frozen=True)
class Roi:
    """A rotated square region of a frame, in pixels; ``rotation`` in radians (clockwise on screen)."""

    cx: float
    cy: float
    size: float
    rotation: float = 0.0

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """The region's unit x and y axes in frame pixels."""
        c, s = np.cos(self.rotation), np.sin(self.rotation)
        return np.array([c, s]), np.array([-s, c])

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) points in 0..1 of the region -> frame pixels."""
        ax, ay = self.axes()
        p = np.asarray(points, np.float64) - 0.5
        return np.array([self.cx, self.cy]) + self.size * (p[..., :1] * ax + p[..., 1:2] * ay)


@dataclass(frozen=True)
class Detection:
    score: float
    box: np.ndarray  # (4,) xmin, ymin, xmax, ymax in frame pixels
    keypoints: np.ndarray  # (4, 2) frame pixels


@dataclass(frozen=True)
class Landmarks:
    presence: float  # 0..1
    image: np.ndarray  # (39, 5) x, y (frame pixels), z (pixels, as the ROI), visibility, presence
    world: np.ndarray  # (33, 3) metres, origin between the hips, x right, y down, z away from the camera
    roi: Roi


@dataclass(frozen=True)
class PoseTrack:
    """One video's pose: ``world`` and ``visibility`` are NaN / 0 where no person was found."""

    world: np.ndarray  # (T, 33, 3)
    visibility: np.ndarray  # (T, 33)
    found: np.ndarray  # (T,) bool

    @property
    def n_found(self) -> int:
        return int(self.found.sum())


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, np.float64), -100.0, 100.0)))


def crop(frame: np.ndarray, roi: Roi, size: int, zero_border: bool) -> np.ndarray:
    """(size, size, 3) float32 0..255: ``roi`` of an (H, W, 3) uint8 frame, as MediaPipe's ImageToTensorCalculator
    crops it with OpenCV (``warpPerspective``, bilinear): output pixel u samples the frame at corner + u * (roi size /
    size), sample points snapped to 1/32 pixel, results rounded to whole values (the warp runs on uint8). The model
    is sensitive to these details: a crop that is off by a rounding moves world landmarks by up to a centimetre."""
    ax, ay = roi.axes()
    corner = np.array([roi.cx, roi.cy]) - roi.size / 2 * (ax + ay)
    steps = np.arange(size) * (roi.size / size)
    # sample points in 1/32 pixel units, as integers: (size, size) each
    px = np.round((corner[0] + steps[None, :] * ax[0] + steps[:, None] * ay[0]) * _SUBPIXEL).astype(np.int64)
    py = np.round((corner[1] + steps[None, :] * ax[1] + steps[:, None] * ay[1]) * _SUBPIXEL).astype(np.int64)
    x0, y0 = px // _SUBPIXEL, py // _SUBPIXEL  # floor, also left of and above the frame
    fx = ((px - x0 * _SUBPIXEL).astype(np.float32) / _SUBPIXEL)[..., None]
    fy = ((py - y0 * _SUBPIXEL).astype(np.float32) / _SUBPIXEL)[..., None]
    h, w = frame.shape[:2]
    flat = frame.reshape(-1, 3)
    xs = [np.clip(x0, 0, w - 1), np.clip(x0 + 1, 0, w - 1)]  # clipped indices = replicated border
    ys = [np.clip(y0, 0, h - 1) * w, np.clip(y0 + 1, 0, h - 1) * w]
    if zero_border:
        inside_x = [(x0 >= 0) & (x0 < w), (x0 + 1 >= 0) & (x0 + 1 < w)]
        inside_y = [(y0 >= 0) & (y0 < h), (y0 + 1 >= 0) & (y0 + 1 < h)]

    def tap(i: int, j: int) -> np.ndarray:
        value = flat[ys[i] + xs[j]].astype(np.float32)
        if zero_border:
            value *= (inside_y[i] & inside_x[j])[..., None]
        return value

    top = tap(0, 0) * (1 - fx) + tap(0, 1) * fx
    bottom = tap(1, 0) * (1 - fx) + tap(1, 1) * fx
    return np.floor(top * (1 - fy) + bottom * fy + 0.5)


def roi_from_points(centre: np.ndarray, edge: np.ndarray) -> Roi:
    """MediaPipe's AlignmentPointsRects (target 90 degrees) + RectTransformation (1.25x, square) in pixels."""
    size = 2.0 * float(np.hypot(*(edge - centre)))
    angle = np.pi / 2 - np.arctan2(-(edge[1] - centre[1]), edge[0] - centre[0])
    angle = angle - 2 * np.pi * np.floor((angle + np.pi) / (2 * np.pi))
    return Roi(float(centre[0]), float(centre[1]), size * ROI_SCALE, float(angle))


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray) -> list[Detection]:
    """MediaPipe's weighted non-maximum suppression: each best remaining box absorbs the boxes overlapping it
    by IoU > 0.3, its box and keypoints becoming their score-weighted mean (its own score kept)."""
    order = list(np.argsort(-scores, kind="stable"))
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    out = []
    while order:
        top = boxes[order[0]]
        rest = boxes[order]
        inter_w = np.clip(np.minimum(top[2], rest[:, 2]) - np.maximum(top[0], rest[:, 0]), 0, None)
        inter_h = np.clip(np.minimum(top[3], rest[:, 3]) - np.maximum(top[1], rest[:, 1]), 0, None)
        inter = inter_w * inter_h
        iou = inter / np.maximum(area[order[0]] + area[order] - inter, 1e-12)
        merged = [i for i, v in zip(order, iou) if v > NMS_IOU]
        order = [i for i, v in zip(order, iou) if v <= NMS_IOU]
        w = scores[merged] / scores[merged].sum()
        out.append(
            Detection(
                float(scores[merged[0]]),
                (boxes[merged] * w[:, None]).sum(0),
                (keypoints[merged] * w[:, None, None]).sum(0),
            )
        )
    return out


class PoseEstimator:
    """The detector and landmark model on ONNX Runtime; thread-safe (sessions are)."""

    def __init__(self, models: Path = MODELS, providers: list[str] | None = None, threads: int | None = None):
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        providers = providers or ["CPUExecutionProvider"]
        self.detector = ort.InferenceSession(str(models / "pose_detection.onnx"), options, providers=providers)
        self.landmarker = ort.InferenceSession(str(models / "pose_landmark_full.onnx"), options, providers=providers)

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """People in an (H, W, 3) uint8 RGB frame, best first (pixels)."""
        h, w = frame.shape[:2]
        roi = Roi(w / 2, h / 2, float(max(w, h)))
        x = crop(frame, roi, DETECTOR_SIZE, zero_border=True) / 127.5 - 1.0
        raw, logits = self.detector.run(["Identity", "Identity_1"], {"input_1": x[None].astype(np.float32)})
        scores = _sigmoid(logits[0, :, 0])
        keep = scores >= MIN_DETECTION_SCORE
        if not keep.any():
            return []
        raw, anchors = raw[0, keep].astype(np.float64) / DETECTOR_SIZE, _ANCHORS[keep]
        centre = raw[:, :2] + anchors
        boxes = np.concatenate([centre - raw[:, 2:4] / 2, centre + raw[:, 2:4] / 2], 1)
        keypoints = raw[:, 4:12].reshape(-1, 4, 2) + anchors[:, None]
        # letterbox square -> frame pixels (no rotation: the region is axis-aligned)
        boxes = roi.to_frame(boxes.reshape(-1, 2, 2)).reshape(-1, 4)
        return weighted_nms(scores[keep], boxes, roi.to_frame(keypoints))

    def landmarks(self, frame: np.ndarray, roi: Roi) -> Landmarks:
        """The landmark model on ``roi`` of an (H, W, 3) uint8 RGB frame."""
        x = crop(frame, roi, LANDMARK_SIZE, zero_border=False) / 255.0
        raw, presence, world = self.landmarker.run(
            ["Identity", "Identity_1", "Identity_4"], {"input_1": x[None].astype(np.float32)}
        )
        raw = raw[0].reshape(N_ALL, 5).astype(np.float64)
        image = np.empty_like(raw)
        image[:, :2] = roi.to_frame(raw[:, :2] / LANDMARK_SIZE)
        image[:, 2] = raw[:, 2] / LANDMARK_SIZE * roi.size
        image[:, 3:] = _sigmoid(raw[:, 3:])
        world = world[0].reshape(N_ALL, 3)[:N_LANDMARKS].astype(np.float64)
        c, s = np.cos(roi.rotation), np.sin(roi.rotation)
        world = np.stack([c * world[:, 0] - s * world[:, 1], s * world[:, 0] + c * world[:, 1], world[:, 2]], 1)
        return Landmarks(float(presence.ravel()[0]), image, world, roi)

    def estimate(self, frame: np.ndarray, roi: Roi | None = None) -> Landmarks | None:
        """One frame's landmarks: in ``roi`` when given (tracking), else around the best detection; None when
        no person is detected or the landmark model's presence score is below 0.5."""
        if roi is None:
            detections = self.detect(frame)
            if not detections:
                return None
            roi = roi_from_points(detections[0].keypoints[0], detections[0].keypoints[1])
        found = self.landmarks(frame, roi)
        return found if found.presence >= MIN_PRESENCE else None

    def track(self, frames) -> PoseTrack:
        """Landmarks of each frame of an iterable of (H, W, 3) uint8 RGB frames, tracking the region from frame to
        frame and detecting again when the person is lost (see the module docstring)."""
        worlds, vis, found = [], [], []
        roi = None
        for frame in frames:
            result = self.estimate(frame, roi)
            if result is None and roi is not None:
                result = self.estimate(frame)  # lost while tracking: detect in this same frame
            if result is None:
                roi = None
                worlds.append(np.full((N_LANDMARKS, 3), np.nan))
                vis.append(np.zeros(N_LANDMARKS))
                found.append(False)
                continue
            roi = roi_from_points(result.image[33, :2], result.image[34, :2])
            worlds.append(result.world)
            vis.append(result.image[:N_LANDMARKS, 3])
            found.append(True)
        if not worlds:
            raise ValueError("no frames")
        return PoseTrack(np.stack(worlds), np.stack(vis), np.array(found))
