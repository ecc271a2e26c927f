"""Run the motionsearch gRPC server: ``python -m server.serve`` (no flags needed).

With no flags it serves the shipped default model (``model/weights/default``, exported once
to an ONNX bundle under ``build/bundle``, scored with the similarity recorded in it) over the
BVH files under ``--source DIR`` (any folder, any rig the motion layer maps, ``--rig`` for
others), else ``$MOTIONSEARCH_DATASET`` (the Bandai Namco dataset folder), else the committed
demo library ``data/demo``. Every start syncs the library with that folder (new and changed
files encoded with a progress bar, deleted ones removed; unreadable files logged and listed in
``ingest-report.json``) under ``build/library/<model digest>-<index layout>``, so a new model
never searches stale embeddings. It binds
127.0.0.1:50051, logs the address, the ONNX Runtime providers really in use and the
library size, serves gRPC health checking and reflection, and on SIGTERM or Ctrl-C stops
taking calls and drains the ones in flight.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from threadpoolctl import threadpool_limits

from common.files import write_atomic
from exporter.bundle import POSE, SENTENCE, Bundle, BundleError, release_sha256
from motion.rigs import RigError, RigMap
from motion.sources import folder_clips
from motionsearch.v1 import motionsearch_pb2 as pb
from motionsearch.v1 import motionsearch_pb2_grpc as pb_grpc
from preprocess.asr import ASRError, Transcriber, model_path, search_prompt
from server.auth import TokenAuth, check_exposure
from server.encoders import Encoders
from server.index import INDEX_LAYOUT, open_index
from server.library import ClipInfo, IngestReport, Library
from server.limits import Limits
from server.service import VIDEO_ENCODERS, MotionSearchServicer
from server.similarity import Similarity

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUN = ROOT / "model" / "weights" / "default"
DATASET_ENV = "MOTIONSEARCH_DATASET"
REPORT = "ingest-report.json"
ASR_THREADS = 2  # Whisper's CPU threads per transcription, as bench/spoken.py measures its latency
SERVICE = pb.DESCRIPTOR.services_by_name["MotionSearch"].full_name
log = logging.getLogger("motionsearch.server")


def ensure_bundle(bundle: Path, run: Path) -> Path:
    """The ONNX bundle, exported from ``run`` first if it is missing or from other weights (needs torch)."""
    wanted, wanted_pose = release_sha256(run), release_sha256(run / POSE)  # the release's, its pose encoder's
    if (bundle / "manifest.json").exists():
        manifest = json.loads((bundle / "manifest.json").read_text())
        model = manifest.get("model", {})
        same = model.get("weights_sha256") == wanted and model.get("pose_sha256") == wanted_pose
        if wanted is None or (same and SENTENCE in manifest.get("graphs", {})):
            return bundle
        log.info("the bundle %s is from other weights than %s or has no sentence graph: exporting again", bundle, run)
    if not (run / "model.safetensors").exists() and not (run / "checkpoints").exists():
        raise SystemExit(f"no ONNX bundle at {bundle} and no trained model at {run} to export it from")
    log.info("exporting %s to the ONNX bundle %s (once)", run, bundle)
    result = subprocess.run([sys.executable, "-m", "exporter", "--run", str(run), "--out", str(bundle)])
    if result.returncode:
        raise SystemExit(f"exporting the model failed (exit {result.returncode}): the exporter's error is above; "
                         f"or pass --bundle DIR with an exported bundle")  # fmt: skip
    return bundle


def source_clips(folder: Path, rig: RigMap | None = None) -> tuple[list[ClipInfo], dict[str, str]]:
    """Every BVH clip under ``folder`` with its metadata (``motion.sources.folder_clips``: any rig, the Bandai
    Namco layout with its labels, sidecars), mapped with ``rig`` where given; and the metadata files that
    could not be read (path -> reason)."""
    clips, problems = folder_clips(folder)
    return [ClipInfo(c.path, c.id, c.metadata, rig) for c in clips], problems


def index_source(library: Library, folder: Path, rig: RigMap | None = None, progress: bool = True) -> IngestReport:
    """Sync ``library`` with the BVH folder ``folder`` (``Library.sync``); every clip that could not be indexed
    and every unreadable metadata file is logged with its reason and listed in ``LIBRARY/ingest-report.json``."""
    clips, problems = source_clips(folder, rig)
    report = library.sync(clips, folder, progress)
    for path, reason in problems.items():
        log.warning("metadata of %s ignored: %s", path, reason)
    for path, reason in report.failed.items():
        log.warning("not indexed: %s: %s", path, reason)
    summary = {"source": str(folder.resolve()), **report.to_dict(), "unreadable_metadata": problems}
    write_atomic(library.folder / REPORT, json.dumps(summary, indent=1).encode())
    return report


def build_server(
    library: Library,
    address: str,
    limits: Limits,
    workers: int = 16,
    token: str | None = None,
    tls: tuple[bytes, bytes] | None = None,
    max_message_mb: int = 16,
    asr: Transcriber | None = None,
    video_encoder: str = "pose",
) -> tuple[grpc.Server, int]:
    """A started-ready (not started) server with the service, health and reflection; returns it and its port.
    With ``asr`` spoken queries are transcribed too and the transcript's ranking fused in (see load_asr).

    BLAS is limited to one thread for the process: the index rescoring's matrix products are small
    and run on up to ``workers`` request threads at once, where BLAS's own threads only contend with
    them and with ONNX Runtime (measured: index p50 8.4 -> 4.7 ms on 2 cores). Client-streaming calls
    may hold at most half the workers (``Limits.max_client_streams``), so unary calls and health checks
    always find a free thread.
    """
    threadpool_limits(1, user_api="blas")
    limits = dataclasses.replace(limits, max_client_streams=min(limits.max_client_streams, max(1, workers // 2)))
    options = [("grpc.max_receive_message_length", max_message_mb * 2**20),
               ("grpc.max_send_message_length", max_message_mb * 2**20)]  # fmt: skip
    interceptors = [TokenAuth(token)] if token else []
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=options, interceptors=interceptors)
    servicer = MotionSearchServicer(library, limits, asr=asr, video_encoder=video_encoder)
    pb_grpc.add_MotionSearchServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in (SERVICE, ""):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    server.health = health_servicer  # for the drain on shutdown
    reflection.enable_server_reflection((SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    credentials = grpc.ssl_server_credentials([tls]) if tls else None
    port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    if not port:
        raise SystemExit(f"cannot bind {address}")
    return server, port


def load_asr(enabled: bool = True) -> Transcriber | None:
    """Whisper tiny.en, loaded now (not at the first spoken query), or None with the reason logged: spoken
    search is then the end-to-end speech encoder alone. Off unless asked for (``--asr``): it lifts spoken
    free-form queries' top 5 by 24 points but adds most of a second per query on 2 cores, far over the
    150 ms speech latency bar (docs/server.md, *Spoken queries*)."""
    if not enabled:
        log.info("speech recognition off (start with --asr to fuse a Whisper transcript): spoken search is "
                 "end-to-end speech only")  # fmt: skip
        return None
    try:
        asr = Transcriber(threads=ASR_THREADS, prompt=search_prompt()).load()
    except ASRError as error:
        log.warning("speech recognition unavailable (%s): spoken search is end-to-end speech only", error)
        return None
    log.info("speech recognition: Whisper tiny.en (faster-whisper, %s); spoken search fuses its transcript",
             model_path().parent.name)  # fmt: skip
    return asr


def open_library(bundle: Bundle, encoders: Encoders, folder: Path, index_spec: str | None) -> Library:
    """The library of ``bundle``'s model under ``folder``, scored with the similarity the model was trained
    with (:class:`BundleError` for one this server cannot serve)."""
    similarity = Similarity.of(bundle)
    folder = folder / f"{bundle.digest[:16]}-{INDEX_LAYOUT}"  # a new model or index layout starts afresh
    index = open_index(
        index_spec or f"edge:{folder / 'index'}", bundle.dim, similarity.aggregation, encoders.sentence_dim
    )
    return Library(folder, index, encoders)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.serve", description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="127.0.0.1:50051", help="host:port (default loopback only)")
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN, help="trained model to export when --bundle is absent")
    parser.add_argument("--bundle", type=Path, default=ROOT / "build" / "bundle")
    parser.add_argument("--library", type=Path, default=ROOT / "build" / "library", help="library folder")
    parser.add_argument("--index", help="edge:PATH (default, embedded), qdrant:URL?collection=NAME, qdrant-local:PATH")
    parser.add_argument("--source", type=Path, help=f"BVH folder to index, recursively, any rig the motion layer "
                        f"maps (default ${DATASET_ENV}, else data/demo)")  # fmt: skip
    parser.add_argument("--rig", type=Path, help="rig map JSON for the source's clips (see docs/motion.md)")
    parser.add_argument("--token", default=os.environ.get("MOTIONSEARCH_TOKEN"), help="require this bearer token")
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument("--insecure", action="store_true", help="allow a non-loopback --address without --token")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--max-message-mb", type=int, default=16)
    parser.add_argument("--grace", type=float, default=10.0, help="seconds to drain in-flight calls on shutdown")
    parser.add_argument("--asr", action="store_true", help="fuse a Whisper transcript into spoken search (better "
                        "ranking, ~0.5-1 s more per spoken query on 2 cores; needs the cpu extra)")  # fmt: skip
    parser.add_argument(
        "--video-encoder",
        choices=VIDEO_ENCODERS,
        default="pose",
        help="SearchVideo through body pose and the motion encoder (default) or the frame encoder",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("TLS needs both --tls-cert and --tls-key")
    check_exposure(args.address, args.token, bool(args.tls_cert), args.insecure)

    try:
        rig = RigMap.from_file(args.rig) if args.rig else None
    except RigError as error:
        parser.error(str(error))
    source = args.source or Path(os.environ.get(DATASET_ENV) or ROOT / "data" / "demo")
    if not source.is_dir():
        parser.error(f"the source {source} is not a folder")
    try:
        bundle = Bundle.load(ensure_bundle(args.bundle, args.run))
        encoders = Encoders.open(bundle.path)
        library = open_library(bundle, encoders, args.library, args.index)
    except BundleError as error:
        raise SystemExit(f"cannot serve the bundle: {error}") from None
    log.info("model %s (epoch %s, Eq. 8 %s aggregation), ONNX Runtime providers in use: %s", bundle.model.get("name"),
             bundle.model.get("epoch"), library.index.aggregation, ", ".join(encoders.providers))  # fmt: skip
    report = index_source(library, source, rig)
    log.info("library: %d motions (%d clips new, %d unchanged, %d removed, %d failed: see %s) from %s", len(library),
             len(report.added), len(report.unchanged), len(report.removed), len(report.failed),
             library.folder / REPORT, source)  # fmt: skip
    if not os.environ.get(DATASET_ENV) and not args.source:
        log.info("this is the demo library; for the full Bandai Namco dataset (3,076 clips) set %s to its folder "
                 "(see README) and restart", DATASET_ENV)  # fmt: skip

    tls = (args.tls_key.read_bytes(), args.tls_cert.read_bytes()) if args.tls_cert else None
    asr = load_asr(args.asr)
    server, port = build_server(library, args.address, Limits(), args.workers, args.token, tls, args.max_message_mb,
                                asr, args.video_encoder)  # fmt: skip
    server.start()
    host = args.address.rsplit(":", 1)[0]
    log.info("serving motionsearch.v1 on %s:%d%s%s", host, port, " (TLS)" if tls else "",
             " (token required)" if args.token else "")  # fmt: skip

    stopping = threading.Event()

    def stop(signum, frame):
        if stopping.is_set():
            return
        stopping.set()
        log.info("draining in-flight calls (up to %.0f s)", args.grace)
        server.health.enter_graceful_shutdown()
        threading.Thread(target=lambda: server.stop(args.grace).wait(), daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.wait_for_termination()
    library.index.close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
