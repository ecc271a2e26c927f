"""Hardening (issue 17): each finding of the live probe as a test on a real loopback server.

Bombs (images, audio, BVH frame time) are refused from their headers in under a second and without memory
growth; idle client streams neither hang nor starve other calls; NaN and infinity anywhere are
INVALID_ARGUMENT; uploads never take over an id; a delete checks every id first; status messages carry no
server paths or object reprs; a non-loopback bind needs a token; TLS with a token works end to end.
"""

from __future__ import annotations

import io
import logging
import math
import shutil
import subprocess
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import soundfile as sf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image

from motion.bvh import read_bvh, write_bvh
from motion.resample import crop_bvh
from motionsearch.v1 import motionsearch_pb2 as pb
from motionsearch.v1 import motionsearch_pb2_grpc as pb_grpc
from server.auth import check_exposure, is_loopback
from server.limits import Limits
from server.serve import build_server
from server.serve import main as serve_main

IDLE = 3.0  # this server's stream idle timeout (the default is 10 s)
OK_SECONDS, OK_MB = 1.0, 200
Code = grpc.StatusCode


@pytest.fixture(scope="module")
def served(library_server):
    return library_server(6, Limits(stream_idle_seconds=IDLE, stream_total_seconds=30), workers=16)


@pytest.fixture(scope="module")
def library(served):
    return served[0]


@pytest.fixture(scope="module")
def clips(library) -> list:
    """The library's clips (not mirrors): their files, by id."""
    records, _ = library.index.list(0, 100, None)
    return sorted(Path(r.payload["path"]) for r in records if not r.payload["mirror"])


@pytest.fixture(scope="module")
def channel(served):
    with grpc.insecure_channel(served[1]) as channel:
        yield channel


@pytest.fixture(scope="module")
def stub(channel):
    return pb_grpc.MotionSearchStub(channel)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))


def refused(call, code: Code, seconds: float = OK_SECONDS) -> str:
    """Run ``call``: it must fail with ``code`` within ``seconds``, grow RSS by < 200 MB and say nothing of the
    server's paths or objects. Returns the message."""
    before, start = rss_mb(), time.perf_counter()
    with pytest.raises(grpc.RpcError) as info:
        call()
    elapsed, grown = time.perf_counter() - start, rss_mb() - before
    details = info.value.details() or ""
    assert info.value.code() == code, f"{info.value.code()}: {details}"
    assert elapsed < seconds, f"{code} took {elapsed:.2f} s"
    assert grown < OK_MB, f"RSS grew by {grown:.0f} MB"
    assert details and "/tmp" not in details and " at 0x" not in details and "Traceback" not in details, details
    return details


def still_serving(stub, channel) -> None:
    start = time.perf_counter()
    assert stub.SearchText(pb.SearchTextRequest(text="a person walks"), timeout=5).hits
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert time.perf_counter() - start < OK_SECONDS


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def video(chunks: list[bytes]):
    config = pb.VideoConfig(kind=pb.VideoConfig.KIND_IMAGE_FRAMES)
    return iter([pb.SearchVideoRequest(config=config)] + [pb.SearchVideoRequest(chunk=c) for c in chunks])


def speech(config: pb.AudioConfig, data: bytes):
    return iter([pb.SearchSpeechRequest(config=config)] + [
        pb.SearchSpeechRequest(chunk=data[i : i + 65536]) for i in range(0, len(data), 65536)])  # fmt: skip


def bvh_text(clip, frames: int | None = None, frame_time: str | None = None, value: str | None = None) -> bytes:
    """A demo clip's text with its frame count cut, its Frame Time replaced or every channel set to ``value``."""
    lines = clip.read_text().splitlines()
    at = lines.index("MOTION")
    body = lines[at + 3 :][: frames or None]
    if value is not None:
        body = [" ".join([value] * len(line.split())) for line in body]
    time_line = f"Frame Time: {frame_time}" if frame_time else lines[at + 2]
    return "\n".join(lines[: at + 1] + [f"Frames: {len(body)}", time_line] + body + [""]).encode()


def upload(name: str, data: bytes, **meta):
    yield pb.IngestRequest(file=pb.IngestFile(name=name, **meta))
    for i in range(0, len(data), 65536):
        yield pb.IngestRequest(chunk=data[i : i + 65536])


def stored(stub, motion_id: str) -> bytes:
    return b"".join(c.data for c in stub.GetMotion(pb.GetMotionRequest(id=motion_id)))


# 1. image bomb


