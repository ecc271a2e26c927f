"""The dataset's rendered video: frames of the mannequin (``motion.render``) stored per item, and a contact sheet.

Storage: one JPEG per item with the frames side by side (quality 90, Pillow's
default 4:2:0 chroma). Measured by ``python -m bench.render_throughput`` on the
32 demo clips (16 frames of 160 px, 2-core machine): JPEG strip 70 kB per item,
4 ms to write, 4.9 ms to load, mean abs error 1.5 grey levels; lossless
``np.savez_compressed`` 85 kB, 15 ms to write, 3.4 ms to load; raw ``.npy``
1,200 kB (PNG strip 79 kB / 9 ms load; lossless WebP 51-70 kB but 22-200 ms to
write). JPEG wins: the smallest of the fast formats (about 430 MB for the 6,150
items), cheap to write inside the build, and a 1.5-level loss is invisible on
shaded shapes and harmless for training, whose colour jitter and blur are far
larger, and whose real queries are lossy videos anyway. ``save_frames`` picks
the format from the suffix, so ``.npz`` stays available where lossless matters.

    python -m dataset.render sheet --source data/demo --out sheet.png [--clips 8] [--seed 0]
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from motion.render import Camera, Look, render_frames, sample_camera, sample_look

__all__ = ["Camera", "Look", "contact_sheet", "load_frames", "render_frames", "sample_camera", "sample_look",
           "save_frames"]  # fmt: skip
JPEG_QUALITY = 90


def save_frames(path: Path, frames: np.ndarray, quality: int = JPEG_QUALITY) -> None:
    """Write (n, size, size, 3) uint8 frames atomically: ``.npz`` as compressed numpy (lossless), any other
    suffix (``.jpg``, the dataset's) as one JPEG with the frames side by side; see the module docstring."""
    from common.files import write_atomic

    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[1] != frames.shape[2] or frames.shape[3] != 3:
        raise ValueError(f"expected (n, size, size, 3) frames, got {frames.shape}")
    buffer = io.BytesIO()
    if Path(path).suffix == ".npz":
        np.savez_compressed(buffer, frames=frames)
    else:
        Image.fromarray(np.concatenate(list(frames), axis=1)).save(buffer, format="JPEG", quality=quality)
    write_atomic(Path(path), buffer.getvalue())


def load_frames(path: Path) -> np.ndarray:
    """(n, size, size, 3) uint8 frames written by :func:`save_frames`."""
    if Path(path).suffix == ".npz":
        with np.load(path) as stored:
            return stored["frames"]
    with Image.open(path) as image:
        strip = np.asarray(image.convert("RGB"))
    size = strip.shape[0]
    if strip.shape[1] % size:
        raise ValueError(f"{path}: a {strip.shape[1]}x{size} strip is not a row of square frames")
    return np.ascontiguousarray(strip.reshape(size, -1, size, 3).transpose(1, 0, 2, 3))


def contact_sheet(stacks: list[np.ndarray], labels: list[str], path: Path, frames_per_row: int = 6) -> None:
    """A PNG grid: one row per clip (``frames_per_row`` frames spread over it), its label on the left."""
    if not stacks or len(stacks) != len(labels):
        raise ValueError("need one label per frame stack, and at least one stack")
    size = max(s.shape[1] for s in stacks)
    label_width = 220
    sheet = Image.new("RGB", (label_width + frames_per_row * size, len(stacks) * size), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (stack, label) in enumerate(zip(stacks, labels)):
        picks = np.linspace(0, len(stack) - 1, frames_per_row).round().astype(int)
        for col, i in enumerate(picks):
            sheet.paste(Image.fromarray(stack[i]), (label_width + col * size, row * size))
        draw.text((6, row * size + size // 2 - 12), label.replace("_", "\n", 2), fill="black")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def _pick_clips(sources: list[Path], n: int) -> list[Path]:
    paths: list[Path] = []
    for source in sources:
        paths += sorted(source.rglob("*.bvh")) if source.is_dir() else [source]
    if len(paths) <= n:
        return paths
    return [paths[i] for i in np.linspace(0, len(paths) - 1, n).round().astype(int)]


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from motion.canonical import load_canonical

    parser = argparse.ArgumentParser(prog="python -m dataset.render", description="render motions as video frames")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sheet", help="a contact sheet PNG of rendered frames from several clips")
    s.add_argument(
        "--source",
        type=Path,
        nargs="+",
        default=[Path(__file__).resolve().parents[1] / "data" / "demo"],
        help="BVH files and/or folders (default: data/demo)",
    )
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--clips", type=int, default=8, help="how many clips, spread over the sorted sources")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--size", type=int, default=160)
    args = parser.parse_args(argv)
    paths = _pick_clips(args.source, args.clips)
    if not paths:
        parser.error(f"no .bvh files in {[str(p) for p in args.source]}")
    stacks = [
        render_frames(load_canonical(p).positions, size=args.size, seed=args.seed + i)
        for i, p in enumerate(tqdm(paths, desc="render", unit="clip", disable=len(paths) < 4))
    ]
    contact_sheet(stacks, [p.stem for p in paths], args.out)
    print(f"wrote {args.out} ({len(stacks)} clips)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
