"""The motion index: embedded Qdrant Edge by default, the same interface over a Qdrant server or cluster.

Each motion is a point with two named vectors and a payload:

* ``pooled``: the weight-averaged tokens, L2-normalised (dense, HNSW) — the first, cheap stage;
* ``tokens``: the token multivector (MaxSim comparator, no HNSW on tokens), float16;
* ``meta`` (when the bundle has a sentence graph and the motion has metadata): the frozen sentence
  embedding of its metadata string (``server.metadata``), searched by an exact scan beside the learned
  ranking and fused with it (``server.fusion``);
* payload: id, name, labels, duration, fps, source, path, licence, mirror flag, sha256, metadata text,
  tags and the folders it lies in (both filterable).

The exact score needs the candidates' tokens and weights back: the embedded index keeps them in
a memory-mapped :class:`~server.token_store.TokenStore` beside its shard (the payload holds the
rows), the ``qdrant-client`` backend as a float16 copy in the payload (one string per point).

A search prefetches points on the pooled vector (how many grows with the library: ``depth``;
the embedded index scans every pooled vector up to 250,000 motions, HNSW beyond), optionally
reranks them by MaxSim with the query's token weights folded into the query tokens
(``a_i * Lq * q_i``: the first direction of Eq. 8 up to a constant; the default for the
``qdrant-client`` backend, whose candidates' tokens cross the network), rescores the candidates
exactly with Eq. 8 in numpy (both directions, both sides' weights, in one matrix product) and
reads the payloads of the top hits. ``search_exact`` scores every matching motion the same way
(the reference the two-stage search is measured against). Point ids are UUIDv5 of the motion id
(Qdrant wants integers or UUIDs); the id itself lives in the payload. Writes go through Qdrant's
write-ahead log: a batch upserted before a crash is there after a reload, a point is never
half-written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np

from server.fusion import Fusion, fuse
from server.token_store import TokenStore

NAMESPACE = uuid.UUID("6f1d3c1e-8a53-4c9b-9f5e-4d2a7f0b5c11")
POOLED, TOKENS, META = "pooled", "tokens", "meta"
PAYLOAD_INDEXES = {"kind": "Keyword", "content": "Keyword", "style": "Keyword", "source": "Keyword", "seconds": "Float",
                   "tags": "Keyword", "folders": "Keyword"}  # fmt: skip
INDEX_LAYOUT = "v5"  # v4: tokens in a memory-mapped store beside the shard; v5: the metadata vector, tags, folders


@dataclass
class MotionRecord:
    id: str
    tokens: np.ndarray  # (L, D) float32 unit vectors
    weights: np.ndarray  # (L,) float32 summing to 1
    payload: dict
    meta: np.ndarray | None = None  # (M,) unit sentence embedding of the motion's metadata, if it has any


@dataclass
class SearchFilter:
    contents: list[str] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    min_seconds: float = 0.0
    max_seconds: float = 0.0  # 0 = unbounded
    source: str = ""
    include_mirrors: bool = True
    tags: list[str] = field(default_factory=list)  # any of these tags; empty = any
    folder: str = ""  # only motions in this folder (relative to the library's root) or below it; empty = any


@dataclass
class Candidates:
    """A first stage's points (``keys``: point ids) with their tokens and weights concatenated;
    ``starts``: where each point's tokens begin. ``payloads`` when the backend returned them already."""

    keys: list[str]
    tokens: np.ndarray
    weights: np.ndarray
    starts: np.ndarray
    payloads: dict[str, dict] | None = None

    @classmethod
    def of(cls, keys: list[str], records: list[MotionRecord], dim: int) -> Candidates:
        """From whole records (tokens, weights and payloads)."""
        if not records:
            return cls([], np.empty((0, dim), np.float32), np.empty(0, np.float32), np.empty(0, int), {})
        starts = np.cumsum([0] + [len(r.weights) for r in records])[:-1]
        return cls(keys, np.concatenate([r.tokens for r in records]), np.concatenate([r.weights for r in records]),
                   starts, {k: r.payload for k, r in zip(keys, records)})  # fmt: skip


