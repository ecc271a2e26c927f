"""A small command-line client for scripts: ``python -m server.client search "wave with the left hand"``.

    python -m server.client search TEXT [--top 5] [--save DIR] [--content C] [--style S] [--tag T] [--folder F]
                                   [--fusion on|off] [--fusion-weight W]
    python -m server.client speech FILE.wav|FILE.flac [--top 5] [--save DIR]
    python -m server.client motion FILE.bvh [--top 5]
    python -m server.client video FILE.mp4|FRAMES_DIR [--top 5] [--save-pose POSE.bvh]
    python -m server.client similar ID [--top 5]
    python -m server.client get ID [--out FILE] [--fps 30] [--start S] [--end E] [--in-place] [--mirror]
    python -m server.client preview ID [--start S] [--end E] [--out DIR]
    python -m server.client list [--page-size 20]
    python -m server.client ingest PATH... [--content C] [--style S] [--source NAME] [--licence L] [--rig map.json]
    python -m server.client delete ID...

``--save DIR`` writes each hit's BVH to ``DIR/RANK_ID.bvh`` (the part of a long take that matched:
the hit's time range) and its preview beside it: ``RANK_ID.webp`` (animated) and ``RANK_ID.png``
(a strip of frames). ``preview`` writes ``ID.webp`` and ``ID.png``. ``ingest`` uploads BVH files and
every ``*.bvh`` under the folders given (recursive), in batches. ``video`` decodes a video file with
PyAV (a well-kept FFmpeg binding that installs from wheels) or reads a folder of JPEG/PNG frames,
and sends at most 64 frames sampled uniformly, scaled to 320 px on the long side. ``--save-pose`` also
runs the server's pose front end (``pose.video``) here on the frames sent and writes the body's motion as a
BVH file on the canonical skeleton. The address comes
from ``--address`` (default 127.0.0.1:50051) and a token from ``--token`` or
``$MOTIONSEARCH_TOKEN``. Every error is one line with the server's status and message, never a
traceback.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import grpc
import numpy as np
from PIL import Image

from motionsearch.client import Client
from motionsearch.v1 import motionsearch_pb2 as pb


def print_hits(response: pb.SearchResponse) -> None:
    if response.transcript:
        print(f"heard: {response.transcript}")
    print(f"{len(response.hits)} of {response.library_size} motions ({response.server_ms:.1f} ms on the server)")
    for hit in response.hits:
        m = hit.motion
        span = f"{hit.start_seconds:.1f}-{hit.end_seconds:.1f} s of {m.seconds:.1f} s" if is_part(hit) else ""
        print(f"{hit.rank:>3}. {hit.score:.3f}  {m.id:<48} {m.content}/{m.style}  {span or f'{m.seconds:.1f} s'}  "
              f"{m.caption}")  # fmt: skip


def is_part(hit: pb.SearchHit) -> bool:
    """Whether the hit is a part of a long take (its best window) rather than the whole clip."""
    return hit.start_seconds > 0.01 or hit.end_seconds < hit.motion.seconds - 0.01


def save(folder: Path, name: str, files: dict[str, bytes]) -> None:
    """``FOLDER/NAME.SUFFIX`` for each suffix (ids may hold dots: no ``with_suffix``)."""
    for suffix, data in files.items():
        path = folder / f"{name}.{suffix}"
        path.write_bytes(data)
        print(f"saved {path}")


def preview_files(preview: pb.Preview) -> dict[str, bytes]:
    return {"webp": preview.animation, "png": preview.strip}


def save_hits(client: Client, response: pb.SearchResponse, folder: Path) -> None:
    """Each hit's BVH (its time range when it is part of a take) and its preview."""
    folder.mkdir(parents=True, exist_ok=True)
    for hit in response.hits:
        span = {"start_seconds": hit.start_seconds, "end_seconds": hit.end_seconds} if is_part(hit) else {}
        preview = client.get_preview(hit.motion.id, hit.start_seconds, hit.end_seconds)
        save(folder, f"{hit.rank:02d}_{hit.motion.id}",
             {"bvh": client.get_motion(hit.motion.id, **span), **preview_files(preview)})  # fmt: skip