def test_image_bomb_is_refused_from_its_header(stub, channel):
    bomb = png(8000, 8000)
    assert len(bomb) < 20_000
    assert "8000 x 8000" in refused(lambda: stub.SearchVideo(video([bomb])), Code.RESOURCE_EXHAUSTED)
    huge, small = png(20000, 20000), png(64, 64)  # made before the timed calls
    refused(lambda: stub.SearchVideo(video([huge])), Code.RESOURCE_EXHAUSTED)  # over Pillow's own limit too
    refused(lambda: stub.SearchVideo(video([small] * 3 + [bomb] * 57)), Code.RESOURCE_EXHAUSTED)
    still_serving(stub, channel)


def test_video_pixels_per_request_are_capped(library_server):
    _, address = library_server(2, Limits(max_frame_pixels=1000 * 1000, max_video_pixels=3 * 1000 * 1000))
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.MotionSearchStub(channel)
        frame = png(1000, 1000)
        # at the cap: decoded and analysed (a blank picture shows no person, which is the answer)
        assert "no person" in refused(lambda: stub.SearchVideo(video([frame] * 3), timeout=30), Code.INVALID_ARGUMENT)
        refused(lambda: stub.SearchVideo(video([frame] * 4)), Code.RESOURCE_EXHAUSTED)


# 2. audio bomb


def test_audio_bomb_is_refused_from_its_header(stub, channel):
    out = io.BytesIO()
    sf.write(out, np.zeros(16000 * 3600, dtype=np.int16), 16000, format="FLAC")  # an hour of silence
    assert len(out.getvalue()) < 1_000_000
    message = refused(lambda: stub.SearchSpeech(speech(pb.AudioConfig(encoding=pb.AUDIO_ENCODING_FILE),
                                                       out.getvalue())), Code.RESOURCE_EXHAUSTED)  # fmt: skip
    assert "3600.0 s" in message
    still_serving(stub, channel)


# 3. BVH frame-time bomb


@pytest.mark.parametrize("frame_time", ["5000", "1e6", "1e12", "1e300", "1e308", "inf", "nan", "1e-320"])
def test_bvh_frame_time_out_of_range_is_invalid(stub, demo_clips, frame_time):
    bomb = bvh_text(demo_clips[0], frames=2, frame_time=frame_time)
    assert len(bomb) < 10_000
    refused(lambda: stub.SearchMotion(pb.SearchMotionRequest(bvh=bomb)), Code.INVALID_ARGUMENT)


def test_bvh_duration_over_the_limit_is_refused_before_reading(stub, channel, demo_clips):
    long = bvh_text(demo_clips[0], frames=30, frame_time="59")  # 30 frames x 59 s = 29.5 min
    assert "600 s" in refused(lambda: stub.SearchMotion(pb.SearchMotionRequest(bvh=long)), Code.RESOURCE_EXHAUSTED)
    start = time.perf_counter()
    report = stub.IngestMotions(upload("long_take.bvh", long), timeout=10)
    assert time.perf_counter() - start < OK_SECONDS
    assert not report.added and "600 s" in report.failed["long_take.bvh"]
    still_serving(stub, channel)


# 4. idle streams


def idle_stream(config_message, release: threading.Event):
    yield config_message
    release.wait(30)


def test_sixteen_idle_streams_do_not_starve_searches_and_are_closed(stub, channel):
    release = threading.Event()
    config = pb.SearchSpeechRequest(config=pb.AudioConfig(encoding=pb.AUDIO_ENCODING_FILE))
    calls = [stub.SearchSpeech.future(idle_stream(config, release), timeout=20) for _ in range(16)]
    try:
        time.sleep(0.5)  # every stream is open (or refused) by now
        for _ in range(3):
            still_serving(stub, channel)
        start = time.perf_counter()
        codes = [call.exception().code() if call.exception() else Code.OK for call in calls]
        waited = time.perf_counter() - start
    finally:
        release.set()
    refused_now = codes.count(Code.RESOURCE_EXHAUSTED)
    assert refused_now == 8 and codes.count(Code.DEADLINE_EXCEEDED) == 8, codes  # half the workers at most
    assert waited < IDLE + 2  # the idle ones were closed by the server, not the client's 20 s deadline
    still_serving(stub, channel)


