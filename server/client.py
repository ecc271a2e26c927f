"""A small command-line client for scripts: ``python -m server.client search "wave with the left hand"``.

    python -m server.client search TEXT [--top 5] [--save DIR] [--content C] [--style S] [--tag T] [--folder F]
                                   [--fusion on|off] [--fusion-weight W]
    python -m server.client speech FILE.wav|FILE.flac [--top 5] [--save DIR]
    python -m server.client motion FILE.bvh [--top 5]
    python -m server.client get ID [--out FILE] [--fps 30] [--in-place] [--mirror]
    python -m server.client list [--page-size 20]

``--save DIR`` writes each hit's BVH to ``DIR/RANK_ID.bvh``. The address comes from
``--address`` (default 127.0.0.1:50051) and a token from ``--token`` or
``$MOTIONSEARCH_TOKEN``. Errors print the server's status and message, not a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import grpc

from motionsearch.client import Client
from motionsearch.v1 import motionsearch_pb2 as pb


def print_hits(response: pb.SearchResponse) -> None:
    print(f"{len(response.hits)} of {response.library_size} motions ({response.server_ms:.1f} ms on the server)")
    for hit in response.hits:
        m = hit.motion
        print(f"{hit.rank:>3}. {hit.score:.3f}  {m.id:<48} {m.content}/{m.style}  {m.seconds:.1f} s  {m.caption}")


def save_hits(client: Client, response: pb.SearchResponse, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for hit in response.hits:
        path = folder / f"{hit.rank:02d}_{hit.motion.id}.bvh"
        path.write_bytes(client.get_motion(hit.motion.id))
        print(f"saved {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.client", description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="127.0.0.1:50051")
    parser.add_argument("--token", default=os.environ.get("MOTIONSEARCH_TOKEN"))
    parser.add_argument("--timeout", type=float, default=30.0)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, arg in (("search", "text"), ("speech", "file"), ("motion", "file")):
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
    get = commands.add_parser("get")
    get.add_argument("id")
    get.add_argument("--out", type=Path)
    get.add_argument("--fps", type=float, default=0.0)
    get.add_argument("--in-place", action="store_true")
    get.add_argument("--mirror", action="store_true")
    listing = commands.add_parser("list")
    listing.add_argument("--page-size", type=int, default=20)
    listing.add_argument("--page-token", default="")
    args = parser.parse_args(argv)

    client = Client(args.address, args.token, args.timeout)
    try:
        if args.command in ("search", "speech", "motion"):
            fusion = {"on": pb.FUSION_MODE_ON, "off": pb.FUSION_MODE_OFF}.get(args.fusion, pb.FUSION_MODE_UNSPECIFIED)
            options = pb.SearchOptions(top_k=args.top, include_mirrors=args.mirrors, fusion=fusion,
                                       fusion_weight=args.fusion_weight,
                                       filter=pb.Filter(contents=args.content, styles=args.style, tags=args.tag,
                                                        folder=args.folder))  # fmt: skip
            search = {"search": lambda: client.search_text(args.text, options),
                      "speech": lambda: client.search_speech(Path(args.file), options),
                      "motion": lambda: client.search_motion(Path(args.file), options)}[args.command]  # fmt: skip
            response = search()
            print_hits(response)
            if args.save:
                save_hits(client, response, args.save)
        elif args.command == "get":
            data = client.get_motion(args.id, fps=args.fps, in_place=args.in_place, mirror=args.mirror)
            out = args.out or Path(f"{args.id}.bvh")
            out.write_bytes(data)
            print(f"saved {out} ({len(data):,} bytes)")
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
