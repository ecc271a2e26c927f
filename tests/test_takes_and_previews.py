"""Long takes found by the moment, and previews, on the live server over the demo library.

A take made of whole demo clips (walk + kick + walk, written with the motion layer as one BVH)
is ingested through IngestMotions; a text search must return it as its kick, GetMotion must cut
out exactly that range, and the CLI must save it with its previews. Every motion of the demo
library gets a decodable preview, the second time from the cache.
"""

from __future__ import annotations

import io
import statistics
import time

import grpc
import numpy as np
import pytest
from PIL import Image

from motion.bvh import BvhMotion, read_bvh, write_bvh
from motionsearch.v1 import motionsearch_pb2 as pb
from motionsearch.v1 import motionsearch_pb2_grpc as pb_grpc
from server.client import main as client_main
from server.preview import SIZE, STRIP

WALK, KICK = "dataset-1_walk_not-confident_002", "dataset-1_kick_normal_001"
TAKE = "take_walk_kick_walk"


def concatenate(parts: list[BvhMotion]) -> BvhMotion:
    """One BVH motion of several on the same skeleton, each part's root carried on from where the last ended
    (horizontally), so the take walks on instead of jumping back."""
    skeleton, values = parts[0].skeleton, [parts[0].values]
    root = skeleton.parents.index(-1)
    columns = [skeleton.channel_starts[root] + k for k, name in enumerate(skeleton.channels[root])
               if name.lower() in ("xposition", "zposition")]  # fmt: skip
    for part in parts[1:]:
        assert part.skeleton.names == skeleton.names and part.frame_time == pytest.approx(parts[0].frame_time)
        shifted = part.values.copy()
        shifted[:, columns] += values[-1][-1, columns] - shifted[0, columns]
        values.append(shifted)
    return BvhMotion(skeleton, parts[0].frame_time, np.concatenate(values), "take")


@pytest.fixture(scope="module")
def stub(server_address):
    with grpc.insecure_channel(server_address) as channel:
        yield pb_grpc.MotionSearchStub(channel)


@pytest.fixture(scope="module")
def take(stub, demo_clips, tmp_path_factory):
    """The take ingested into the live server: its path, and the kick's range in seconds. Deleted afterwards, so
    the other tests see the demo library as it was."""
    folder = demo_clips[0].parent
    walk, kick = read_bvh(folder / f"{WALK}.bvh"), read_bvh(folder / f"{KICK}.bvh")
    path = tmp_path_factory.mktemp("take") / f"{TAKE}.bvh"
    write_bvh(path, concatenate([walk, kick, walk]))
    requests = [pb.IngestRequest(file=pb.IngestFile(name=path.name, content="take", style="mixed")),
                pb.IngestRequest(chunk=path.read_bytes())]  # fmt: skip
    report = stub.IngestMotions(iter(requests))
    assert [m.id for m in report.added] == [TAKE] and not report.failed
    start = walk.n_frames / walk.fps
    yield path, (start, start + kick.n_frames / kick.fps)
    assert stub.DeleteMotions(pb.DeleteMotionsRequest(ids=[TAKE])).deleted == 2


def test_a_long_take_is_found_by_its_kick_and_streams_that_range(stub, take):
    path, (kick_start, kick_end) = take
    response = stub.SearchText(pb.SearchTextRequest(text="a person kicks", options=pb.SearchOptions(top_k=5)))
    ids = [h.motion.id for h in response.hits]
    # found among the fighting clips (the kick itself, a slash, a punch rank above it), once: its best window
    assert TAKE in ids and len(set(ids)) == len(ids), ids
    hit = response.hits[ids.index(TAKE)]
    whole = read_bvh(path)
    take_seconds = whole.n_frames / whole.fps
    assert hit.motion.seconds == pytest.approx(take_seconds, abs=1e-3)
    assert hit.end_seconds - hit.start_seconds < take_seconds - 5  # a part of the take, not all of it
    assert kick_start - 1 <= hit.start_seconds < hit.end_seconds <= kick_end + 1, (hit, kick_start, kick_end)
    # GetMotion with the hit's range: exactly those frames of the take
    request = pb.GetMotionRequest(id=TAKE, start_seconds=hit.start_seconds, end_seconds=hit.end_seconds)
    out = path.with_name("part.bvh")
    out.write_bytes(b"".join(c.data for c in stub.GetMotion(request)))
    part = read_bvh(out)
    first, stop = round(hit.start_seconds * whole.fps), round(hit.end_seconds * whole.fps)
    assert part.n_frames == stop - first
    np.testing.assert_allclose(part.values, whole.values[first:stop], atol=1e-3)
    # the walks alone are the clip's other windows: a walk query ranks the take by one of them, outside the kick
    walking = stub.SearchText(pb.SearchTextRequest(text="a person walks", options=pb.SearchOptions(top_k=50)))
    walk_hit = next(h for h in walking.hits if h.motion.id == TAKE)
    assert walk_hit.start_seconds < kick_start or walk_hit.end_seconds > kick_end


def test_short_clips_are_one_window_covering_the_clip(stub):
    response = stub.SearchText(pb.SearchTextRequest(text="a person waves", options=pb.SearchOptions(top_k=20)))
    short = [h for h in response.hits if h.motion.seconds <= 9.8]
    assert short and all(h.start_seconds == 0 and h.end_seconds == pytest.approx(h.motion.seconds) for h in short)


