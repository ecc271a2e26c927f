"""Record MediaPipe's own BlazePose outputs on sample frames, the parity fixture of ``tests/test_pose.py``.

Runs in the throwaway venv of ``pose.convert`` (mediapipe==0.10.14), from the repository root::

    /tmp/mpvenv/bin/python -m pose.reference tests/fixtures/pose

Every ``*.png`` of the folder goes through ``mediapipe.solutions.pose.Pose(static_image_mode=True,
model_complexity=1)`` (detection then landmarks on each frame, no smoothing); ``reference.npz`` gets, per
frame in name order, the 33 world landmarks (metres), the 33 image landmarks (pixels) and whether a
person was found.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    import mediapipe as mp
    from PIL import Image

    folder = Path((argv or sys.argv[1:])[0])
    names = sorted(p.name for p in folder.glob("*.png"))
    world = np.full((len(names), 33, 3), np.nan, np.float32)
    image = np.full((len(names), 33, 2), np.nan, np.float32)
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=False) as pose:
        for i, name in enumerate(names):
            frame = np.asarray(Image.open(folder / name).convert("RGB"))
            result = pose.process(frame)
            if result.pose_world_landmarks is None:
                print(f"{name}: no person")
                continue
            world[i] = [[p.x, p.y, p.z] for p in result.pose_world_landmarks.landmark]
            h, w = frame.shape[:2]
            image[i] = [[p.x * w, p.y * h] for p in result.pose_landmarks.landmark]
            print(f"{name}: found")
    np.savez_compressed(
        folder / "reference.npz",
        names=np.array(names),
        world=world,
        image=image,
        found=np.isfinite(world[:, 0, 0]),
        mediapipe=np.array(mp.__version__),
    )
    print(f"wrote {folder / 'reference.npz'} ({len(names)} frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