@dataclass
class Hit:
    id: str
    score: float
    payload: dict


def point_id(motion_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, motion_id))


def pooled(tokens: np.ndarray, weights: np.ndarray) -> np.ndarray:
    v = (weights[:, None] * tokens).sum(0)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def eq8(q: np.ndarray, a: np.ndarray, m: np.ndarray, b: np.ndarray) -> float:
    """The paper's Eq. 8: weighted max over the other side's tokens, both directions averaged."""
    s = q @ m.T
    return 0.5 * float(a @ s.max(1) + b @ s.max(0))


def eq8_many(q: np.ndarray, a: np.ndarray, found: Candidates) -> np.ndarray:
    """Eq. 8 of one query against every candidate at once: one matrix product, maxima per candidate."""
    s = q @ found.tokens.T  # (Lq, all candidates' tokens)
    forward = a @ np.maximum.reduceat(s, found.starts, axis=1)
    backward = np.add.reduceat(found.weights * s.max(0), found.starts)
    return 0.5 * (forward + backward)


def hnsw_ef(prefetch: int) -> int:
    """How wide an HNSW search of the pooled vectors looks for ``prefetch`` points (both backends)."""
    return max(4 * prefetch, 512)


def folded(tokens: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Query tokens scaled by their weights (times their count, to keep MaxSim scores near 1)."""
    return tokens * (weights * len(weights))[:, None]


class MotionIndex:
    """What the server needs from an index; the backends below implement the storage calls."""

    dim: int
    meta_dim: int = 0  # the metadata vector's size; 0: this index keeps none

    def upsert(self, records: list[MotionRecord]) -> None:
        raise NotImplementedError

    def delete(self, ids: list[str]) -> int:
        raise NotImplementedError

    def get(self, motion_id: str) -> MotionRecord | None:
        raise NotImplementedError

    def list(self, offset: int, limit: int, flt: SearchFilter | None = None) -> tuple[list[MotionRecord], int]:
        raise NotImplementedError

    def candidates(self, tokens: np.ndarray, weights: np.ndarray, prefetch: int, n: int,
                   flt: SearchFilter | None) -> Candidates:  # fmt: skip
        """The ``n`` best by MaxSim among the ``prefetch`` nearest pooled vectors; all of them if n >= prefetch."""
        raise NotImplementedError

    def payloads(self, keys: list[str]) -> dict[str, dict]:
        """The payloads of some points, by point id."""
        raise NotImplementedError

    def metadata_candidates(self, meta: np.ndarray, n: int, flt: SearchFilter | None) -> list[tuple[str, float]]:
        """The ``n`` points whose metadata vectors are nearest ``meta`` (exact), best first: (point id, cosine)."""
        raise NotImplementedError

    def optimize(self) -> None:
        """Build what a bulk ingest left for later (the embedded index's HNSW graph)."""

    def all_records(self, flt: SearchFilter | None = None) -> list[MotionRecord]:
        records, total = self.list(0, 1_000_000, flt)
        return records

    def __len__(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _check(self, tokens: np.ndarray, weights: np.ndarray) -> None:
        if tokens.ndim != 2 or tokens.shape[1] != self.dim or len(weights) != len(tokens) or not len(tokens):
            raise ValueError(f"expected (L, {self.dim}) tokens and (L,) weights, got {tokens.shape}, {weights.shape}")

    def depth(self) -> tuple[int, int]:
        """How many points the pooled prefetch passes on, and how many of those MaxSim passes to the exact
        rescoring; candidates >= prefetch skips MaxSim. The embedded index rescores every prefetched point:
        its tokens are local, and Eq. 8 in numpy over them costs less than Qdrant's MaxSim and ranks better
        (the pooled vector carries the motion's token weights, the second direction of Eq. 8, which MaxSim
        leaves out). Prefetch: 0.2 % of the library, at least 100, at most 1,000: the exact top 10 lay
        within the pooled top 49 on the real library (6,152 motions) and the top 66 on 100,000 synthetic
        ones (bench/index_search.py measures these settings against exact scoring)."""
        prefetch = min(max(len(self) // 500, 100), 1000)
        return prefetch, prefetch

    def search(self, tokens: np.ndarray, weights: np.ndarray, top_k: int = 10, filter: SearchFilter | None = None,
               depth: tuple[int, int] | None = None, meta: np.ndarray | None = None,
               fusion: Fusion | None = None) -> list[Hit]:  # fmt: skip
        """Two-stage search: ``depth`` = (prefetch, candidates), default :meth:`depth`; exact Eq. 8 scores
        of the ``candidates`` best by MaxSim among the ``prefetch`` nearest pooled vectors (of every
        prefetched point when candidates >= prefetch). With ``meta`` (the query's sentence embedding) and
        ``fusion``, the as many motions nearest on the metadata vector are ranked too and the two rankings
        fused (:func:`server.fusion.fuse`); a hit's score is then the fused score."""
        self._check(tokens, weights)
        prefetch, candidates = depth or self.depth()
        found = self.candidates(tokens, weights, max(prefetch, top_k), max(candidates, top_k), filter)
        scores = eq8_many(tokens, weights, found) if found.keys else np.empty(0)
        order = np.argsort(-scores, kind="stable")
        if meta is None or fusion is None or not self.meta_dim:
            best = [(found.keys[i], float(scores[i])) for i in order[:top_k]]
        else:
            learned = [(found.keys[i], float(scores[i])) for i in order]
            best = fuse(learned, self.metadata_candidates(meta, max(prefetch, top_k), filter), fusion)[:top_k]
        payloads = dict(found.payloads or {})
        missing = [k for k, _ in best if k not in payloads]
        if missing:
            payloads.update(self.payloads(missing))
        return [Hit(payloads[k]["id"], score, payloads[k]) for k, score in best]

    def search_exact(self, tokens: np.ndarray, weights: np.ndarray, top_k: int = 10,
                     filter: SearchFilter | None = None) -> list[Hit]:  # fmt: skip
        """Eq. 8 against every matching motion (brute force)."""
        self._check(tokens, weights)
        hits = [Hit(r.id, eq8(tokens, weights, r.tokens, r.weights), r.payload) for r in self.all_records(filter)]
        return sorted(hits, key=lambda h: -h.score)[:top_k]


STORED = ("kind", "rows", "weights", TOKENS)  # payload fields the index adds for itself


def _payload(record: MotionRecord, **stored) -> dict:
    """The stored payload: the record's, its id, the mirror flag as a keyword, and ``stored``."""
    return {**record.payload, "id": record.id, "kind": "mirror" if record.payload.get("mirror") else "clip", **stored}


def _public(stored: dict) -> dict:
    return {k: v for k, v in stored.items() if k not in STORED}


class EdgeIndex(MotionIndex):
    """Qdrant Edge, embedded in the process: a shard folder on disk."""

    EXACT_PREFETCH_UP_TO = 250_000  # motions; see search_params

    def __init__(self, path: str | Path, dim: int, meta_dim: int = 0) -> None:
        import qdrant_edge as q

        self.q, self.dim, self.meta_dim, self.path = q, int(dim), int(meta_dim), Path(path)
        vectors = {
            POOLED: q.EdgeVectorParams(size=self.dim, distance=q.Distance.Dot),
            TOKENS: q.EdgeVectorParams(size=self.dim, distance=q.Distance.Dot, datatype=q.VectorStorageDatatype.Float16,
                                       multivector_config=q.MultiVectorConfig(q.MultiVectorComparator.MaxSim),
                                       hnsw_config=q.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10000)),
        }  # fmt: skip
        if self.meta_dim:  # always scanned exactly (see metadata_candidates): no HNSW graph to build
            flat = q.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10000)
            vectors[META] = q.EdgeVectorParams(size=self.meta_dim, distance=q.Distance.Dot, hnsw_config=flat)
        config = q.EdgeConfig(vectors=vectors)
        exists = self.path.exists() and any(self.path.iterdir())
        if exists:
            try:
                self.shard = q.EdgeShard.load(str(self.path), config)
            except Exception as error:  # noqa: BLE001 - Qdrant raises its own exception types
                raise ValueError(f"the index at {self.path} does not fit {self.dim}-d vectors: {error}") from None
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            self.shard = q.EdgeShard.create(str(self.path), config)
        self._index_payload()
        self.store = TokenStore(self.path, self.dim)
        size = self.shard.count(q.CountRequest(exact=True))
        everything = q.ScrollRequest(limit=size + 1, with_payload=q.PayloadSelector.Include(["rows"]))
        points, _ = self.shard.scroll(everything)
        self.spans = {str(p.id): tuple(p.payload["rows"]) for p in points}  # point id -> its rows in the store

    def _index_payload(self) -> None:
        """Payload indexes for the filtered fields: without them a filter reads every point's whole payload."""
        q = self.q
        have = set(self.shard.info().payload_schema)
        for name, kind in PAYLOAD_INDEXES.items():
            if name not in have:
                self.shard.update(q.UpdateOperation.create_field_index(name, getattr(q.PayloadSchemaType, kind)))

    def _filter(self, flt: SearchFilter | None):
        q = self.q
        if flt is None:
            return None
        must = []
        if flt.contents:
            must.append(q.FieldCondition("content", match=q.MatchAny(list(flt.contents))))
        if flt.styles:
            must.append(q.FieldCondition("style", match=q.MatchAny(list(flt.styles))))
        if flt.min_seconds or flt.max_seconds:
            must.append(q.FieldCondition("seconds", range=q.RangeFloat(gte=flt.min_seconds or None,
                                                                        lte=flt.max_seconds or None)))  # fmt: skip
        if flt.source:
            must.append(q.FieldCondition("source", match=q.MatchValue(flt.source)))
        if flt.tags:
            must.append(q.FieldCondition("tags", match=q.MatchAny(list(flt.tags))))
        if flt.folder:
            must.append(q.FieldCondition("folders", match=q.MatchValue(flt.folder.strip("/"))))
        if not flt.include_mirrors:  # Qdrant Edge 0.9 does not match booleans: the keyword copy of the flag
            must.append(q.FieldCondition("kind", match=q.MatchValue("clip")))
        return q.Filter(must=must) if must else None

    def upsert(self, records: list[MotionRecord]) -> None:
        for r in records:
            self._check(r.tokens, r.weights)
        spans = self.store.append([r.tokens for r in records], [r.weights for r in records])  # rows first
        points = []
        for r, span in zip(records, spans):
            vectors = {POOLED: pooled(r.tokens, r.weights).tolist(), TOKENS: r.tokens.astype(np.float32).tolist()}
            if r.meta is not None and self.meta_dim:
                vectors[META] = np.asarray(r.meta, np.float32).tolist()
            points.append(self.q.Point(point_id(r.id), vectors, _payload(r, rows=list(span))))
        self.shard.update(self.q.UpdateOperation.upsert_points(points))
        self.shard.flush()
        self.spans.update((point_id(r.id), span) for r, span in zip(records, spans))

    def delete(self, ids: list[str]) -> int:
        present = [point_id(i) for i in ids if point_id(i) in self.spans]
        if present:
            self.shard.update(self.q.UpdateOperation.delete_points(present))
            self.shard.flush()
            for key in present:
                del self.spans[key]
        return len(present)

    def _record(self, stored: dict) -> MotionRecord:
        tokens, weights = self.store.read(*stored["rows"])
        return MotionRecord(stored["id"], tokens, weights, _public(stored))

    def get(self, motion_id: str) -> MotionRecord | None:
        found = self.shard.retrieve([point_id(motion_id)], True, False)
        return self._record(found[0].payload) if found else None

    def list(self, offset: int, limit: int, flt: SearchFilter | None = None) -> tuple[list[MotionRecord], int]:
        total = self.shard.count(self.q.CountRequest(exact=True, filter=self._filter(flt)))
        if offset >= total:
            return [], total
        # ordered by motion id (point ids are hashes): every matching id is read, the page's payloads only
        points, _ = self.shard.scroll(
            self.q.ScrollRequest(
                limit=total, filter=self._filter(flt), with_payload=self.q.PayloadSelector.Include(["id"])
            )
        )
        page = sorted(p.payload["id"] for p in points)[offset : offset + limit]
        found = {p.payload["id"]: p for p in self.shard.retrieve([point_id(i) for i in page], True, False)}
        return [self._record(found[i].payload) for i in page], total

    def search_params(self, prefetch: int):
        """How the pooled prefetch searches: a full scan of the pooled vectors up to ``EXACT_PREFETCH_UP_TO``
        motions (6.3 ms at 100,000 on the 2-core CPU, where HNSW at ef 512 found 85 % of the exact top 10 on
        the synthetic library and ef 1,024 took 8 ms for 94 %), HNSW beyond it with ef = 4 x prefetch."""
        if len(self) <= self.EXACT_PREFETCH_UP_TO:
            return self.q.SearchParams(exact=True)
        return self.q.SearchParams(hnsw_ef=hnsw_ef(prefetch))

    def candidates(self, tokens, weights, prefetch, n, flt):
        q = self.q
        flt = self._filter(flt)
        nearest = q.Query.Nearest(pooled(tokens, weights).tolist(), using=POOLED)
        params = self.search_params(prefetch)
        if n >= prefetch:  # no MaxSim stage: every prefetched point is rescored
            request = q.QueryRequest(limit=prefetch, query=nearest, filter=flt, params=params, with_payload=False,
                                     with_vector=False)  # fmt: skip
        else:
            first = q.Prefetch(limit=prefetch, query=nearest, filter=flt, params=params)
            request = q.QueryRequest(limit=n, prefetches=[first], filter=flt, with_payload=False, with_vector=False,
                                     query=q.Query.Nearest(folded(tokens, weights).tolist(), using=TOKENS))  # fmt: skip
        keys = [str(p.id) for p in self.shard.query(request)]
        return Candidates(keys, *self.store.gather([self.spans[k] for k in keys]))

    def payloads(self, keys: list[str]) -> dict[str, dict]:
        return {str(p.id): _public(p.payload) for p in self.shard.retrieve(keys, True, False)}

    def metadata_candidates(self, meta, n, flt):
        q = self.q
        request = q.QueryRequest(limit=n, query=q.Query.Nearest(np.asarray(meta, np.float32).tolist(), using=META),
                                 filter=self._filter(flt), params=q.SearchParams(exact=True), with_payload=False,
                                 with_vector=False)  # fmt: skip
        return [(str(p.id), float(p.score)) for p in self.shard.query(request)]

    def optimize(self) -> None:
        """Build the HNSW graph of the pooled vectors (after a bulk ingest)."""
        self.shard.optimize()

    def __len__(self) -> int:
        return len(self.spans)

    def close(self) -> None:
        self.shard.close()
        self.store.close()


class QdrantClientIndex(MotionIndex):
    """The same index over ``qdrant-client``: a Qdrant server or cluster (url, api_key, collection), or
    its local mode (``path`` or ":memory:") for tests. Filters and queries are the client's models.

    The tokens and weights are a float16 copy in the payload, read back as one string per point
    (asking for the multivectors returns thousands of Python floats per motion): a server holds
    the library for every replica of motionsearch, no file beside it can."""

    def __init__(self, dim: int, url: str | None = None, api_key: str | None = None, path: str | None = None,
                 collection: str = "motions", meta_dim: int = 0) -> None:  # fmt: skip
        from qdrant_client import QdrantClient, models

        self.m, self.dim, self.meta_dim, self.collection = models, int(dim), int(meta_dim), collection
        self.client = QdrantClient(url=url, api_key=api_key) if url else QdrantClient(path=path or ":memory:")
        if not self.client.collection_exists(collection):
            vectors = {
                POOLED: models.VectorParams(size=self.dim, distance=models.Distance.DOT),
                TOKENS: models.VectorParams(size=self.dim, distance=models.Distance.DOT,
                                            multivector_config=models.MultiVectorConfig(
                                                comparator=models.MultiVectorComparator.MAX_SIM),
                                            hnsw_config=models.HnswConfigDiff(m=0)),
            }  # fmt: skip
            if self.meta_dim:
                vectors[META] = models.VectorParams(size=self.meta_dim, distance=models.Distance.DOT)
            self.client.create_collection(collection, vectors_config=vectors)

    def _filter(self, flt: SearchFilter | None):
        m = self.m
        if flt is None:
            return None
        must = []
        if flt.contents:
            must.append(m.FieldCondition(key="content", match=m.MatchAny(any=list(flt.contents))))
        if flt.styles:
            must.append(m.FieldCondition(key="style", match=m.MatchAny(any=list(flt.styles))))
        if flt.min_seconds or flt.max_seconds:
            must.append(m.FieldCondition(key="seconds", range=m.Range(gte=flt.min_seconds or None,
                                                                     lte=flt.max_seconds or None)))  # fmt: skip
        if flt.source:
            must.append(m.FieldCondition(key="source", match=m.MatchValue(value=flt.source)))
        if flt.tags:
            must.append(m.FieldCondition(key="tags", match=m.MatchAny(any=list(flt.tags))))
        if flt.folder:
            must.append(m.FieldCondition(key="folders", match=m.MatchValue(value=flt.folder.strip("/"))))
        if not flt.include_mirrors:
            must.append(m.FieldCondition(key="kind", match=m.MatchValue(value="clip")))
        return m.Filter(must=must) if must else None

    def upsert(self, records: list[MotionRecord]) -> None:
        points = []
        for r in records:
            self._check(r.tokens, r.weights)
            vectors = {POOLED: pooled(r.tokens, r.weights).tolist(), TOKENS: r.tokens.astype(np.float32).tolist()}
            if r.meta is not None and self.meta_dim:
                vectors[META] = np.asarray(r.meta, np.float32).tolist()
            stored = {"weights": r.weights.tolist(), TOKENS: r.tokens.astype("<f2").tobytes().hex()}  # hex: 5x base64
            points.append(self.m.PointStruct(id=point_id(r.id), vector=vectors, payload=_payload(r, **stored)))
        self.client.upsert(self.collection, points, wait=True)

    def delete(self, ids: list[str]) -> int:
        present = [i for i in ids if self.get(i) is not None]
        if present:
            self.client.delete(self.collection, self.m.PointIdsList(points=[point_id(i) for i in present]), wait=True)
        return len(present)

    def get(self, motion_id: str) -> MotionRecord | None:
        found = self.client.retrieve(self.collection, [point_id(motion_id)], with_payload=True, with_vectors=False)
        return self._record(found[0].payload) if found else None

    @staticmethod
    def _record(stored: dict) -> MotionRecord:
        weights = np.asarray(stored["weights"], dtype=np.float32)
        tokens = np.frombuffer(bytes.fromhex(stored[TOKENS]), dtype="<f2").astype(np.float32)
        return MotionRecord(stored["id"], tokens.reshape(len(weights), -1), weights, _public(stored))

    def list(self, offset: int, limit: int, flt: SearchFilter | None = None) -> tuple[list[MotionRecord], int]:
        total = self.client.count(self.collection, count_filter=self._filter(flt), exact=True).count
        if offset >= total:
            return [], total
        points, _ = self.client.scroll(self.collection, scroll_filter=self._filter(flt), limit=total,
                                       with_payload=["id"])  # fmt: skip
        page = sorted(p.payload["id"] for p in points)[offset : offset + limit]
        found = {p.payload["id"]: p for p in self.client.retrieve(self.collection, [point_id(i) for i in page],
                                                                  with_payload=True, with_vectors=False)}  # fmt: skip
        return [self._record(found[i].payload) for i in page], total

    def depth(self) -> tuple[int, int]:
        """Three stages here: the candidates' tokens travel from the server as payload copies (~50 kB each),
        so MaxSim on the server keeps them few: prefetch 2 % of the library (200 to 2,000), candidates
        0.2 % (50 to 200). The server searches its HNSW graph at ef = 4 x prefetch (a server does a full
        scan itself while a segment is below its indexing threshold)."""
        size = len(self)
        return min(max(size // 50, 200), 2000), min(max(size // 500, 50), 200)

    def candidates(self, tokens, weights, prefetch, n, flt):
        m = self.m
        flt = self._filter(flt)
        first = m.Prefetch(query=pooled(tokens, weights).tolist(), using=POOLED, limit=prefetch, filter=flt,
                           params=m.SearchParams(hnsw_ef=hnsw_ef(prefetch)))  # fmt: skip
        points = self.client.query_points(self.collection, prefetch=first, query=folded(tokens, weights).tolist(),
                                          using=TOKENS, limit=n, query_filter=flt, with_payload=True,
                                          with_vectors=False).points  # fmt: skip
        return Candidates.of([str(p.id) for p in points], [self._record(p.payload) for p in points], self.dim)

    def payloads(self, keys: list[str]) -> dict[str, dict]:
        found = self.client.retrieve(self.collection, keys, with_payload=True, with_vectors=False)
        return {str(p.id): _public(p.payload) for p in found}

    def metadata_candidates(self, meta, n, flt):
        exact = self.m.SearchParams(exact=True)
        points = self.client.query_points(self.collection, query=np.asarray(meta, np.float32).tolist(), using=META,
                                          limit=n, query_filter=self._filter(flt), with_payload=False,
                                          with_vectors=False, search_params=exact).points  # fmt: skip
        return [(str(p.id), float(p.score)) for p in points]

    def __len__(self) -> int:
        return self.client.count(self.collection, exact=True).count

    def close(self) -> None:
        self.client.close()


def open_index(spec: str, dim: int, meta_dim: int = 0) -> MotionIndex:
    """``edge:PATH`` (or a bare path), ``qdrant:URL?collection=NAME`` (API key from $QDRANT_API_KEY),
    ``qdrant-local:PATH``; ``meta_dim``: the size of the metadata vector (0: none)."""
    import os

    kind, _, rest = spec.partition(":") if ":" in spec else ("edge", "", spec)
    if kind == "edge":
        return EdgeIndex(rest, dim, meta_dim)
    if kind == "qdrant":
        url = urlparse(rest)
        collection = parse_qs(url.query).get("collection", ["motions"])[0]
        return QdrantClientIndex(dim, url=url._replace(query="").geturl(), api_key=os.environ.get("QDRANT_API_KEY"),
                                 collection=collection, meta_dim=meta_dim)  # fmt: skip
    if kind == "qdrant-local":
        return QdrantClientIndex(dim, path=rest, meta_dim=meta_dim)
    raise ValueError(f"unknown index {spec!r}: edge:PATH, qdrant:URL?collection=NAME or qdrant-local:PATH")