def test_the_cli_saves_the_hits_range_and_previews(server_address, take, tmp_path):
    path, _ = take
    assert client_main(["--address", server_address, "search", "a person kicks", "--top", "5",
                        "--save", str(tmp_path)]) == 0  # fmt: skip
    saved = next(tmp_path.glob(f"*_{TAKE}.bvh"))
    assert read_bvh(saved).n_frames < read_bvh(path).n_frames  # the matched part only
    for suffix, kind in ((".webp", "WEBP"), (".png", "PNG")):
        with Image.open(saved.with_suffix(suffix)) as image:
            assert image.format == kind
    assert len(list(tmp_path.glob("*.png"))) == len(list(tmp_path.glob("*.bvh"))) == 5
    assert client_main(["--address", server_address, "preview", TAKE, "--start", "6", "--end", "9",
                        "--out", str(tmp_path / "p")]) == 0  # fmt: skip
    with Image.open(tmp_path / "p" / f"{TAKE}.webp") as image:
        assert image.n_frames == 30  # 3 s at 10 frames per second


def decoded(preview: pb.Preview) -> tuple[Image.Image, Image.Image]:
    animation, strip = Image.open(io.BytesIO(preview.animation)), Image.open(io.BytesIO(preview.strip))
    for image in (animation, strip):
        for frame in range(getattr(image, "n_frames", 1)):  # decode every frame
            image.seek(frame)
            image.load()
    return animation, strip


def test_every_motion_has_a_preview_and_the_second_comes_from_the_cache(stub, served_library, demo_clips):
    ids = [c.stem for c in demo_clips] + ["M" + c.stem for c in demo_clips]
    for motion_id in ids:
        preview = stub.GetPreview(pb.GetPreviewRequest(id=motion_id))
        animation, strip = decoded(preview)
        assert preview.animation_type == "image/webp" and animation.format == "WEBP" and strip.format == "PNG"
        assert animation.size == (SIZE, SIZE) and animation.n_frames == preview.frames >= 2
        assert strip.size == (STRIP * SIZE, SIZE)
        seconds = served_library.record(motion_id).payload["seconds"]
        assert preview.start_seconds == 0 and preview.end_seconds == pytest.approx(seconds)
        assert np.asarray(strip.convert("RGB")).std() > 10  # a drawing, not a blank
    cache = served_library.previews
    assert len(list(cache.glob("*.webp"))) >= len(ids)
    stamps = {p: p.stat().st_mtime_ns for p in cache.iterdir()}
    first = stub.GetPreview(pb.GetPreviewRequest(id=ids[0]))
    times = []
    for motion_id in ids[:20]:
        start = time.perf_counter()
        again = stub.GetPreview(pb.GetPreviewRequest(id=motion_id))
        times.append((time.perf_counter() - start) * 1000)
        assert again.animation and again.frames >= 2
    assert {p: p.stat().st_mtime_ns for p in cache.iterdir()} == stamps  # nothing drawn again
    assert first == stub.GetPreview(pb.GetPreviewRequest(id=ids[0]))
    assert statistics.median(times) <= 30, times


def test_a_preview_of_a_range_and_bad_ranges(stub, demo_clips):
    clip = next(c for c in demo_clips if KICK in c.name)
    part = stub.GetPreview(pb.GetPreviewRequest(id=clip.stem, start_seconds=2.0, end_seconds=4.5))
    assert part.frames == 25 and part.start_seconds == 2.0 and part.end_seconds == 4.5
    assert decoded(part)[0].n_frames == 25
    for request, code in ((pb.GetPreviewRequest(id=clip.stem, start_seconds=3, end_seconds=2), "INVALID_ARGUMENT"),
                          (pb.GetPreviewRequest(id=clip.stem, start_seconds=500), "INVALID_ARGUMENT"),
                          (pb.GetPreviewRequest(id=clip.stem, end_seconds=float("nan")), "INVALID_ARGUMENT"),
                          (pb.GetPreviewRequest(id="../x"), "INVALID_ARGUMENT"),
                          (pb.GetPreviewRequest(id="no_such_clip"), "NOT_FOUND")):  # fmt: skip
        with pytest.raises(grpc.RpcError) as info:
            stub.GetPreview(request)
        assert info.value.code().name == code, (request, info.value.details())


def test_deleting_a_motion_deletes_its_previews(stub, served_library, demo_clips, tmp_path):
    source = read_bvh(demo_clips[1])
    path = tmp_path / "short_copy.bvh"
    write_bvh(path, BvhMotion(source.skeleton, source.frame_time, source.values[: source.n_frames // 2], "copy"))
    requests = [pb.IngestRequest(file=pb.IngestFile(name=path.name)), pb.IngestRequest(chunk=path.read_bytes())]
    assert [m.id for m in stub.IngestMotions(iter(requests)).added] == ["short_copy"]
    stub.GetPreview(pb.GetPreviewRequest(id="short_copy"))
    stub.GetPreview(pb.GetPreviewRequest(id="Mshort_copy"))
    assert len(list(served_library.previews.glob("*short_copy~*"))) == 4
    stub.DeleteMotions(pb.DeleteMotionsRequest(ids=["short_copy"]))
    assert not list(served_library.previews.glob("*short_copy~*"))