def test_a_stream_of_tiny_chunks_is_cut_short(stub, channel):
    """Found by the fuzz suite: a WAV sent a byte per message took longer than any deadline."""
    config = pb.SearchSpeechRequest(config=pb.AudioConfig(encoding=pb.AUDIO_ENCODING_FILE))
    data = bytes(300_000)
    messages = [config] + [pb.SearchSpeechRequest(chunk=data[i : i + 1]) for i in range(len(data))]
    assert "larger chunks" in refused(lambda: stub.SearchSpeech(iter(messages), timeout=30), Code.RESOURCE_EXHAUSTED,
                                      seconds=10)  # fmt: skip
    still_serving(stub, channel)


# 5. NaN and infinity


NON_FINITE = [math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("field", ["min_seconds", "max_seconds"])
def test_non_finite_filter_is_invalid(stub, channel, field, value):
    flt = pb.Filter(**{field: value})
    options = pb.SearchOptions(filter=flt)
    refused(lambda: stub.SearchText(pb.SearchTextRequest(text="walk", options=options)), Code.INVALID_ARGUMENT)
    refused(lambda: stub.ListMotions(pb.ListMotionsRequest(filter=flt)), Code.INVALID_ARGUMENT)
    refused(lambda: stub.SearchMotion(pb.SearchMotionRequest(bvh=b"x", options=options)), Code.INVALID_ARGUMENT)
    config = pb.AudioConfig(encoding=pb.AUDIO_ENCODING_FILE, options=options)
    refused(lambda: stub.SearchSpeech(speech(config, b"x")), Code.INVALID_ARGUMENT)
    still_serving(stub, channel)


@pytest.mark.parametrize("value", NON_FINITE)
def test_non_finite_video_fps_and_get_motion_options_are_invalid(stub, demo_clips, value):
    config = pb.VideoConfig(kind=pb.VideoConfig.KIND_IMAGE_FRAMES, fps=value)
    refused(lambda: stub.SearchVideo(iter([pb.SearchVideoRequest(config=config)])), Code.INVALID_ARGUMENT)
    for field in ("fps", "start_seconds", "end_seconds"):
        request = pb.GetMotionRequest(id=demo_clips[0].stem, **{field: value})
        assert field in refused(lambda r=request: list(stub.GetMotion(r)), Code.INVALID_ARGUMENT)


def test_a_panic_in_the_index_is_an_internal_error_not_a_hang(library_server, monkeypatch, caplog):
    """pyo3's PanicException is a BaseException: the handler maps it too (here Qdrant Edge really panics on a NaN
    range reaching it past the servicer's check; on a server of its own, as a panic may poison the shard)."""
    from server.index import SearchFilter

    library, address = library_server(1, Limits())
    channel = grpc.insecure_channel(address)
    stub = pb_grpc.MotionSearchStub(channel)
    search = library.index.search

    def nan_search(tokens, weights, top_k, filter=None):
        return search(tokens, weights, top_k=top_k, filter=SearchFilter(min_seconds=math.nan))

    monkeypatch.setattr(library.index, "search", nan_search)
    with caplog.at_level(logging.ERROR, logger="motionsearch.server"):
        message = refused(lambda: stub.SearchText(pb.SearchTextRequest(text="walk"), timeout=5), Code.INTERNAL)
    assert "logged" in message
    logged = [r.getMessage() for r in caplog.records if "SearchText failed" in r.getMessage()]
    assert len(logged) == 1 and "\n" not in logged[0]
    channel.close()


# 6. no overwrites


def new_content(clip: Path, folder: Path, start: int = 0, stop: int = 40) -> bytes:
    """Frames [start, stop) of a clip: content the library does not have."""
    path = folder / f"cut_{start}_{stop}.bvh"
    write_bvh(path, crop_bvh(read_bvh(clip), start, stop))
    return path.read_bytes()


def test_an_upload_never_takes_over_an_id(stub, clips, tmp_path):
    clip = clips[1]
    before = stored(stub, clip.stem)
    other = new_content(clips[2], tmp_path, 0, 50)
    message = refused(lambda: stub.IngestMotions(upload(clip.name, other)), Code.ALREADY_EXISTS)
    assert clip.name in message and "replace" in message
    refused(lambda: stub.IngestMotions(upload("M" + clip.name, other)), Code.ALREADY_EXISTS)  # a mirror's id
    assert stored(stub, clip.stem) == before
    # an upload whose own mirror id is taken: "M" + name exists as a clip
    short = new_content(clips[3], tmp_path, 0, 40)
    added = stub.IngestMotions(upload("Mxyz.bvh", short), timeout=30)
    assert [m.id for m in added.added] == ["Mxyz"]
    refused(lambda: stub.IngestMotions(upload("xyz.bvh", other)), Code.ALREADY_EXISTS)
    # the same content again is unchanged, not a conflict; replace says it explicitly
    assert list(stub.IngestMotions(upload("Mxyz.bvh", short), timeout=30).unchanged) == ["Mxyz.bvh"]
    newer = new_content(clips[3], tmp_path, 10, 60)
    replaced = stub.IngestMotions(upload("Mxyz.bvh", newer, replace=True), timeout=30)
    assert [m.id for m in replaced.added] == ["Mxyz"] and stored(stub, "Mxyz") == newer
    assert stub.DeleteMotions(pb.DeleteMotionsRequest(ids=["Mxyz"])).deleted == 2


# 7. a silent ingest does not hold the write lock


def test_a_silent_ingest_stream_blocks_no_delete_or_ingest(stub, channel, clips, tmp_path):
    release = threading.Event()
    silent = stub.IngestMotions.future(idle_stream(pb.IngestRequest(file=pb.IngestFile(name="slow.bvh")), release))
    try:
        time.sleep(0.3)
        start = time.perf_counter()
        assert list(stub.DeleteMotions(pb.DeleteMotionsRequest(ids=["not_there"]), timeout=5).not_found)
        assert time.perf_counter() - start < OK_SECONDS
        assert stub.IngestMotions(upload("quick.bvh", new_content(clips[4], tmp_path, 0, 30)), timeout=10).added
        assert stub.DeleteMotions(pb.DeleteMotionsRequest(ids=["quick"]), timeout=5).deleted == 2
        assert silent.exception(timeout=IDLE + 5).code() == Code.DEADLINE_EXCEEDED  # the server closed it
    finally:
        release.set()
    still_serving(stub, channel)


# 8. GetMotion output size


def test_get_motion_fps_is_bounded(stub, clips):
    clip = clips[0].stem
    assert "240" in refused(lambda: list(stub.GetMotion(pb.GetMotionRequest(id=clip, fps=3000))), Code.INVALID_ARGUMENT)
    start = time.perf_counter()
    assert list(stub.GetMotion(pb.GetMotionRequest(id=clip, fps=240, end_seconds=1.0)))
    assert time.perf_counter() - start < OK_SECONDS


# 9. malformed BVH is INVALID_ARGUMENT, not UNKNOWN


def deep_bvh(depth: int) -> bytes:
    lines = ["HIERARCHY", "ROOT j0", "{", "OFFSET 0 0 0", "CHANNELS 3 Xposition Yposition Zposition"]
    for j in range(1, depth):
        lines += [f"JOINT j{j}", "{", "OFFSET 0 1 0", "CHANNELS 3 Zrotation Xrotation Yrotation"]
    lines += ["End Site", "{", "OFFSET 0 1 0", "}"] + ["}"] * depth
    lines += ["MOTION", "Frames: 1", "Frame Time: 0.0333333", " ".join(["0"] * (3 * depth))]
    return "\n".join(lines).encode()


@pytest.mark.parametrize("case", ["1 frame", "2 frames", "1e308 values", "3000-deep skeleton"])
def test_malformed_bvh_is_invalid_argument_without_paths(stub, channel, demo_clips, case):
    bvh = {"1 frame": lambda: bvh_text(demo_clips[0], frames=1),
           "2 frames": lambda: bvh_text(demo_clips[0], frames=2),
           "1e308 values": lambda: bvh_text(demo_clips[0], frames=40, value="1e308"),
           "3000-deep skeleton": lambda: deep_bvh(3000)}[case]()  # fmt: skip
    message = refused(lambda: stub.SearchMotion(pb.SearchMotionRequest(bvh=bvh)), Code.INVALID_ARGUMENT)
    assert message.startswith("query.bvh: ")
    still_serving(stub, channel)


# 10. atomic delete, bounded metadata, absurd PCM


def test_delete_checks_every_id_before_deleting_any(stub, library, clips):
    own = clips[2].stem
    refused(lambda: stub.DeleteMotions(pb.DeleteMotionsRequest(ids=[own, "../x"])), Code.INVALID_ARGUMENT)
    assert library.index.get(own) is not None


def test_metadata_fields_are_length_limited(stub, demo_clips):
    data = demo_clips[3].read_bytes()
    for field in ("content", "style", "source", "licence"):
        request = upload("meta.bvh", data, **{field: "x" * 1_000_000})
        assert field in refused(lambda r=request: stub.IngestMotions(r), Code.RESOURCE_EXHAUSTED)
    for flt in (pb.Filter(contents=["x" * 5000]), pb.Filter(tags=["x" * 5000]), pb.Filter(folder="x" * 5000),
                pb.Filter(tags=["t"] * 101)):  # fmt: skip
        options = pb.SearchOptions(filter=flt)
        refused(lambda o=options: stub.SearchText(pb.SearchTextRequest(text="walk", options=o)),
                Code.RESOURCE_EXHAUSTED)  # fmt: skip


@pytest.mark.parametrize("amplitude", [1e38, 3e38, 1e6, math.nan, math.inf])
def test_absurd_float_pcm_is_invalid(stub, amplitude):
    samples = np.full(16000, amplitude, dtype="<f4").tobytes()
    config = pb.AudioConfig(encoding=pb.AUDIO_ENCODING_PCM_F32LE, sample_rate_hz=16000, channels=2)
    message = refused(lambda: stub.SearchSpeech(speech(config, samples)), Code.INVALID_ARGUMENT)
    assert ("amplitude" if math.isfinite(amplitude) else "NaN or infinite") in message


# 11. rigs: tests/test_rigs.py (coincident joints, CMU without hip joints); here through the server


def test_a_rig_with_a_coincident_spine_joint_is_searchable(stub, clips, tmp_path):
    from test_rigs import BANDAI, renamed, rig_name, with_joint_above  # tests/ is on the path under pytest

    base = read_bvh(clips[5])
    names = {src: rig_name("mixamo", canonical) for src, canonical in BANDAI.items()}
    motion = with_joint_above(renamed(base, names), names["Chest"], "mixamorig:Spine1", 0.0)
    path = tmp_path / "mixamo.bvh"
    write_bvh(path, motion)
    hits = stub.SearchMotion(pb.SearchMotionRequest(bvh=path.read_bytes(), options=pb.SearchOptions(top_k=1))).hits
    assert hits[0].motion.id == clips[5].stem


# 12. auth


def test_loopback_detection_and_the_bind_rule(caplog):
    assert all(is_loopback(a) for a in ("127.0.0.1:50051", "localhost:1", "[::1]:50051", "127.1.2.3:9"))
    assert not any(is_loopback(a) for a in ("0.0.0.0:50051", "[::]:50051", "10.0.0.1:1", "example.org:1"))
    with pytest.raises(SystemExit, match="without --token"):
        check_exposure("0.0.0.0:50051", None, tls=False, insecure=False)
    with pytest.raises(SystemExit, match="without --token"):  # refused before anything is loaded
        serve_main(["--address", "[::]:0", "--bundle", "/nonexistent"])
    with caplog.at_level(logging.WARNING, logger="motionsearch.server"):
        check_exposure("0.0.0.0:50051", None, tls=False, insecure=True)
        check_exposure("0.0.0.0:50051", "t", tls=False, insecure=False)
        check_exposure("0.0.0.0:50051", "t", tls=True, insecure=False)
        check_exposure("127.0.0.1:50051", None, tls=False, insecure=False)
    warnings = [r.getMessage() for r in caplog.records if r.name == "motionsearch.server"]
    assert len(warnings) == 2 and "--insecure" in warnings[0] and "without TLS" in warnings[1]


def self_signed(folder) -> tuple[bytes, bytes]:
    """A self-signed certificate and key for localhost (the openssl command line)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    return key.read_bytes(), cert.read_bytes()


def test_tls_and_token_end_to_end(library, tmp_path):
    key, cert = self_signed(tmp_path)
    server, port = build_server(library, "127.0.0.1:0", Limits(), workers=4, token="s3cret-token", tls=(key, cert))
    server.start()
    try:
        credentials = grpc.ssl_channel_credentials(root_certificates=cert)
        with grpc.secure_channel(f"localhost:{port}", credentials) as channel:
            stub = pb_grpc.MotionSearchStub(channel)
            request = pb.SearchTextRequest(text="a person walks")
            assert stub.SearchText(request, metadata=[("authorization", "Bearer s3cret-token")], timeout=10).hits
            for wrong in ([], [("authorization", "Bearer s3cret-tokem")], [("authorization", "Bearer s")]):
                refused(lambda w=wrong: stub.SearchText(request, metadata=w, timeout=5), Code.UNAUTHENTICATED)
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.SERVING  # health needs no token
        with grpc.insecure_channel(f"127.0.0.1:{port}") as plain:  # a plaintext client gets nothing
            with pytest.raises(grpc.RpcError) as info:
                pb_grpc.MotionSearchStub(plain).SearchText(pb.SearchTextRequest(text="walk"), timeout=5)
            assert info.value.code() == Code.UNAVAILABLE
    finally:
        server.stop(None)
