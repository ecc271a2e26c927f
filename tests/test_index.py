"""The motion index on real Qdrant Edge and real qdrant-client (local mode): Eq. 8 scores, two-stage
recall against brute force, filters, persistence, and identical rankings on both backends."""

from __future__ import annotations

import numpy as np
import pytest

from common.tokens import roundtrip
from server.index import EdgeIndex, MotionRecord, QdrantClientIndex, SearchFilter, open_index
from server.token_store import TokenStore

D = 32


def library(n: int, seed: int = 0) -> list[MotionRecord]:
    """Motions like real embeddings: 8-40 unit tokens scattered around a per-motion centre, weights summing to 1."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        tokens = rng.normal(size=D) + 0.6 * rng.normal(size=(int(rng.integers(8, 40)), D))
        tokens /= np.linalg.norm(tokens, axis=1, keepdims=True)
        weights = rng.random(len(tokens)) + 0.1
        payload = {"name": f"clip {i}", "content": ("walk", "run", "wave")[i % 3], "style": ("normal", "tired")[i % 2],
                   "seconds": float(1 + i % 9), "source": "a" if i < n // 2 else "b", "mirror": i % 4 == 0}  # fmt: skip
        weights = (weights / weights.sum()).astype(np.float32)
        records.append(MotionRecord(f"m{i:05d}", tokens.astype(np.float32), weights, payload))
    return records


def reference(q: MotionRecord, m: MotionRecord) -> float:
    """Eq. 8 written as loops."""
    forward = sum(a * max(float(qi @ mj) for mj in m.tokens) for qi, a in zip(q.tokens, q.weights))
    backward = sum(b * max(float(qi @ mj) for qi in q.tokens) for mj, b in zip(m.tokens, m.weights))
    return 0.5 * (forward + backward)


@pytest.fixture(scope="module")
def records() -> list[MotionRecord]:
    return library(2000)


@pytest.fixture(scope="module")
def edge(tmp_path_factory, records):
    index = EdgeIndex(tmp_path_factory.mktemp("edge") / "index", D)
    index.upsert(records)
    index.optimize()
    yield index
    index.close()


def test_exact_search_is_eq8_of_the_stored_tokens(edge, records):
    query = library(1, seed=7)[0]
    hits = edge.search_exact(query.tokens, query.weights, top_k=2000)
    stored = [MotionRecord(r.id, roundtrip(r.tokens), r.weights, r.payload) for r in records]  # int8 codes and scales
    expected = sorted(((reference(query, r), r.id) for r in stored), reverse=True)
    assert [h.id for h in hits[:20]] == [i for _, i in expected[:20]]
    np.testing.assert_allclose([h.score for h in hits[:20]], [s for s, _ in expected[:20]], atol=1e-5)
    full = {r.id: reference(query, r) for r in records}  # the float32 tokens' scores: within the codes' rounding
    np.testing.assert_allclose([h.score for h in hits], [full[h.id] for h in hits], atol=2e-3)


def test_two_stage_search_finds_the_exact_top10(edge, records):
    overlaps = []
    for seed in range(50):
        query = library(1, seed=100 + seed)[0] if seed % 2 else records[seed * 31]
        fast = {h.id for h in edge.search(query.tokens, query.weights, top_k=10)}
        exact = {h.id for h in edge.search_exact(query.tokens, query.weights, top_k=10)}
        overlaps.append(len(fast & exact) / 10)
    assert np.mean(overlaps) >= 0.99, overlaps
    own = records[5]
    assert edge.search(own.tokens, own.weights, top_k=1)[0].id == own.id  # a motion finds itself


def test_filters(edge):
    q = library(1, seed=3)[0]
    flt = SearchFilter(contents=["walk", "wave"], styles=["tired"], min_seconds=2, max_seconds=6, source="b",
                       include_mirrors=False)  # fmt: skip
    hits = edge.search(q.tokens, q.weights, top_k=50, filter=flt)
    assert hits
    for h in hits:
        p = h.payload
        assert p["content"] in ("walk", "wave") and p["style"] == "tired" and 2 <= p["seconds"] <= 6
        assert p["source"] == "b" and not p["mirror"]
    exact = edge.search_exact(q.tokens, q.weights, top_k=50, filter=flt)
    assert [h.id for h in hits[:10]] == [h.id for h in exact[:10]]
    assert edge.search(q.tokens, q.weights, filter=SearchFilter(contents=["moonwalk"])) == []


def test_get_list_delete_and_reopen(tmp_path):
    records = library(30, seed=1)
    index = open_index(f"edge:{tmp_path / 'index'}", D)
    index.upsert(records)
    assert index.get("nope") is None
    got = index.get("m00003")
    np.testing.assert_allclose(got.tokens, roundtrip(records[3].tokens), atol=1e-7)  # stored as int8 codes
    np.testing.assert_allclose(got.weights, records[3].weights, atol=1e-6)
    assert got.payload["content"] == records[3].payload["content"]
    pages = [index.list(offset, 7)[0] for offset in range(0, 30, 7)]
    assert sorted(r.id for page in pages for r in page) == sorted(r.id for r in records)
    assert index.list(0, 7, SearchFilter(contents=["run"]))[1] == 10
    assert index.delete(["m00003", "nope"]) == 1 and len(index) == 29
    before = [h.id for h in index.search(records[9].tokens, records[9].weights, top_k=5)]
    index.close()
    reopened = EdgeIndex(tmp_path / "index", D)
    assert len(reopened) == 29 and reopened.get("m00003") is None
    assert [h.id for h in reopened.search(records[9].tokens, records[9].weights, top_k=5)] == before
    reopened.close()
    with pytest.raises(ValueError, match="does not fit"):
        EdgeIndex(tmp_path / "index", D * 2)


def test_a_write_torn_by_a_crash_leaves_the_index_usable(tmp_path):
    records = library(12, seed=2)
    index = EdgeIndex(tmp_path / "index", D)
    index.upsert(records[:10])
    index.close()
    with open(tmp_path / "index" / TokenStore.file(), "ab") as file:  # rows of a batch the crash cut short
        file.write(b"\x07" * (3 * TokenStore(tmp_path / "index", D).width + 100))
    reopened = EdgeIndex(tmp_path / "index", D)
    assert len(reopened) == 10
    np.testing.assert_allclose(reopened.get("m00009").tokens, roundtrip(records[9].tokens), atol=1e-7)
    reopened.upsert(records[10:])
    for r in (records[4], records[11]):
        assert reopened.search(r.tokens, r.weights, top_k=1)[0].id == r.id
        np.testing.assert_allclose(reopened.get(r.id).weights, r.weights, atol=1e-6)
    reopened.close()


def test_qdrant_client_backend_ranks_like_edge(edge, records, tmp_path):
    client = QdrantClientIndex(D, path=str(tmp_path / "local"))
    client.upsert(records[:600])
    small = EdgeIndex(tmp_path / "edge", D)
    small.upsert(records[:600])
    assert small.depth() == (100, 100) and client.depth() == (200, 50)
    for seed in range(5):
        q = library(1, seed=200 + seed)[0]
        for flt in (None, SearchFilter(contents=["run"], include_mirrors=False)):
            for depth in ((200, 50), (100, 100)):  # with the MaxSim stage (qdrant-client's default) and without
                a = [h.id for h in small.search(q.tokens, q.weights, top_k=10, filter=flt, depth=depth)]
                b = [h.id for h in client.search(q.tokens, q.weights, top_k=10, filter=flt, depth=depth)]
                assert a == b
    assert client.search(q.tokens, q.weights, filter=SearchFilter(contents=["moonwalk"])) == []
    client.close()
    small.close()


def test_bad_vectors_are_refused(edge):
    with pytest.raises(ValueError, match="tokens"):
        edge.search(np.zeros((3, D + 1), np.float32), np.ones(3, np.float32) / 3)
    with pytest.raises(ValueError, match="unknown index"):
        open_index("redis://x", D)


def windowed(records: list[MotionRecord], windows: int) -> list[MotionRecord]:
    """Each motion as ``windows`` points: its own tokens, then noisier copies, each with its time range."""
    rng = np.random.default_rng(5)
    out = []
    for r in records:
        for k in range(windows):
            tokens = r.tokens + (0.3 * k) * rng.normal(size=r.tokens.shape).astype(np.float32)
            tokens /= np.linalg.norm(tokens, axis=1, keepdims=True)
            span = {"start_seconds": 4.9 * k, "end_seconds": 4.9 * k + 9.8}
            out.append(MotionRecord(r.id, tokens.astype(np.float32), r.weights, r.payload | span, k))
    return out


@pytest.mark.parametrize("backend", ["edge", "qdrant-client"])
def test_windows_of_long_motions_give_one_hit_each(tmp_path, backend):
    motions = library(150, seed=4)
    points = windowed(motions[:30], 6) + motions[30:]  # 30 long takes of 6 windows, 120 short clips
    index = EdgeIndex(tmp_path / "edge", D) if backend == "edge" else QdrantClientIndex(D, path=str(tmp_path / "q"))
    index.upsert(points)
    assert len(index) == 150 and index.points() == 30 * 6 + 120
    assert index.list(0, 1000)[1] == 150 and sorted(r.id for r in index.list(0, 1000)[0]) == [m.id for m in motions]
    assert index.get(motions[2].id).window == 0 and index.get(motions[2].id).payload["start_seconds"] == 0.0
    # the query is the third window of a take: that take first, as that window, once
    query = points[2 * 6 + 2]
    shallow = index.search(query.tokens, query.weights, top_k=10, depth=(10, 10))  # too few motions: it deepens
    assert len({h.id for h in shallow}) == 10 and shallow[0].id == motions[2].id
    hits = index.search(query.tokens, query.weights, top_k=10, depth=(index.points(), index.points()))  # all
    ids = [h.id for h in hits]
    assert len(set(ids)) == 10 and ids[0] == motions[2].id
    assert hits[0].payload["start_seconds"] == pytest.approx(4.9 * 2) and hits[0].score == pytest.approx(1, abs=2e-3)
    exact = index.search_exact(query.tokens, query.weights, top_k=10)
    assert [h.id for h in exact] == ids
    assert [h.payload.get("start_seconds") for h in exact] == [h.payload.get("start_seconds") for h in hits]
    # a new, shorter version of a take drops its windows past the new end; deleting drops all of them
    index.upsert(windowed([motions[2]], 2))
    assert index.points() == 30 * 6 + 120 - 4 and len(index) == 150
    assert index.delete([motions[2].id, motions[40].id, "nope"]) == 2
    assert len(index) == 148 and index.points() == 29 * 6 + 119
    assert motions[2].id not in {h.id for h in index.search(query.tokens, query.weights, top_k=150)}
    index.close()


def test_an_index_keeps_the_code_width_it_was_built_with(tmp_path):
    records = library(20, seed=3)
    index = open_index(f"edge:{tmp_path / 'index'}?bits=8", D)
    index.upsert(records)
    index.close()
    assert (tmp_path / "index" / TokenStore.file(8)).exists() and not (tmp_path / "index" / TokenStore.file()).exists()
    reopened = open_index(f"edge:{tmp_path / 'index'}", D)  # the default is 16-bit: the 8-bit store is still read
    np.testing.assert_allclose(reopened.get(records[3].id).tokens, roundtrip(records[3].tokens, 8), atol=1e-7)
    assert reopened.search(records[3].tokens, records[3].weights, top_k=1)[0].id == records[3].id
    reopened.close()
