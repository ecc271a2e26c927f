"""BVH files in and out: a validated reader and a writer on top of bvhio.

bvhio parses the HIERARCHY block and writes files; the MOTION block is read
here with numpy, which is faster and lets every frame be checked. bvhio alone
hangs on a truncated file and silently accepts NaN or short frame lines, so
the text is checked first and every problem raises :class:`BvhError` naming
the file, the line or frame, and what is wrong.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import bvhio
import numpy as np
from pyglm import glm
from scipy.spatial.transform import Rotation

POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
VALID_CHANNELS = frozenset(POSITION_CHANNELS + ROTATION_CHANNELS)
MAX_DEPTH = 200  # joints nested deeper than this are refused (a humanoid needs about 15)
MIN_FRAME_TIME, MAX_FRAME_TIME = 1e-5, 60.0  # seconds per frame: 100 kHz down to one frame a minute


class BvhError(ValueError):
    """A BVH file that cannot be used, with the reason in words."""

    def __init__(self, path: str | Path, message: str):
        super().__init__(f"{path}: {message}")
        self.path = str(path)
        self.reason = message


@dataclass(frozen=True)
class Skeleton:
    """The joint tree of a BVH file, in file (depth-first) order."""

    names: tuple[str, ...]
    parents: tuple[int, ...]  # index of each joint's parent, -1 for the root
    offsets: np.ndarray  # (J, 3) rest offsets from the parent, file units
    channels: tuple[tuple[str, ...], ...]  # channel names per joint
    end_sites: np.ndarray  # (J, 3) end-site offset, zeros where none

    @property
    def n_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def children(self, joint: int) -> list[int]:
        return [j for j, p in enumerate(self.parents) if p == joint]

    @property
    def channel_starts(self) -> np.ndarray:
        """Column of each joint's first channel in the motion matrix."""
        sizes = [len(c) for c in self.channels]
        return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)

    @property
    def n_channels(self) -> int:
        return sum(len(c) for c in self.channels)


@dataclass
class BvhMotion:
    """A skeleton and its motion: one row of raw channel values per frame."""

    skeleton: Skeleton
    frame_time: float  # seconds per frame
    values: np.ndarray  # (F, C) channel values in file order, degrees for rotations
    source: str = field(default="")

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def n_frames(self) -> int:
        return self.values.shape[0]

    def local_pose(self) -> tuple[np.ndarray, Rotation]:
        """Per-joint local translation (F, J, 3) and rotation (F*J, row-major).

        A joint without position channels sits at its rest offset; a joint
        without rotation channels keeps the identity rotation.
        """
        sk = self.skeleton
        n_frames, n_joints = self.n_frames, sk.n_joints
        translation = np.broadcast_to(sk.offsets, (n_frames, n_joints, 3)).copy()
        euler = np.zeros((n_frames, n_joints, 3))
        orders: list[str] = []
        for j, (start, chans) in enumerate(zip(sk.channel_starts, sk.channels)):
            order = ""
            for k, name in enumerate(chans):
                axis = "XYZ".index(name[0])
                if name in POSITION_CHANNELS:
                    translation[:, j, axis] = self.values[:, start + k]
                else:
                    euler[:, j, len(order)] = self.values[:, start + k]
                    order += name[0]
            orders.append(order)
        quats = np.empty((n_frames, n_joints, 4))
        quats[...] = (0.0, 0.0, 0.0, 1.0)
        for j, order in enumerate(orders):
            if order:
                rot = Rotation.from_euler(order, euler[:, j, : len(order)], degrees=True)
                quats[:, j] = rot.as_quat()
        return translation, Rotation.from_quat(quats.reshape(-1, 4))

    def with_local_pose(
        self, translation: np.ndarray, rotation: Rotation, frame_time: float | None = None
    ) -> BvhMotion:
        """A new motion on the same skeleton from local translations and rotations.

        ``rotation`` is row-major (F*J); angles are written in each joint's own
        channel order, translations into its position channels.
        """
        sk = self.skeleton
        n_frames = translation.shape[0]
        mats = rotation.as_matrix().reshape(n_frames, sk.n_joints, 3, 3)
        values = np.zeros((n_frames, sk.n_channels))
        for j, (start, chans) in enumerate(zip(sk.channel_starts, sk.channels)):
            order = "".join(c[0] for c in chans if c in ROTATION_CHANNELS)
            angles = Rotation.from_matrix(mats[:, j]).as_euler(order, degrees=True) if order else None
            for k, name in enumerate(chans):
                if name in POSITION_CHANNELS:
                    values[:, start + k] = translation[:, j, "XYZ".index(name[0])]
                else:
                    values[:, start + k] = angles[:, order.index(name[0])]
        return BvhMotion(sk, frame_time or self.frame_time, values, self.source)


