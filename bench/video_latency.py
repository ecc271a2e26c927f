"""SearchVideo latency on a live loopback server: a 3 s clip (90 frames at 30 fps), pose path and frame encoder.

    python -m bench.video_latency [--bundle build/bundle] [--source data/demo] [--calls 20] [--size 320]

The clip is a demo motion rendered at 30 fps, each frame a JPEG of ``--size`` pixels (the client scales
videos to 320 px), sent as one SearchVideo stream with ``fps=30``; the pose path analyses every third frame
(10 fps, ``pose.video``), the frame encoder its 16 sampled frames. A server per encoder (``--video-encoder``),
over the same library. Writes ``bench/results/video_latency.json``: p50/p95/p99 of the whole call (upload,
decoding, encoding, search) per encoder.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np
from PIL import Image

from bench.common import write_result
from bench.server_latency import percentiles
from motion.canonical import load_canonical
from motion.render import framing_camera, render_frames
from motionsearch.v1 import motionsearch_pb2 as pb
from motionsearch.v1 import motionsearch_pb2_grpc as pb_grpc
from server.encoders import Encoders
from server.index import open_index
from server.library import Library
from server.limits import Limits
from server.serve import build_server, source_clips

ROOT = Path(__file__).resolve().parents[1]
FPS, SECONDS = 30.0, 3.0


def clip_jpegs(source: Path, size: int) -> list[bytes]:
    """90 JPEG frames: the first walking clip of ``source``, its first 3 s at 30 fps, seen from 30 degrees."""
    path = next(p for p in sorted(source.rglob("*.bvh")) if "walk" in p.name)
    joints = load_canonical(path).positions[: int(SECONDS * 20) + 1]
    frames = render_frames(joints, 20.0, int(SECONDS * FPS), size, seed=0, camera=framing_camera(joints, yaw=30.0))
    out = []
    for frame in frames:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.video_latency", description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "build" / "bundle")
    parser.add_argument("--source", type=Path, default=ROOT / "data" / "demo", help="library clips (default: demo)")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    jpegs = clip_jpegs(args.source, args.size)
    config = pb.VideoConfig(kind=pb.VideoConfig.KIND_IMAGE_FRAMES, fps=FPS, options=pb.SearchOptions(top_k=10))

    def requests():
        yield pb.SearchVideoRequest(config=config)
        for chunk in jpegs:
            yield pb.SearchVideoRequest(chunk=chunk)

    result = {"clip": {"frames": len(jpegs), "fps": FPS,
              "size": args.size, "kb": round(sum(map(len, jpegs)) / 1024, 1)}, "calls": args.calls}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        encoders = Encoders.open(args.bundle)
        library = Library(Path(tmp), open_index(f"edge:{Path(tmp) / 'index'}", encoders.dim), encoders)
        library.ingest(source_clips(args.source)[0], progress=False)
        result["library_motions"] = len(library)
        for encoder in ("pose", "frames"):
            server, port = build_server(library, "127.0.0.1:0", Limits(), workers=4, video_encoder=encoder)
            server.start()
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = pb_grpc.MotionSearchStub(channel)
                stub.SearchVideo(requests(), timeout=60)  # warm up
                ms = []
                for _ in range(args.calls):
                    start = time.perf_counter()
                    stub.SearchVideo(requests(), timeout=60)
                    ms.append(1000 * (time.perf_counter() - start))
            server.stop(None)
            result[f"{encoder}_ms"] = percentiles(ms)
            print(f"{encoder}: p50 {np.median(ms):.0f} ms")
        library.index.close()
    write_result("video_latency", result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
