"""Two-stage index search over compressed tokens against exact float32 Eq. 8, side by side in one run.

    python -m bench.index_search [--motions 100000] [--tokens 104] [--dim 128] [--queries 50] [--index DIR]
    python -m bench.index_search --real [--source DIR] [--bundle build/bundle]

Synthetic (default): a library of motions (tokens scattered around per-motion centres; 104 tokens of
128 dims is the default model's 8 body parts x 13 time steps) generated in chunks from a seed, so a
library of any size streams through memory once: each chunk is upserted into a fresh Qdrant Edge
index (``server.index``: the pooled vector in the shard, the tokens as 16-bit integer codes, or
``--bits 8``, in the token store) and, in the same pass, scored exactly with float32 Eq. 8 against
every query at once (the running top 11 kept per query). Queries are text-like: 16 noisy tokens of
one motion. Then, for the same queries, the index's two-stage search (an exact scan of the float16
pooled vectors -> exact Eq. 8 rescoring of the compressed tokens of the prefetched points) at several
prefetch depths, the index's default among them. Reports p50/p95 latency, the mean top-10 overlap
against exact float32, the median score gap between exact ranks 10 and 11 (how close to a tie the
10th place is), the exact pass's cost per query (amortised: every query at once, both cores), ingest
motions/s (the upserts alone), the optimizer's time, RSS (the process holds the index as the server
does, nothing else) and disk bytes per motion. ``--index DIR`` keeps the index and the exact top 11
there and reuses both on the next run (same library and queries; an exact top 11 put in an empty
folder saves the exact pass of a new index).

The centres are independent, so apart from its own motion a query's exact top 10 are near-ties:
the hardest case for a first stage and for rounding, where real libraries (takes, styles, mirrors)
cluster.

``--real``: the library of ``--source`` (default ``$MOTIONSEARCH_DATASET``) indexed as the server
indexes it (every window, mirrors) into a fresh folder while its float32 tokens are kept in memory,
and the free-form queries of ``eval/queries.jsonl`` encoded by the text graph: how often the index's
top 10 (two-stage, compressed) is the exact float32 top 10, and the same for its exact scan of the
compressed tokens. Results go to ``bench/results/index_search-{N|real}[-8bit].json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from bench.common import write_result
from bench.server_latency import percentiles, rss_mib
from common.tokens import BITS
from server.index import Candidates, EdgeIndex, MotionRecord
from server.similarity import eq8_many

CHUNK = 1000  # motions generated, upserted and scored at a time


def synthetic(chunk: int, n: int, tokens: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Motions ``chunk * CHUNK`` up to ``n`` of the synthetic library: unit float32 tokens around per-motion
    centres (m, tokens, dim) and weights summing to 1 (m, tokens); the same for the same arguments."""
    rng = np.random.default_rng([seed, chunk])
    m = min(CHUNK, n - chunk * CHUNK)
    part = rng.normal(size=(m, 1, dim)).astype(np.float32) + 0.6 * rng.normal(size=(m, tokens, dim)).astype(np.float32)
    part /= np.linalg.norm(part, axis=-1, keepdims=True)
    w = rng.random((m, tokens)).astype(np.float32) + 0.1
    return part, w / w.sum(1, keepdims=True)


