"""The motion index: embedded Qdrant Edge by default, the same interface over a Qdrant server or cluster.

Each motion is a point with named vectors and a payload:

* ``pooled``: the weight-averaged tokens, L2-normalised — the first, cheap stage (scanned in float16 by the
  embedded index, HNSW on a Qdrant server);
* ``tokens`` (``qdrant-client`` backend only): the token multivector (MaxSim comparator, no HNSW on
  tokens, int8 scalar-quantized on the server) for a MaxSim stage run where the tokens live;
* ``meta`` (when the bundle has a sentence graph and the motion has metadata): the frozen sentence
  embedding of its metadata string (``server.metadata``), searched by an exact scan beside the learned
  ranking and fused with it (``server.fusion``);
* payload: id, name, labels, duration, fps, source, path, licence, mirror flag, sha256, metadata text,
  tags and the folders it lies in (both filterable).

A motion longer than the model's window is several points, one per window of it (``window`` 0, 1, ...
in the payload, its time range in ``start_seconds``/``end_seconds``), all with the motion's id and
payload; window 0's point id is the motion's, so ``get`` reads the motion through it, and ``list``
and ``len`` count motions (window 0 only). A search ranks windows and returns each motion once, as
its best window.

The exact score needs the candidates' tokens and weights back. They are stored compressed (16-bit
integer codes and a scale per token by default, 8-bit with ``edge:PATH?bits=8``; ``common.tokens``):
the embedded index keeps them, their one copy, in a :class:`~server.token_store.TokenStore` file
beside its shard (the payload holds the rows; the shard holds
no tokens), the ``qdrant-client`` backend as a copy in the payload (one string per point) beside the
multivector its server's MaxSim stage needs.

A search prefetches points on the pooled vector (how many grows with the library: ``depth``;
the embedded index scans every pooled vector, a Qdrant server searches its HNSW graph), on the
``qdrant-client`` backend reranks them by MaxSim on the server with the query's token weights
folded into the query tokens (``a_i * Lq * q_i``: the first direction of Eq. 8 up to a constant;
the candidates' tokens then cross the network for fewer points), rescores the candidates
exactly with Eq. 8 in numpy (``server.similarity``, with the model's aggregation: both
directions, both sides' weights, in one matrix product) and
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

from common.tokens import BITS, CODES, dequantize, pack, row_bytes, unpack
from server.fusion import Fusion, fuse
from server.similarity import Similarity, eq8_many
from server.token_store import TokenStore

NAMESPACE = uuid.UUID("6f1d3c1e-8a53-4c9b-9f5e-4d2a7f0b5c11")
POOLED, TOKENS, META = "pooled", "tokens", "meta"
PAYLOAD_INDEXES = {"kind": "Keyword", "content": "Keyword", "style": "Keyword", "source": "Keyword", "seconds": "Float",
                   "window": "Integer", "tags": "Keyword", "folders": "Keyword"}  # fmt: skip
# v4: tokens in a memory-mapped store; v5: long clips as overlapping windows, the metadata vector, tags, folders;
# v6: the metadata says what the body does (motion_caption); v7: integer-coded tokens, one copy (the token store);
# v8: motions encoded on the reference body (motion.body); v9: the metadata vector blends in the clip's action
# (server.metadata.metadata_vectors); v10: the action is the centroid of its phrases and synonyms
# (action_vectors); v11: a wordless clip's action is its kinematic captions (motion_captions in the payload,
# without the clip's manner: server.metadata.motion_captions)
INDEX_LAYOUT = "v11"


@dataclass
class MotionRecord:
    id: str
    tokens: np.ndarray  # (L, D) float32 unit vectors
    weights: np.ndarray  # (L,) float32 summing to 1
    payload: dict
    window: int = 0  # which window of the motion these tokens encode (0: the first, or the whole clip)
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
    """A first stage's points (``keys``: point ids; ``owners``: their motions' ids) with their tokens and
    weights concatenated; ``starts``: where each point's tokens begin. ``payloads`` when the backend
    returned them already."""

    keys: list[str]
    owners: list[str]
    tokens: np.ndarray
    weights: np.ndarray
    starts: np.ndarray
    payloads: dict[str, dict] | None = None
    scales: np.ndarray | None = None  # tokens are integer codes of the tokens divided by these (common.tokens)

    @classmethod
    def of(cls, records: list[MotionRecord], dim: int) -> Candidates:
        """From whole records (tokens, weights and payloads)."""
        if not records:
            return cls([], [], np.empty((0, dim), np.float32), np.empty(0, np.float32), np.empty(0, int), {})
        keys = [point_id(r.id, r.window) for r in records]
        starts = np.cumsum([0] + [len(r.weights) for r in records])[:-1]
        return cls(keys, [r.id for r in records], np.concatenate([r.tokens for r in records]),
                   np.concatenate([r.weights for r in records]), starts,
                   {k: r.payload for k, r in zip(keys, records)})  # fmt: skip

    def best_per_owner(self, scores: np.ndarray, top_k: int) -> list[int]:
        """Indices of the ``top_k`` best-scoring points, one per motion (its best window), best first."""
        seen: set[str] = set()
        best = []
        for i in np.argsort(-scores, kind="stable").tolist():  # stops after top_k motions: a few windows past them
            if self.owners[i] not in seen:
                seen.add(self.owners[i])
                best.append(i)
                if len(best) == top_k:
                    break
        return best


@dataclass
class Hit:
    id: str
    score: float
    payload: dict


@dataclass
class Ranking:
    """Motions ranked best first, ``(motion id, score)``, with what turns its head into hits: the point of each
    motion's best window (``keys``; a motion absent is its first window) and the payloads already read."""

    ranked: list[tuple[str, float]]
    keys: dict[str, str] = field(default_factory=dict)
    payloads: dict[str, dict] = field(default_factory=dict)

    def fused(self, other: Ranking, fusion: Fusion) -> Ranking:
        """This ranking fused with ``other`` (:func:`server.fusion.fuse`, ``other`` the second ranking)."""
        return Ranking(fuse(self.ranked, other.ranked, fusion), {**other.keys, **self.keys},
                       {**other.payloads, **self.payloads})  # fmt: skip