VIDEO_FRAMES, VIDEO_SIDE, INGEST_BATCH = 64, 320, 16
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def bvh_files(paths: list[Path]) -> list[Path]:
    """The BVH files named and every ``*.bvh`` under the folders named, sorted, each once."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() == ".bvh" and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return list(dict.fromkeys(files))


def _jpeg(image: Image.Image) -> bytes:
    image = image.convert("RGB")
    image.thumbnail((VIDEO_SIDE, VIDEO_SIDE))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def video_frames(path: Path) -> tuple[list[bytes], float]:
    """At most ``VIDEO_FRAMES`` frames of a video file or a folder of images, sampled uniformly, as JPEG."""
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise FileNotFoundError(f"{path}: no JPEG or PNG frames in the folder")
        keep = np.unique(np.linspace(0, len(images) - 1, min(len(images), VIDEO_FRAMES)).round().astype(int))
        frames = []
        for i in keep:
            with Image.open(images[i]) as image:
                frames.append(_jpeg(image))
        return frames, 0.0
    import av  # only this command needs it

    try:  # two passes (count, then keep the sampled frames): memory holds the sample, not the video
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or 0)
            total = sum(1 for _ in container.decode(stream))
        if not total:
            raise OSError(f"{path}: the video has no frames")
        keep = set(np.linspace(0, total - 1, min(total, VIDEO_FRAMES)).round().astype(int).tolist())
        with av.open(str(path)) as container:
            frames = [_jpeg(f.to_image()) for i, f in enumerate(container.decode(video=0)) if i in keep]
    except (av.error.FFmpegError, IndexError) as error:
        raise OSError(f"{path}: not a readable video ({error})") from None
    return frames, fps * len(frames) / total


def save_pose(frames: list[bytes], fps: float, out: Path) -> int:
    """The body's motion in ``frames`` (JPEG) as a BVH file on the canonical skeleton (``pose.video``)."""
    from motion.bvh import write_bvh
    from motion.canonical_bvh import positions_bvh
    from motion.resample import TARGET_FPS
    from pose.blazepose import PoseEstimator
    from pose.video import DEFAULT_FPS, video_motion

    def frame(i: int) -> np.ndarray:
        with Image.open(io.BytesIO(frames[i])) as image:
            return np.asarray(image.convert("RGB"))

    try:
        video = video_motion(PoseEstimator(), frame, len(frames), fps or DEFAULT_FPS)
    except ValueError as error:
        print(f"error: --save-pose: {error}", file=sys.stderr)
        return 1
    write_bvh(out, positions_bvh(video.positions, TARGET_FPS, source=str(out)))
    print(f"saved {out}: {len(video.positions)} frames at {TARGET_FPS:g} fps, a person in {video.track.n_found} "
          f"of {len(video.track.found)} frames analysed")  # fmt: skip
    return 0


