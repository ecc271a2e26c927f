"""Two-stage index search against exact brute force, side by side in one run.

    python -m bench.index_search [--motions 100000] [--tokens 104] [--dim 128] [--queries 100] [--out FILE]

Builds a synthetic library in a fresh Qdrant Edge shard (tokens scattered around per-motion
centres; 104 tokens of 128 dims is the default model's 8 body parts x 13 time steps) and
text-like queries (16 noisy tokens of one motion), then for the same queries measures exact
brute-force Eq. 8 in numpy over every motion (the matrices held in memory, the fastest exact
baseline) and the two-stage search (``server.index``: pooled-vector prefetch -> MaxSim when
candidates < prefetch -> exact Eq. 8 rescoring) at several depths (prefetch:candidates), the
index's default among them; ``hnsw-P:C`` searches the pooled vectors' HNSW graph where the
index would scan them all (``EdgeIndex.EXACT_PREFETCH_UP_TO``). Reports p50/p95 latency, the
speed-up over exact, the mean top-10 overlap, the median score gap between exact ranks 10 and 11
(how close to a tie the 10th place is), ingest throughput and RSS.
The centres are independent, so apart from its own motion a query's exact top 10 are near-ties:
the hardest case for a first stage, where real libraries (takes, styles, mirrors) cluster.
``--library-npz`` uses real embeddings instead (arrays ``tokens`` (N, L, D), ``weights``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from bench.common import write_result
from bench.server_latency import percentiles, rss_mib
from server.index import EdgeIndex, MotionRecord


def synthetic(n: int, tokens: int, dim: int, seed: int, chunk: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """n motions of unit float16 tokens around per-motion centres, built in chunks (100,000 x 104 x 128
    is 2.7 GB as float16; the float32 temporaries of the whole would be four times that)."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, tokens, dim), dtype=np.float16)
    for i in range(0, n, chunk):
        m = min(chunk, n - i)
        centres = rng.normal(size=(m, 1, dim)).astype(np.float32)
        part = centres + 0.6 * rng.normal(size=(m, tokens, dim)).astype(np.float32)
        x[i : i + m] = part / np.linalg.norm(part, axis=-1, keepdims=True)
    w = rng.random((n, tokens)).astype(np.float32) + 0.1
    return x, w / w.sum(1, keepdims=True)