def read_bvh(path: str | Path) -> BvhMotion:
    """Read and validate a BVH file; raise :class:`BvhError` on any defect."""
    path = Path(path)
    if not path.is_file():
        raise BvhError(path, "no such file")
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError as err:
        raise BvhError(path, f"not a text file ({err.reason} at byte {err.start})") from None
    lines = text.splitlines()
    skeleton, motion_line = _read_hierarchy(path, text, lines)
    frame_time, values = _read_motion(path, lines, motion_line, skeleton)
    return BvhMotion(skeleton, frame_time, values, str(path))


def _read_hierarchy(path: Path, text: str, lines: list[str]) -> tuple[Skeleton, int]:
    tokens = text.split(maxsplit=1)
    if not tokens:
        raise BvhError(path, "empty file")
    if tokens[0] != "HIERARCHY":
        raise BvhError(path, f"not a BVH file: it must start with HIERARCHY, found {tokens[0][:40]!r}")
    motion_line = next((i for i, line in enumerate(lines) if line.strip() == "MOTION"), None)
    if motion_line is None:
        raise BvhError(path, "truncated: no MOTION section (the file ends inside the hierarchy)")
    head = "\n".join(lines[:motion_line])
    if head.count("{") != head.count("}"):
        raise BvhError(path, f"malformed hierarchy: {head.count('{')} '{{' but {head.count('}')} '}}'")
    depth = max(itertools.accumulate(1 if c == "{" else -1 for c in head if c in "{}"), default=0)
    if depth > MAX_DEPTH:  # bvhio and the joint walk below recurse once per level
        raise BvhError(path, f"the hierarchy is nested {depth} levels deep; at most {MAX_DEPTH} are read")
    # bvhio loops forever at end of file, so it only sees text that reaches MOTION.
    try:
        root = bvhio.readAsBvh(str(path), loadKeyFrames=False).Root
    except SyntaxError as err:
        where = f"line {err.args[1][1]}: " if len(err.args) > 1 and isinstance(err.args[1], tuple) else ""
        raise BvhError(path, f"{where}{err.args[0]}") from None
    except (IndexError, ValueError, TypeError, AttributeError, RecursionError) as err:
        raise BvhError(path, f"malformed hierarchy ({type(err).__name__}: {str(err)[:100]})") from None

    names, parents, offsets, channels, end_sites = [], [], [], [], []

    def visit(joint: bvhio.BvhJoint, parent: int) -> None:
        index = len(names)
        names.append(joint.Name)
        parents.append(parent)
        offsets.append(tuple(joint.Offset))
        channels.append(tuple(joint.Channels))
        end_sites.append(tuple(joint.EndSite) if not joint.Children else (0.0, 0.0, 0.0))
        for child in joint.Children:
            visit(child, index)

    visit(root, -1)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise BvhError(path, f"duplicate joint names: {', '.join(dup)}")
    for name, chans in zip(names, channels):
        bad = [c for c in chans if c not in VALID_CHANNELS]
        if bad:
            raise BvhError(path, f"joint {name!r} has unknown channel(s) {bad}")
        if len(set(chans)) != len(chans):
            raise BvhError(path, f"joint {name!r} repeats a channel: {list(chans)}")
    if not np.all(np.isfinite(offsets)):
        raise BvhError(path, "non-finite OFFSET in the hierarchy")
    skeleton = Skeleton(
        names=tuple(names),
        parents=tuple(parents),
        offsets=np.asarray(offsets, dtype=np.float64),
        channels=tuple(channels),
        end_sites=np.asarray(end_sites, dtype=np.float64),
    )
    return skeleton, motion_line