def ingest(client: Client, paths: list[Path], metadata: dict) -> int:
    """Upload in batches of ``INGEST_BATCH`` files; prints what was added, unchanged and failed. Exit 1 on failures."""
    from tqdm import tqdm

    files = bvh_files(paths)
    if not files:
        raise FileNotFoundError("no .bvh files under " + ", ".join(map(str, paths)))
    added = unchanged = 0
    failed: dict[str, str] = {}
    with tqdm(total=len(files), unit="clip", desc="ingest") as bar:
        for i in range(0, len(files), INGEST_BATCH):
            batch = files[i : i + INGEST_BATCH]
            report = client.ingest(batch, **metadata)
            added += len(report.added)
            unchanged += len(report.unchanged)
            failed.update(report.failed)
            bar.update(len(batch))
    for name, reason in sorted(failed.items()):
        print(f"failed: {name}: {reason}", file=sys.stderr)
    print(f"{added} added, {unchanged} unchanged, {len(failed)} failed, of {len(files)} files")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.client", description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="127.0.0.1:50051")
    parser.add_argument("--token", default=os.environ.get("MOTIONSEARCH_TOKEN"))
    parser.add_argument("--timeout", type=float, default=30.0)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, arg in (("search", "text"), ("speech", "file"), ("motion", "file"), ("video", "file"), ("similar", "id")):
        sub = commands.add_parser(name)
        sub.add_argument(arg)
        sub.add_argument("--top", type=int, default=10)
        sub.add_argument("--content", action="append", default=[])
        sub.add_argument("--style", action="append", default=[])
        sub.add_argument("--mirrors", action="store_true", help="include mirrored copies")
        sub.add_argument("--tag", action="append", default=[], help="only motions with one of these tags")
        sub.add_argument("--folder", default="", help="only motions in this folder of the library (or below)")
        sub.add_argument("--fusion", choices=("on", "off"), help="rank metadata beside the learned similarity "
                         "(text; default: on when the library has metadata)")  # fmt: skip
        sub.add_argument("--fusion-weight", type=float, default=0.0, help="the metadata's share, 0..1")
        sub.add_argument("--save", type=Path, help="write the hits' BVH files here")
        if name == "video":
            sub.add_argument("--save-pose", type=Path, help="write the body pose seen in the video as BVH")
    get = commands.add_parser("get")
    get.add_argument("id")
    get.add_argument("--out", type=Path)
    get.add_argument("--fps", type=float, default=0.0)
    get.add_argument("--in-place", action="store_true")
    get.add_argument("--mirror", action="store_true")
    preview = commands.add_parser("preview")
    preview.add_argument("id")
    preview.add_argument("--out", type=Path, default=Path("."), help="folder for ID.webp and ID.png")
    for sub in (get, preview):
        sub.add_argument("--start", type=float, default=0.0, help="from this second (a hit's start)")
        sub.add_argument("--end", type=float, default=0.0, help="to this second (0: the end)")
    listing = commands.add_parser("list")
    listing.add_argument("--page-size", type=int, default=20)
    listing.add_argument("--page-token", default="")
    upload = commands.add_parser("ingest", help="add BVH files and folders (recursive) to the library")
    upload.add_argument("paths", nargs="+", type=Path)
    for field in ("content", "style", "source", "licence"):
        upload.add_argument(f"--{field}", default="")
    upload.add_argument("--rig", type=Path, help="a rig map (JSON) for a rig not recognised by joint names")
    delete = commands.add_parser("delete", help="remove motions by id")
    delete.add_argument("ids", nargs="+")
    args = parser.parse_args(argv)

    client = Client(args.address, args.token, args.timeout)
    try:
        if args.command in ("search", "speech", "motion", "video", "similar"):
            frames = video_frames(Path(args.file)) if args.command == "video" else None
            fusion = {"on": pb.FUSION_MODE_ON, "off": pb.FUSION_MODE_OFF}.get(args.fusion, pb.FUSION_MODE_UNSPECIFIED)
            options = pb.SearchOptions(top_k=args.top, include_mirrors=args.mirrors, fusion=fusion,
                                       fusion_weight=args.fusion_weight,
                                       filter=pb.Filter(contents=args.content, styles=args.style, tags=args.tag,
                                                        folder=args.folder))  # fmt: skip
            search = {"search": lambda: client.search_text(args.text, options),
                      "speech": lambda: client.search_speech(Path(args.file), options),
                      "motion": lambda: client.search_motion(Path(args.file), options),
                      "video": lambda: client.search_frames(*frames, options=options),
                      "similar": lambda: client.similar(args.id, options)}[args.command]  # fmt: skip
            response = search()
            print_hits(response)
            if args.save:
                save_hits(client, response, args.save)
            if frames and args.save_pose:
                return save_pose(*frames, args.save_pose)
        elif args.command == "get":
            data = client.get_motion(args.id, fps=args.fps, in_place=args.in_place, mirror=args.mirror,
                                     start_seconds=args.start, end_seconds=args.end)  # fmt: skip
            out = args.out or Path(f"{args.id}.bvh")
            out.write_bytes(data)
            print(f"saved {out} ({len(data):,} bytes)")
        elif args.command == "ingest":
            metadata = {f: getattr(args, f) for f in ("content", "style", "source", "licence")}
            if args.rig:
                metadata["rig_json"] = args.rig.read_text()
            return ingest(client, args.paths, metadata)
        elif args.command == "delete":
            result = client.delete(args.ids)
            print(f"{result.deleted} deleted" + (f"; not found: {', '.join(result.not_found)}" if result.not_found
                                                  else ""))  # fmt: skip
            return 1 if result.not_found else 0
        elif args.command == "preview":
            args.out.mkdir(parents=True, exist_ok=True)
            save(args.out, args.id, preview_files(client.get_preview(args.id, args.start, args.end)))
        else:
            page = client.list_motions(args.page_size, args.page_token)
            for m in page.motions:
                print(f"{m.id:<48} {m.content}/{m.style}  {m.seconds:.1f} s")
            print(f"{len(page.motions)} of {page.total}" + (f"; next page: --page-token {page.next_page_token}"
                                                           if page.next_page_token else ""))  # fmt: skip
    except grpc.RpcError as error:
        print(f"error: {error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
