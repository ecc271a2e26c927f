"""End-to-end server numbers over a real gRPC channel on loopback, in one run.

    python -m bench.server_latency [--bundle build/bundle] [--source DIR] [--queries 200] [--out FILE]

Starts the real server (``server.serve.build_server``) on 127.0.0.1 over a library indexed from
``--source`` (default ``$MOTIONSEARCH_DATASET``, else the demo library) and measures:

    ingest        motions/s of indexing the library (clip and mirror through the ONNX motion encoder)
    text          SearchText latency p50/p95/p99 (ms), client-side wall clock, over seeded captions (metadata
                  fusion on, as by default, when the bundle has a sentence graph); the same queries again
                  with fusion off (the learned ranking alone, as the server searched before fusion existed)
    speech        SearchSpeech latency of ~4 s utterances (WAV upload, decode, log-mel, encoder, search)
    stream        GetMotion BVH streaming throughput (MB/s) over every clip
    load          C concurrent clients x N mixed queries (text, speech, motion): errors, p50/p99, and the
                  RSS (server and clients share the process) after each tenth of the queries; stable = flat
                  over the second half
    stages        the share of a text query spent in the text encoder and in the index, for the ratios
    overlap       top-10 overlap of the two-stage search with exact Eq. 8 over the whole library (100 text queries)

Results go to ``bench/results/server_latency.json``. ``--smoke`` runs a few queries of each.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import soundfile as sf

from bench.common import write_result
from motionsearch.client import CHUNK
from motionsearch.v1 import motionsearch_pb2 as pb
from motionsearch.v1 import motionsearch_pb2_grpc as pb_grpc
from preprocess.captions import generate_captions
from server.encoders import Encoders
from server.fusion import DEFAULT
from server.index import SearchFilter, open_index
from server.library import Library
from server.serve import ROOT, build_server, source_clips
from server.service import Limits
from server.similarity import Similarity


def percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"n": len(a), "p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "p99": round(float(np.percentile(a, 99)), 2), "mean": round(float(a.mean()), 2)}  # fmt: skip


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def utterances(n: int, seed: int = 0) -> list[bytes]:
    """n WAV files by the test-only voices, about 4 s each: a spoken-style request followed by a description."""
    from dataset.speech import synthesize
    from dataset.voices import voices_for

    rng = random.Random(seed)
    voices = voices_for("test")
    out = []
    for i in range(n):
        content = rng.choice(["walk", "wave-left-hand", "run", "kick"])
        spoken, descriptive = (generate_captions(content, "normal", register, n=1, key=str(i))[0]
                               for register in ("spoken", "descriptive"))  # fmt: skip
        audio = synthesize(f"{spoken}, {descriptive}", voices[i % len(voices)])
        buffer = io.BytesIO()
        sf.write(buffer, audio, 16000, format="WAV")
        out.append(buffer.getvalue())
    return out


def speech_call(stub, wav: bytes):
    def requests():
        yield pb.SearchSpeechRequest(config=pb.AudioConfig(encoding=pb.AUDIO_ENCODING_FILE))
        for i in range(0, len(wav), CHUNK):
            yield pb.SearchSpeechRequest(chunk=wav[i : i + CHUNK])

    return stub.SearchSpeech(requests(), timeout=60)


def two_stage_overlap(index, queries: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean top-10 overlap of the index's two-stage search with exact Eq. 8 over every motion, for
    text queries as the server runs them (mirrors left out)."""
    flt = SearchFilter(include_mirrors=False)
    overlaps = []
    for tokens, weights in queries:
        exact = {h.id for h in index.search_exact(tokens, weights, top_k=10, filter=flt)}
        overlaps.append(len({h.id for h in index.search(tokens, weights, top_k=10, filter=flt)} & exact) / 10)
    return round(float(np.mean(overlaps)), 4)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.server_latency", description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "build" / "bundle")
    default_source = Path(os.environ.get("MOTIONSEARCH_DATASET") or ROOT / "data" / "demo")
    parser.add_argument("--source", type=Path, default=default_source)
    parser.add_argument("--library", type=Path, help="library folder (default: a fresh temporary one)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--speech", type=int, default=30)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=500)
    parser.add_argument("--smoke", action="store_true", help="a few queries of each kind")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.smoke:
        args.queries, args.speech, args.clients, args.per_client = 5, 2, 2, 3

    tmp = tempfile.TemporaryDirectory()
    folder = args.library or Path(tmp.name)
    encoders = Encoders.open(args.bundle)
    aggregation = Similarity.of(encoders.bundle).aggregation
    index = open_index(f"edge:{folder / 'index'}", encoders.dim, aggregation, meta_dim=encoders.sentence_dim)
    library = Library(folder, index, encoders)
    clips, _ = source_clips(args.source)
    start = time.perf_counter()
    report = library.ingest(clips)
    ingest_s = time.perf_counter() - start
    server, port = build_server(library, "127.0.0.1:0", Limits(), workers=args.clients + 4)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = pb_grpc.MotionSearchStub(channel)
    rng = random.Random(0)
    labels = [(c.metadata.content, c.metadata.style) for c in rng.choices(clips, k=args.queries)]
    texts = [generate_captions(content, style, rng.choice(["descriptive", "spoken"]), n=1, key=str(i))[0]
             for i, (content, style) in enumerate(labels)]  # fmt: skip

    stub.SearchText(pb.SearchTextRequest(text="warm up"))
    text_ms = [timed(lambda t=t: stub.SearchText(pb.SearchTextRequest(text=t), timeout=30)) for t in texts]
    unfused = pb.SearchOptions(fusion=pb.FUSION_MODE_OFF)
    unfused_ms = [timed(lambda t=t: stub.SearchText(pb.SearchTextRequest(text=t, options=unfused), timeout=30))
                  for t in texts]  # fmt: skip
    encode_ms = [timed(lambda t=t: encoders.encode_query(t)) for t in texts[:50]]
    query, meta = encoders.encode_query("a person walks")
    index_ms = [timed(lambda: library.index.search(*query, top_k=10)) for _ in range(50)]
    fused_ms = [timed(lambda: library.index.search(*query, top_k=10, meta=meta, fusion=DEFAULT)) for _ in range(50)]
    overlap = two_stage_overlap(library.index, [q for t in texts[:100] for q in encoders.encode_text([t])])

    wavs = utterances(args.speech)
    speech_ms = [timed(lambda w=w: speech_call(stub, w)) for w in wavs]
    seconds = [sf.info(io.BytesIO(w)).duration for w in wavs]

    ids = [c.id for c in clips if library.index.get(c.id) is not None]
    start, total = time.perf_counter(), 0
    for motion_id in ids:
        total += sum(len(c.data) for c in stub.GetMotion(pb.GetMotionRequest(id=motion_id)))
    stream_s = time.perf_counter() - start

    bvhs = [c.path.read_bytes() for c in clips[:20]]
    rss_before = rss_mib()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    planned = args.clients * args.per_client
    rss_by_tenth: list[float] = []

    def done() -> None:  # called under the lock after every query
        if (len(latencies) + len(errors)) * 10 >= planned * (len(rss_by_tenth) + 1):
            rss_by_tenth.append(round(rss_mib(), 1))

    def client(n: int) -> None:
        r = random.Random(n)
        local_stub = pb_grpc.MotionSearchStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        for _ in range(args.per_client):
            kind = r.choices(["text", "speech", "motion"], weights=[8, 1, 1])[0]
            try:
                if kind == "text":
                    ms = timed(lambda: local_stub.SearchText(pb.SearchTextRequest(text=r.choice(texts)), timeout=60))
                elif kind == "speech":
                    ms = timed(lambda: speech_call(local_stub, r.choice(wavs)))
                else:
                    ms = timed(lambda: local_stub.SearchMotion(pb.SearchMotionRequest(bvh=r.choice(bvhs)), timeout=60))
            except grpc.RpcError as error:
                with lock:
                    errors.append(f"{error.code().name}: {error.details()}")
                    done()
                continue
            with lock:
                latencies.append(ms)
                done()

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load_s = time.perf_counter() - start
    rss_after = rss_mib()
    motions = len(library)
    server.stop(None)
    channel.close()
    library.index.close()

    result = {
        "providers": encoders.providers,
        "library": {
            "source": str(args.source),
            "clips": len(clips),
            "motions": motions,
            "failed": len(report.failed),
        },  # fmt: skip
        "ingest_motions_per_s": round(2 * len(report.added) / ingest_s, 2) if report.added else None,
        "text_ms": percentiles(text_ms),
        "text_fusion": library.has_metadata,
        "text_unfused_ms": percentiles(unfused_ms),
        "text_stages_ms": {
            "encoder_p50": round(statistics.median(encode_ms), 2),
            "index_p50": round(statistics.median(index_ms), 2),
            "index_fused_p50": round(statistics.median(fused_ms), 2) if meta is not None else None,
        },  # fmt: skip
        "index_depth_prefetch_candidates": list(library.index.depth()),
        "text_top10_overlap_with_exact": overlap,
        "speech_ms": percentiles(speech_ms) | {"audio_seconds_mean": round(float(np.mean(seconds)), 2)},
        "stream_mb_per_s": round(total / 2**20 / stream_s, 2),
        "load": {
            "clients": args.clients,
            "queries_per_client": args.per_client,
            "errors": len(errors),
            "error_samples": errors[:5],
            "latency_ms": percentiles(latencies) if latencies else None,
            "queries_per_s": round(len(latencies) / load_s, 1),
            "rss_mib_before": round(rss_before, 1),
            "rss_mib_after": round(rss_after, 1),
            "rss_mib_by_tenth_of_queries": rss_by_tenth,
            "rss_growth_second_half_pct": round(100 * (rss_by_tenth[-1] / rss_by_tenth[4] - 1), 1)
            if len(rss_by_tenth) >= 10
            else None,
        },  # fmt: skip
    }
    path = write_result("server_latency", result, args.out)
    print(f"text p50 {result['text_ms']['p50']} ms, speech p50 {result['speech_ms']['p50']} ms, "
          f"load errors {len(errors)}, wrote {path}")  # fmt: skip
    tmp.cleanup()
    return result


if __name__ == "__main__":
    main()