def _read_motion(path: Path, lines: list[str], motion_line: int, skeleton: Skeleton) -> tuple[float, np.ndarray]:
    rest = [(i, line.strip()) for i, line in enumerate(lines[motion_line + 1 :], start=motion_line + 2) if line.strip()]
    if len(rest) < 2 or not rest[0][1].startswith("Frames:") or not rest[1][1].startswith("Frame Time:"):
        raise BvhError(path, "truncated or malformed MOTION header: expected 'Frames: N' and 'Frame Time: T'")
    try:
        n_frames = int(rest[0][1].split(":", 1)[1])
        frame_time = float(rest[1][1].split(":", 1)[1])
    except ValueError:
        raise BvhError(path, f"line {rest[0][0]}: frame count and frame time must be numbers") from None
    if not math.isfinite(frame_time) or not MIN_FRAME_TIME <= frame_time <= MAX_FRAME_TIME:
        raise BvhError(path, f"line {rest[1][0]}: frame time must be a positive number of seconds from "
                             f"{MIN_FRAME_TIME:g} to {MAX_FRAME_TIME:g}, got {frame_time:g}")  # fmt: skip
    frames = rest[2:]
    if n_frames <= 0 or not frames:
        raise BvhError(path, "empty motion: the file has no frames")
    if len(frames) < n_frames:
        raise BvhError(path, f"truncated: the header declares {n_frames} frames but the file has {len(frames)}")
    if len(frames) > n_frames:
        raise BvhError(path, f"the header declares {n_frames} frames but the file has {len(frames)} frame lines")
    n_channels = skeleton.n_channels
    for f, (line_no, line) in enumerate(frames):
        count = len(line.split())
        if count != n_channels:
            raise BvhError(
                path,
                f"line {line_no} (frame {f}): wrong channel count: {count} values, the hierarchy declares {n_channels}",
            )
    # One parse of the whole block (8 bytes per value, no Python object per value); only on an error is
    # it parsed again line by line, to name the line.
    try:
        values = _numbers("\n".join(line for _, line in frames)).reshape(n_frames, n_channels)
    except ValueError:
        f = next((f for f, (_, line) in enumerate(frames) if not _parses(line, n_channels)), 0)
        raise BvhError(path, f"line {frames[f][0]} (frame {f}): non-numeric value in the motion data") from None
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        f, c = bad[0]
        joint = int(np.searchsorted(skeleton.channel_starts, c, side="right") - 1)
        channel = skeleton.channels[joint][c - skeleton.channel_starts[joint]]
        raise BvhError(
            path,
            f"line {frames[f][0]} (frame {f}): non-finite value {values[f, c]} in {skeleton.names[joint]} {channel}"
            f" ({len(bad)} non-finite values in all)",
        )
    return frame_time, values


def _numbers(text: str) -> np.ndarray:
    with warnings.catch_warnings():  # older numpy warns and stops at the first non-number, newer raises
        warnings.simplefilter("error", DeprecationWarning)
        try:
            return np.fromstring(text, dtype=np.float64, sep=" ")
        except DeprecationWarning:
            raise ValueError("non-numeric value") from None


def _parses(line: str, n_values: int) -> bool:
    try:
        return _numbers(line).size == n_values
    except ValueError:
        return False


def write_bvh(path: str | Path, motion: BvhMotion, precision: int = 6) -> None:
    """Write a motion as BVH through bvhio, keeping the skeleton and channel layout."""
    sk = motion.skeleton
    translation, rotation = motion.local_pose()
    quats = rotation.as_quat().reshape(motion.n_frames, sk.n_joints, 4)  # x, y, z, w
    joints: list[bvhio.BvhJoint] = []
    for j, name in enumerate(sk.names):
        joint = bvhio.BvhJoint(name, glm.vec3(*sk.offsets[j]))
        joint.Channels = list(sk.channels[j])
        joint.EndSite = glm.vec3(*sk.end_sites[j])
        joint.Keyframes = [
            bvhio.Pose(glm.vec3(*t), glm.quat(q[3], q[0], q[1], q[2]))
            for t, q in zip(translation[:, j].tolist(), quats[:, j].tolist())
        ]
        joints.append(joint)
        if sk.parents[j] >= 0:
            joints[sk.parents[j]].Children.append(joint)
    container = bvhio.BvhContainer(joints[0], motion.n_frames, motion.frame_time)
    bvhio.writeBvh(str(path), container, percision=precision)