def query_from(motion: np.ndarray, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A text-like query near one motion: ``length`` of its tokens plus noise, renormalised, uniform weights."""
    rng = np.random.default_rng(seed)
    picked = motion[rng.choice(len(motion), size=min(length, len(motion)), replace=False)].astype(np.float32)
    picked += 0.3 * rng.normal(size=picked.shape).astype(np.float32) / np.sqrt(picked.shape[1])
    picked /= np.linalg.norm(picked, axis=-1, keepdims=True)
    return picked, np.full(len(picked), 1 / len(picked), dtype=np.float32)


def exact_scores(
    q: np.ndarray, a: np.ndarray, tokens: np.ndarray, weights: np.ndarray, chunk: int = 4096
) -> np.ndarray:
    """Eq. 8 of one query against every motion, in chunks (tokens (N, L, D) float16)."""
    out = np.empty(len(tokens), dtype=np.float32)
    for i in range(0, len(tokens), chunk):
        s = np.einsum("qd,nld->nql", q, tokens[i : i + chunk].astype(np.float32))
        out[i : i + chunk] = 0.5 * (s.max(2) @ a + (s.max(1) * weights[i : i + chunk]).sum(1))
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.index_search", description=__doc__.split("\n")[0])
    parser.add_argument("--motions", type=int, default=100_000)
    parser.add_argument("--tokens", type=int, default=104)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--query-tokens", type=int, default=16, help="tokens per query (a text query has up to 32)")
    parser.add_argument(
        "--depths",
        default="default,100:100,500:500,200:50,2000:200,hnsw-200:200,hnsw-1000:1000",
        help="prefetch:candidates settings to compare; 'default': the index's own (MotionIndex.depth); "
        "'hnsw-' first: the pooled prefetch on HNSW (EdgeIndex.search_params)",
    )
    parser.add_argument("--library-npz", type=Path, help="real embeddings: tokens (N, L, D) and weights (N, L)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    threadpool_limits(1, user_api="blas")  # as the server runs (server.serve.build_server)

    if args.library_npz:
        data = np.load(args.library_npz)
        tokens, weights = data["tokens"].astype(np.float16), data["weights"].astype(np.float32)
    else:
        tokens, weights = synthetic(args.motions, args.tokens, args.dim, seed=0)
    n, _, dim = tokens.shape
    rss_start = rss_mib()
    with tempfile.TemporaryDirectory() as tmp:
        index = EdgeIndex(Path(tmp) / "index", dim)
        start = time.perf_counter()
        for i in tqdm(range(0, n, 1000), desc="ingest", unit="k motions"):
            index.upsert([MotionRecord(f"m{j:07d}", tokens[j].astype(np.float32), weights[j], {"seconds": 1.0})
                          for j in range(i, min(n, i + 1000))])  # fmt: skip
        ingest_s = time.perf_counter() - start
        start = time.perf_counter()
        index.optimize()
        optimize_s = time.perf_counter() - start
        rss_index = rss_mib()

        queries = [query_from(tokens[i], args.query_tokens, seed=i) for i in range(0, n, max(1, n // args.queries))]
        queries = queries[: args.queries]
        exact_ms, exact_top, gaps = [], [], []
        for q, a in tqdm(queries, desc="exact", unit="query"):
            start = time.perf_counter()
            scores = exact_scores(q, a, tokens, weights)
            order = np.argsort(-scores)[:11]
            exact_ms.append((time.perf_counter() - start) * 1000)
            exact_top.append({f"m{j:07d}" for j in order[:10]})
            gaps.append(float(scores[order[9]] - scores[order[10]]))
        for q, a in queries:  # warm up: the shard and the token store paged in, as in a running server
            index.search(q, a, top_k=10, depth=(1000, 1000))
        settings = []
        for setting in args.depths.split(","):
            hnsw = setting.startswith("hnsw-")
            depth = None if setting == "default" else tuple(map(int, setting.removeprefix("hnsw-").split(":")))
            index.EXACT_PREFETCH_UP_TO = 0 if hnsw else EdgeIndex.EXACT_PREFETCH_UP_TO
            two_stage_ms, overlaps = [], []
            for (q, a), top in zip(tqdm(queries, desc=f"two-stage {setting}", unit="query"), exact_top):
                start = time.perf_counter()
                hits = index.search(q, a, top_k=10, depth=depth)
                two_stage_ms.append((time.perf_counter() - start) * 1000)
                overlaps.append(len({h.id for h in hits} & top) / 10)
            settings.append({
                "prefetch_candidates": list(depth or index.depth()),
                "first_stage": "exact" if n <= index.EXACT_PREFETCH_UP_TO else "hnsw",
                "default": depth is None,
                "two_stage_ms": percentiles(two_stage_ms),
                "speedup_p50": round(float(np.median(exact_ms) / np.median(two_stage_ms)), 1),
                "top10_overlap": round(float(np.mean(overlaps)), 4),
            })  # fmt: skip
        index.close()

    result = {
        "library": {
            "motions": n,
            "tokens_per_motion": int(tokens.shape[1]),
            "dim": dim,
            "kind": str(args.library_npz) if args.library_npz else "synthetic",
        },  # fmt: skip
        "query_tokens": args.query_tokens,
        "ingest_motions_per_s": round(n / ingest_s, 1),
        "optimize_s": round(optimize_s, 1),
        "exact_numpy_ms": percentiles(exact_ms),
        "exact_rank10_minus_rank11_score_median": round(float(np.median(gaps)), 5),
        "settings": settings,
        "rss_mib": {"start": round(rss_start, 1), "after_index": round(rss_index, 1)},
    }
    path = write_result("index_search", result, args.out)
    for r in settings:
        depth, p50 = r["prefetch_candidates"], r["two_stage_ms"]["p50"]
        print(f"{n} motions, {r['first_stage']} prefetch:candidates {depth}: two-stage p50 {p50} ms "
              f"({r['speedup_p50']}x faster than exact), top-10 overlap {r['top10_overlap']}")  # fmt: skip
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