def query_from(motion: np.ndarray, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A text-like query near one motion: ``length`` of its tokens plus noise, renormalised, uniform weights."""
    rng = np.random.default_rng(seed)
    picked = motion[rng.choice(len(motion), size=min(length, len(motion)), replace=False)].astype(np.float32)
    picked += 0.3 * rng.normal(size=picked.shape).astype(np.float32) / np.sqrt(picked.shape[1])
    picked /= np.linalg.norm(picked, axis=-1, keepdims=True)
    return picked, np.full(len(picked), 1 / len(picked), dtype=np.float32)


class ExactTop:
    """The running exact float32 Eq. 8 top ``k`` of several same-length queries over streamed chunks of motions."""

    def __init__(self, queries: list[tuple[np.ndarray, np.ndarray]], k: int = 11) -> None:
        self.q = np.stack([q for q, _ in queries])  # (Q, Lq, D)
        self.a = np.stack([a for _, a in queries])  # (Q, Lq)
        self.k = k
        self.scores = np.full((len(queries), 0), -np.inf, np.float32)
        self.ids = np.zeros((len(queries), 0), np.int64)

    def add(self, tokens: np.ndarray, weights: np.ndarray, first: int) -> None:
        """Motions ``first``, ``first + 1``, ...: tokens (m, L, D), weights (m, L)."""
        nq, lq, dim = self.q.shape
        m, length, _ = tokens.shape
        s = (self.q.reshape(-1, dim) @ tokens.reshape(-1, dim).T).reshape(nq, lq, m, length)
        forward = np.einsum("qlm,ql->qm", s.max(3), self.a)
        backward = np.einsum("qml,ml->qm", s.max(1), weights)
        scores = np.concatenate([self.scores, 0.5 * (forward + backward)], 1)
        ids = np.concatenate([self.ids, np.broadcast_to(np.arange(first, first + m), (nq, m))], 1)
        keep = np.argsort(-scores, axis=1, kind="stable")[:, : self.k]
        self.scores, self.ids = np.take_along_axis(scores, keep, 1), np.take_along_axis(ids, keep, 1)


def stored(bits: int) -> str:
    return f"{bits}-bit codes + float32 scale and weight per token (common.tokens), one copy"


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def measure(index: EdgeIndex, queries, exact_top: list[set[str]], depths: str) -> list[dict]:
    """The two-stage search at each ``depths`` setting: latency and top-10 overlap with ``exact_top``."""
    for q, a in queries:  # warm up: the shard and the token store paged in, as in a running server
        index.search(q, a, top_k=10)
    settings = []
    for setting in depths.split(","):
        depth = None if setting == "default" else (int(setting), int(setting))
        ms, overlaps = [], []
        for (q, a), top in zip(tqdm(queries, desc=f"two-stage {setting}", unit="query"), exact_top):
            start = time.perf_counter()
            hits = index.search(q, a, top_k=10, depth=depth)
            ms.append((time.perf_counter() - start) * 1000)
            overlaps.append(len({h.id for h in hits} & top) / 10)
        settings.append({
            "prefetch": (depth or index.depth())[0],
            "default": depth is None,
            "two_stage_ms": percentiles(ms),
            "top10_overlap": round(float(np.mean(overlaps)), 4),
            "queries_with_exact_top10": round(float(np.mean([o == 1 for o in overlaps])), 4),
        })  # fmt: skip
    return settings


def run_synthetic(args) -> dict:
    n, seed = args.motions, 0
    chunks = range((n + CHUNK - 1) // CHUNK)
    picks = np.linspace(0, n - 1, args.queries).astype(int)
    queries = []
    for i, j in enumerate(picks):
        tokens, _ = synthetic(j // CHUNK, n, args.tokens, args.dim, seed)
        queries.append(query_from(tokens[j % CHUNK], args.query_tokens, seed=i))
    exact = ExactTop(queries)

    folder = Path(args.index) if args.index else Path(tempfile.mkdtemp(prefix="index_search-"))
    rss_start = rss_mib()
    index = EdgeIndex(folder, args.dim, bits=args.bits)
    ingest = len(index) != n
    if ingest and len(index):
        raise SystemExit(f"{folder} holds {len(index)} motions, not {n}: remove it or give another --index")
    known = folder / f"exact-{n}-{args.tokens}-{args.dim}-{args.queries}-{args.query_tokens}.npz"  # kept with it
    have_exact = known.exists()
    if have_exact:
        saved = np.load(known)
        exact.scores, exact.ids, exact_s = saved["scores"], saved["ids"], float(saved["seconds"])
    else:
        exact_s = 0.0
    ingest_s = 0.0
    steps = [name for name, todo in (("ingest", ingest), ("exact", not have_exact)) if todo]
    for c in tqdm(chunks if steps else [], desc=" and ".join(steps), unit="k motions"):
        tokens, weights = synthetic(c, n, args.tokens, args.dim, seed)
        first = c * CHUNK
        if ingest:
            start = time.perf_counter()
            index.upsert([MotionRecord(f"m{first + j:07d}", tokens[j], weights[j], {"seconds": 1.0})
                          for j in range(len(tokens))])  # fmt: skip
            ingest_s += time.perf_counter() - start
        if not have_exact:
            start = time.perf_counter()
            with threadpool_limits(os.cpu_count(), user_api="blas"):
                exact.add(tokens, weights, first)
            exact_s += time.perf_counter() - start
    if args.index:
        np.savez(known, scores=exact.scores, ids=exact.ids, seconds=exact_s)
    start = time.perf_counter()
    if ingest:
        index.optimize()
    optimize_s = time.perf_counter() - start
    rss_index = rss_mib()
    exact_top = [{f"m{j:07d}" for j in ids[:10]} for ids in exact.ids]
    settings = measure(index, queries, exact_top, args.depths)
    rss_search = rss_mib()
    result = {
        "library": {"motions": n, "tokens_per_motion": args.tokens, "dim": args.dim, "kind": "synthetic"},
        "query_tokens": args.query_tokens,
        "queries": len(queries),
        "tokens_stored": stored(index.store.bits),
        "disk_bytes_per_motion": round(folder_bytes(folder) / n),
        "ingest_motions_per_s": round(n / ingest_s, 1) if ingest else None,
        "optimize_s": round(optimize_s, 1) if ingest else None,
        "exact_float32_s_per_query_amortised": round(exact_s / len(queries), 2),
        "exact_rank10_minus_rank11_score_median": round(float(np.median(exact.scores[:, 9] - exact.scores[:, 10])), 5),
        "settings": settings,
        "rss_mib": {
            "start": round(rss_start, 1),
            "after_index": round(rss_index, 1),
            "after_searches": round(rss_search, 1),
        },  # fmt: skip
    }
    index.close()
    if not args.index:
        shutil.rmtree(folder)
    return result


def run_real(args) -> dict:
    from dataclasses import replace

    from eval.freeform import load_queries
    from exporter.bundle import Bundle
    from server.encoders import Encoders
    from server.serve import open_library, source_clips

    bundle = Bundle.load(args.bundle)
    encoders = Encoders.open(bundle.path)
    with tempfile.TemporaryDirectory() as tmp:
        library = open_library(bundle, encoders, Path(tmp), f"edge:{Path(tmp) / 'index'}?bits={args.bits}")
        kept: list[MotionRecord] = []
        upsert = library.index.upsert

        def keep_float32(records: list[MotionRecord]) -> None:  # what the encoder gave, before compression
            kept.extend(replace(r, tokens=r.tokens.astype(np.float32, copy=True)) for r in records)
            upsert(records)

        library.index.upsert = keep_float32
        start = time.perf_counter()
        library.ingest(source_clips(args.source)[0])
        ingest_s = time.perf_counter() - start
        library.index.optimize()
        index = library.index
        everything = Candidates.of(kept, index.dim)
        queries = [encoders.encode_query(q.text, sentence=False)[0] for q in load_queries()]  # (tokens, weights)
        exact_top = []
        for q, a in queries:
            scores = eq8_many(q, a, everything.tokens, everything.weights, everything.starts, index.aggregation)
            exact_top.append({everything.owners[i] for i in everything.best_per_owner(scores, 10)})
        same_exact = [{h.id for h in index.search_exact(q, a, top_k=10)} == top for (q, a), top in
                      zip(queries, exact_top)]  # fmt: skip
        settings = measure(index, queries, exact_top, args.depths)
        result = {
            "library": {"source": str(args.source), "motions": len(index), "points": index.points(), "kind": "real"},
            "queries": {"file": "eval/queries.jsonl", "count": len(queries)},
            "tokens_stored": stored(args.bits),
            "disk_bytes_per_motion": round(folder_bytes(Path(tmp) / "index") / len(index)),
            "ingest_motions_per_s": round(len(index) / ingest_s, 1),
            "exact_scan_of_compressed_tokens_same_top10": round(float(np.mean(same_exact)), 4),
            "settings": settings,
            "rss_mib": round(rss_mib(), 1),
        }
        index.close()
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.index_search", description=__doc__.split("\n")[0])
    parser.add_argument("--motions", type=int, default=100_000)
    parser.add_argument("--tokens", type=int, default=104)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--query-tokens", type=int, default=16, help="tokens per query (a text query has up to 32)")
    parser.add_argument(
        "--depths",
        default="default,100,250,500,1000",
        help="prefetch depths (points) to compare; 'default': the index's own (MotionIndex.depth)",
    )
    parser.add_argument("--bits", type=int, default=BITS, help="the token codes' width, 8 or 16 (common.tokens)")
    parser.add_argument("--index", type=Path, help="keep the synthetic index here and reuse it on the next run")
    parser.add_argument("--real", action="store_true", help="the real library of --source (see above)")
    parser.add_argument("--source", type=Path, default=os.environ.get("MOTIONSEARCH_DATASET"))
    parser.add_argument("--bundle", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "bundle")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    threadpool_limits(1, user_api="blas")  # as the server runs (server.serve.build_server)
    if args.real and not args.source:
        raise SystemExit("--real needs --source or $MOTIONSEARCH_DATASET")
    result = run_real(args) if args.real else run_synthetic(args)
    name = f"index_search-{'real' if args.real else args.motions}" + ("" if args.bits == BITS else f"-{args.bits}bit")
    path = write_result("index_search", result, args.out or Path(__file__).parent / "results" / f"{name}.json")
    for r in result["settings"]:
        print(f"prefetch {r['prefetch']}{' (default)' if r['default'] else ''}: p50 "
              f"{r['two_stage_ms']['p50']} ms, top-10 overlap {r['top10_overlap']}, exact top 10 for "
              f"{100 * r['queries_with_exact_top10']:.0f} % of queries")  # fmt: skip
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