def point_id(motion_id: str, window: int = 0) -> str:
    """The point of a motion's window: window 0 has the motion id's own point id ('@' is never in an id)."""
    return str(uuid.uuid5(NAMESPACE, motion_id if not window else f"{motion_id}@{window}"))


def pooled(tokens: np.ndarray, weights: np.ndarray) -> np.ndarray:
    v = (weights[:, None] * tokens).sum(0)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def hnsw_ef(prefetch: int) -> int:
    """How wide a Qdrant server's HNSW search of the pooled vectors looks for ``prefetch`` points."""
    return max(4 * prefetch, 512)


def folded(tokens: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Query tokens scaled by their weights (times their count, to keep MaxSim scores near 1)."""
    return tokens * (weights * len(weights))[:, None]


class MotionIndex:
    """What the server needs from an index; the backends below implement the storage calls."""

    dim: int
    aggregation: str = "max"  # Eq. 8's (server.similarity), the model's: open_index sets it from the bundle
    meta_dim: int = 0  # the metadata vector's size; 0: this index keeps none

    def upsert(self, records: list[MotionRecord]) -> None:
        raise NotImplementedError

    def delete(self, ids: list[str]) -> int:
        """Remove motions (every window of each); returns how many of ``ids`` were there."""
        raise NotImplementedError

    def get(self, motion_id: str) -> MotionRecord | None:
        """A motion: its payload, and the tokens of its first window."""
        raise NotImplementedError

    def list(self, offset: int, limit: int, flt: SearchFilter | None = None) -> tuple[list[MotionRecord], int]:
        """A page of motions (first windows) ordered by id, and how many match."""
        raise NotImplementedError

    def windows(self, flt: SearchFilter | None = None) -> list[MotionRecord]:
        """Every matching point: each window of each motion."""
        raise NotImplementedError

    def candidates(self, tokens: np.ndarray, weights: np.ndarray, prefetch: int, n: int,
                   flt: SearchFilter | None) -> Candidates:  # fmt: skip
        """The ``n`` best by MaxSim among the ``prefetch`` nearest pooled vectors; all of them if n >= prefetch."""
        raise NotImplementedError

    def payloads(self, keys: list[str]) -> dict[str, dict]:
        """The payloads of some points, by point id."""
        raise NotImplementedError

    def metadata_candidates(self, meta: np.ndarray, n: int, flt: SearchFilter | None) -> list[tuple[str, float]]:
        """The ``n`` motions whose metadata vectors are nearest ``meta`` (exact, first windows: every window of a
        motion carries the same one), best first: (motion id, cosine)."""
        raise NotImplementedError

    def optimize(self) -> None:
        """Build what a bulk ingest left for later (the embedded index's segments, a server's HNSW graph)."""

    def all_records(self, flt: SearchFilter | None = None) -> list[MotionRecord]:
        records, total = self.list(0, 1_000_000, flt)
        return records

    def __len__(self) -> int:
        """How many motions (not windows)."""
        raise NotImplementedError

    def points(self) -> int:
        """How many points: windows of every motion."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _check(self, tokens: np.ndarray, weights: np.ndarray) -> None:
        if tokens.ndim != 2 or tokens.shape[1] != self.dim or len(weights) != len(tokens) or not len(tokens):
            raise ValueError(f"expected (L, {self.dim}) tokens and (L,) weights, got {tokens.shape}, {weights.shape}")

    def depth(self) -> tuple[int, int]:
        """How many points the pooled prefetch passes on, and how many of those MaxSim passes to the exact
        rescoring; candidates >= prefetch skips MaxSim. The embedded index rescores every prefetched point:
        its tokens are local, and Eq. 8 in numpy over them costs less than a MaxSim stage and ranks better
        (the pooled vector carries the motion's token weights, the second direction of Eq. 8, which MaxSim
        leaves out). Prefetch: 0.2 % of the points, at least 100, at most 500: on 1,000,000 synthetic
        motions prefetching 250, 500 or 1,000 found the same share of the exact top 10, and 500 costs half
        of 1,000 (bench/index_search.py measures these settings against exact float32 scoring)."""
        prefetch = min(max(self.points() // 500, 100), 500)
        return prefetch, prefetch

    def search(self, tokens: np.ndarray, weights: np.ndarray, top_k: int = 10, filter: SearchFilter | None = None,
               depth: tuple[int, int] | None = None, meta: np.ndarray | None = None,
               fusion: Fusion | None = None) -> list[Hit]:  # fmt: skip
        """The ``top_k`` hits of :meth:`ranking`."""
        return self.hits(self.ranking(tokens, weights, top_k, filter, depth, meta, fusion), top_k)

    def ranking(self, tokens: np.ndarray, weights: np.ndarray, top_k: int = 10, filter: SearchFilter | None = None,
                depth: tuple[int, int] | None = None, meta: np.ndarray | None = None,
                fusion: Fusion | None = None) -> Ranking:  # fmt: skip
        """Two-stage search: ``depth`` = (prefetch, candidates), default :meth:`depth`; exact Eq. 8 scores
        of the ``candidates`` best by MaxSim among the ``prefetch`` nearest pooled vectors (of every
        prefetched point when candidates >= prefetch). Each motion is one hit, its best window; when the
        candidates hold fewer than ``top_k`` motions (several windows of long ones), the search runs again
        twice as deep, until it has them or has seen every matching point. With ``meta`` (the query's
        sentence embedding) and ``fusion``, as many motions nearest on the metadata vector are ranked too and
        the two rankings fused per motion (:func:`server.fusion.fuse`); a hit's score is then the fused score
        (a motion found by its metadata alone is its first window)."""
        self._check(tokens, weights)
        prefetch, candidates = depth or self.depth()
        while True:
            prefetch, candidates = max(prefetch, top_k), max(candidates, top_k)
            found = self.candidates(tokens, weights, prefetch, candidates, filter)
            if not found.keys:
                scores, best = np.empty(0), []
                break
            scores = eq8_many(tokens, weights, found.tokens, found.weights, found.starts, self.aggregation,
                              found.scales)  # fmt: skip
            best = found.best_per_owner(scores, len(found.keys))  # every motion once, best window first
            if len(best) >= top_k or len(found.keys) < min(prefetch, candidates) or prefetch >= self.points():
                break
            prefetch, candidates = 2 * prefetch, 2 * candidates
        ranked = [(found.owners[i], float(scores[i])) for i in best]
        if meta is not None and fusion is not None and self.meta_dim:
            ranked = fuse(ranked, self.metadata_candidates(meta, max(prefetch, top_k), filter), fusion)
        return Ranking(ranked, {found.owners[i]: found.keys[i] for i in best}, dict(found.payloads or {}))

    def hits(self, ranking: Ranking, top_k: int) -> list[Hit]:
        """The first ``top_k`` motions of ``ranking`` as hits, with their payloads (read where not at hand)."""
        ranked = ranking.ranked[:top_k]
        keys = [ranking.keys.get(owner) or point_id(owner) for owner, _ in ranked]
        payloads = dict(ranking.payloads)
        missing = [k for k in keys if k not in payloads]
        if missing:
            payloads.update(self.payloads(missing))
        return [Hit(owner, score, payloads[k]) for (owner, score), k in zip(ranked, keys)]

    def search_exact(self, tokens: np.ndarray, weights: np.ndarray, top_k: int = 10,
                     filter: SearchFilter | None = None) -> list[Hit]:  # fmt: skip
        """Eq. 8 against every window of every matching motion (brute force), each motion as its best window."""
        self._check(tokens, weights)
        everything = Candidates.of(self.windows(filter), self.dim)
        if not everything.keys:
            return []
        scores = eq8_many(tokens, weights, everything.tokens, everything.weights, everything.starts, self.aggregation)
        return [Hit(everything.owners[i], float(scores[i]), everything.payloads[everything.keys[i]])
                for i in everything.best_per_owner(scores, top_k)]  # fmt: skip


STORED = ("kind", "window", "rows", "weights", TOKENS)  # payload fields the index adds for itself


def _payload(record: MotionRecord, **stored) -> dict:
    """The stored payload: the record's, its id and window, the mirror flag as a keyword, and ``stored``."""
    kind = "mirror" if record.payload.get("mirror") else "clip"
    return {**record.payload, "id": record.id, "window": record.window, "kind": kind, **stored}


def _public(stored: dict) -> dict:
    return {k: v for k, v in stored.items() if k not in STORED}


class EdgeIndex(MotionIndex):
    """Qdrant Edge, embedded in the process: a shard folder on disk.

    The first stage scans every pooled vector, stored as float16 (256 bytes a point at 128 dimensions):
    an HNSW graph of them, measured on the synthetic library (``bench/index_search.py``), found too few of
    the exact top 10 at any affordable ef (recall of the pooled top 100 at ef 4,000: 0.97 on 200,000
    points, lower beyond) and took minutes to build, where the float16 scan finds them all and reads
    half the bytes of float32. The scan's cost grows with the library: past a few million points a
    Qdrant server or cluster (the ``qdrant-client`` backend, HNSW on its own cores) is the way to grow."""

    def __init__(self, path: str | Path, dim: int, meta_dim: int = 0, bits: int = BITS) -> None:
        """``bits``: the token codes' width for a new index (``common.tokens``); an existing one keeps its own."""
        import qdrant_edge as q

        self.q, self.dim, self.meta_dim, self.path = q, int(dim), int(meta_dim), Path(path)
        flat = q.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10000)  # scanned exactly: no graph
        vectors = {
            POOLED: q.EdgeVectorParams(
                size=self.dim, distance=q.Distance.Dot, hnsw_config=flat, datatype=q.VectorStorageDatatype.Float16
            )
        }  # the tokens: self.store
        if self.meta_dim:  # always scanned exactly too (see metadata_candidates)
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
        stored = [b for b in sorted(CODES) if (self.path / TokenStore.file(b)).exists()]
        self.store = TokenStore(self.path, self.dim, stored[0] if stored else bits)
        size = self.shard.count(q.CountRequest(exact=True))
        everything = q.ScrollRequest(limit=size + 1, with_payload=q.PayloadSelector.Include(["rows", "id"]))
        points, _ = self.shard.scroll(everything)
        self.spans = {str(p.id): tuple(p.payload["rows"]) for p in points}  # point id -> its rows in the store
        self.owners = {str(p.id): p.payload["id"] for p in points}  # point id -> its motion's id
        self.keys: dict[str, list[str]] = {}  # motion id -> its points
        for key, owner in self.owners.items():
            self.keys.setdefault(owner, []).append(key)

    def _index_payload(self) -> None:
        """Payload indexes for the filtered fields: without them a filter reads every point's whole payload."""
        q = self.q
        have = set(self.shard.info().payload_schema)
        for name, kind in PAYLOAD_INDEXES.items():
            if name not in have:
                self.shard.update(q.UpdateOperation.create_field_index(name, getattr(q.PayloadSchemaType, kind)))

    def _filter(self, flt: SearchFilter | None, motions: bool = False):
        """The Qdrant filter of ``flt``; ``motions``: first windows only (one point per motion)."""
        q = self.q
        must = [q.FieldCondition("window", match=q.MatchValue(0))] if motions else []
        flt = flt or SearchFilter()
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
            vectors = {POOLED: pooled(r.tokens, r.weights).tolist()}
            if r.meta is not None and self.meta_dim:
                vectors[META] = np.asarray(r.meta, np.float32).tolist()
            points.append(self.q.Point(point_id(r.id, r.window), vectors, _payload(r, rows=list(span))))
        self.shard.update(self.q.UpdateOperation.upsert_points(points))
        new: dict[str, list[str]] = {}
        for r, point, span in zip(records, points, spans):
            key = str(point.id)
            self.spans[key], self.owners[key] = span, r.id
            new.setdefault(r.id, []).append(key)
        stale = [k for motion_id, keys in new.items() for k in self.keys.get(motion_id, []) if k not in keys]
        if stale:  # windows a shorter new version of a motion no longer has
            self.shard.update(self.q.UpdateOperation.delete_points(stale))
            self._forget(stale)
        self.shard.flush()
        self.keys.update(new)

    def _forget(self, keys: list[str]) -> None:
        for key in keys:
            del self.spans[key], self.owners[key]

    def delete(self, ids: list[str]) -> int:
        present = [i for i in dict.fromkeys(ids) if i in self.keys]
        keys = [k for i in present for k in self.keys.pop(i)]
        if keys:
            self.shard.update(self.q.UpdateOperation.delete_points(keys))
            self.shard.flush()
            self._forget(keys)
        return len(present)

    def _record(self, stored: dict) -> MotionRecord:
        tokens, weights = self.store.read(*stored["rows"])
        return MotionRecord(stored["id"], tokens, weights, _public(stored), stored["window"])

    def get(self, motion_id: str) -> MotionRecord | None:
        found = self.shard.retrieve([point_id(motion_id)], True, False)
        return self._record(found[0].payload) if found else None

    def list(self, offset: int, limit: int, flt: SearchFilter | None = None) -> tuple[list[MotionRecord], int]:
        total = self.shard.count(self.q.CountRequest(exact=True, filter=self._filter(flt, motions=True)))
        if offset >= total:
            return [], total
        # ordered by motion id (point ids are hashes): every matching id is read, the page's payloads only
        points, _ = self.shard.scroll(
            self.q.ScrollRequest(
                limit=total, filter=self._filter(flt, motions=True), with_payload=self.q.PayloadSelector.Include(["id"])
            )
        )
        page = sorted(p.payload["id"] for p in points)[offset : offset + limit]
        found = {p.payload["id"]: p for p in self.shard.retrieve([point_id(i) for i in page], True, False)}
        return [self._record(found[i].payload) for i in page], total

    def windows(self, flt: SearchFilter | None = None) -> list[MotionRecord]:
        points, _ = self.shard.scroll(self.q.ScrollRequest(limit=len(self.spans) + 1, filter=self._filter(flt),
                                                           with_payload=True))  # fmt: skip
        return [self._record(p.payload) for p in points]

    def candidates(self, tokens, weights, prefetch, n, flt):
        """Every prefetched point (``n`` is not used: the shard holds no tokens, so there is no MaxSim stage)."""
        q = self.q
        request = q.QueryRequest(limit=prefetch, query=q.Query.Nearest(pooled(tokens, weights).tolist(), using=POOLED),
                                 filter=self._filter(flt), params=self.q.SearchParams(exact=True), with_payload=False,
                                 with_vector=False)  # fmt: skip
        keys = [str(p.id) for p in self.shard.query(request)]
        codes, scales, weights, starts = self.store.gather([self.spans[k] for k in keys])
        return Candidates(keys, [self.owners[k] for k in keys], codes, weights, starts, scales=scales)

    def payloads(self, keys: list[str]) -> dict[str, dict]:
        return {str(p.id): _public(p.payload) for p in self.shard.retrieve(keys, True, False)}

    def metadata_candidates(self, meta, n, flt):
        q = self.q
        request = q.QueryRequest(limit=n, query=q.Query.Nearest(np.asarray(meta, np.float32).tolist(), using=META),
                                 filter=self._filter(flt, motions=True), params=q.SearchParams(exact=True),
                                 with_payload=False, with_vector=False)  # fmt: skip
        return [(self.owners[str(p.id)], float(p.score)) for p in self.shard.query(request)]

    def optimize(self) -> None:
        """Merge the segments a bulk ingest left (Qdrant's optimizer)."""
        self.shard.optimize()

    def __len__(self) -> int:
        return len(self.keys)

    def points(self) -> int:
        return len(self.spans)

    def close(self) -> None:
        self.shard.close()
        self.store.close()


class QdrantClientIndex(MotionIndex):
    """The same index over ``qdrant-client``: a Qdrant server or cluster (url, api_key, collection), or
    its local mode (``path`` or ":memory:") for tests. Filters and queries are the client's models.

    A remote deployment keeps everything on the server, which holds the library for every replica of
    motionsearch (no file beside it can): the pooled vector (HNSW), the token multivector (int8
    scalar-quantized, kept in RAM: the MaxSim stage runs there, so few candidates' tokens cross the
    network) and the tokens and weights once more in the payload, packed as the token store packs them
    (``common.tokens``, one hex string per point: asking for the multivectors returns thousands of Python
    floats per motion) for the exact rescoring: 16-bit codes, 27 kB of payload per motion of 104 tokens."""

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
                                            hnsw_config=models.HnswConfigDiff(m=0),
                                            quantization_config=models.ScalarQuantization(
                                                scalar=models.ScalarQuantizationConfig(
                                                    type=models.ScalarType.INT8, always_ram=True))),
            }  # fmt: skip
            if self.meta_dim:
                vectors[META] = models.VectorParams(size=self.meta_dim, distance=models.Distance.DOT)
            self.client.create_collection(collection, vectors_config=vectors)

    def _filter(self, flt: SearchFilter | None, motions: bool = False):
        m = self.m
        must = [m.FieldCondition(key="window", match=m.MatchValue(value=0))] if motions else []
        flt = flt or SearchFilter()
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
            stored = {TOKENS: pack(r.tokens, r.weights).tobytes().hex()}  # 16-bit codes; hex: 5x faster than base64
            points.append(
                self.m.PointStruct(id=point_id(r.id, r.window), vector=vectors, payload=_payload(r, **stored))
            )
        self.client.upsert(self.collection, points, wait=True)
        m, windows = self.m, {}
        for r in records:
            windows[r.id] = max(windows.get(r.id, 0), r.window + 1)
        stale = m.Filter(should=[m.Filter(must=[m.FieldCondition(key="id", match=m.MatchValue(value=i)),
                                                m.FieldCondition(key="window", range=m.Range(gte=n))])
                                 for i, n in windows.items()])  # fmt: skip
        if windows:  # (an empty "should" would match every point)
            self.client.delete(self.collection, m.FilterSelector(filter=stale), wait=True)  # windows no longer there

    def delete(self, ids: list[str]) -> int:
        m = self.m
        present = [i for i in dict.fromkeys(ids) if self.get(i) is not None]
        if present:
            every = m.Filter(must=[m.FieldCondition(key="id", match=m.MatchAny(any=present))])
            self.client.delete(self.collection, m.FilterSelector(filter=every), wait=True)
        return len(present)

    def get(self, motion_id: str) -> MotionRecord | None:
        found = self.client.retrieve(self.collection, [point_id(motion_id)], with_payload=True, with_vectors=False)
        return self._record(found[0].payload) if found else None

    def _record(self, stored: dict) -> MotionRecord:
        codes, scales, weights = unpack(
            np.frombuffer(bytes.fromhex(stored[TOKENS]), np.uint8).reshape(-1, row_bytes(self.dim))
        )
        return MotionRecord(stored["id"], dequantize(codes, scales), weights, _public(stored), stored["window"])

    def list(self, offset: int, limit: int, flt: SearchFilter | None = None) -> tuple[list[MotionRecord], int]:
        motions = self._filter(flt, motions=True)
        total = self.client.count(self.collection, count_filter=motions, exact=True).count
        if offset >= total:
            return [], total
        points, _ = self.client.scroll(self.collection, scroll_filter=motions, limit=total,
                                       with_payload=["id"])  # fmt: skip
        page = sorted(p.payload["id"] for p in points)[offset : offset + limit]
        found = {p.payload["id"]: p for p in self.client.retrieve(self.collection, [point_id(i) for i in page],
                                                                  with_payload=True, with_vectors=False)}  # fmt: skip
        return [self._record(found[i].payload) for i in page], total

    def windows(self, flt: SearchFilter | None = None) -> list[MotionRecord]:
        points, _ = self.client.scroll(self.collection, scroll_filter=self._filter(flt), limit=self.points() + 1,
                                       with_payload=True)  # fmt: skip
        return [self._record(p.payload) for p in points]

    def depth(self) -> tuple[int, int]:
        """Three stages here: the candidates' tokens travel from the server as payload copies (~50 kB each),
        so MaxSim on the server keeps them few: prefetch 2 % of the library (200 to 2,000), candidates
        0.2 % (50 to 200). The server searches its HNSW graph at ef = 4 x prefetch (a server does a full
        scan itself while a segment is below its indexing threshold)."""
        size = self.points()
        return min(max(size // 50, 200), 2000), min(max(size // 500, 50), 200)

    def candidates(self, tokens, weights, prefetch, n, flt):
        m = self.m
        flt = self._filter(flt)
        first = m.Prefetch(query=pooled(tokens, weights).tolist(), using=POOLED, limit=prefetch, filter=flt,
                           params=m.SearchParams(hnsw_ef=hnsw_ef(prefetch)))  # fmt: skip
        points = self.client.query_points(self.collection, prefetch=first, query=folded(tokens, weights).tolist(),
                                          using=TOKENS, limit=n, query_filter=flt, with_payload=True,
                                          with_vectors=False).points  # fmt: skip
        return Candidates.of([self._record(p.payload) for p in points], self.dim)

    def payloads(self, keys: list[str]) -> dict[str, dict]:
        found = self.client.retrieve(self.collection, keys, with_payload=True, with_vectors=False)
        return {str(p.id): _public(p.payload) for p in found}

    def metadata_candidates(self, meta, n, flt):
        exact = self.m.SearchParams(exact=True)
        points = self.client.query_points(self.collection, query=np.asarray(meta, np.float32).tolist(), using=META,
                                          limit=n, query_filter=self._filter(flt, motions=True), with_payload=["id"],
                                          with_vectors=False, search_params=exact).points  # fmt: skip
        return [(p.payload["id"], float(p.score)) for p in points]

    def __len__(self) -> int:
        return self.client.count(self.collection, count_filter=self._filter(None, motions=True), exact=True).count

    def points(self) -> int:
        return self.client.count(self.collection, exact=True).count

    def close(self) -> None:
        self.client.close()


def open_index(spec: str, dim: int, aggregation: str = "max", meta_dim: int = 0) -> MotionIndex:
    """``edge:PATH`` (or a bare path), ``qdrant:URL?collection=NAME`` (API key from $QDRANT_API_KEY),
    ``qdrant-local:PATH``; scoring with Eq. 8's ``aggregation`` (the model's, ``server.similarity``);
    ``meta_dim``: the size of the metadata vector (0: none)."""
    Similarity(aggregation=aggregation)  # first, a clear error for an aggregation Eq. 8 does not have
    index = _open_backend(spec, dim, meta_dim)
    index.aggregation = aggregation
    return index


def _open_backend(spec: str, dim: int, meta_dim: int) -> MotionIndex:
    import os

    kind, _, rest = spec.partition(":") if ":" in spec else ("edge", "", spec)
    if kind == "edge":
        path, _, bits = rest.rpartition("?bits=") if "?bits=" in rest else (rest, "", str(BITS))
        return EdgeIndex(path, dim, meta_dim, int(bits))
    if kind == "qdrant":
        url = urlparse(rest)
        collection = parse_qs(url.query).get("collection", ["motions"])[0]
        return QdrantClientIndex(dim, url=url._replace(query="").geturl(), api_key=os.environ.get("QDRANT_API_KEY"),
                                 collection=collection, meta_dim=meta_dim)  # fmt: skip
    if kind == "qdrant-local":
        return QdrantClientIndex(dim, path=rest, meta_dim=meta_dim)
    raise ValueError(f"unknown index {spec!r}: edge:PATH[?bits=8|16], qdrant:URL?collection=NAME or "
                     "qdrant-local:PATH")  # fmt: skip
