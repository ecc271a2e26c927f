"""Fuzzing every RPC of a live server with Hypothesis: malformed messages, hostile files, extreme numbers.

Each test is one batch for one RPC. Every call must end within its deadline with a deliberate status (never
UNKNOWN, never INTERNAL, never the client's DEADLINE_EXCEEDED), with a message free of server paths and
object reprs; after each batch the server must answer a health check and a text search within 1 s and its
RSS must stay under a fixed ceiling. The run is seeded (``MOTIONSEARCH_FUZZ_SEED``, default 17) and bounded
(``MOTIONSEARCH_FUZZ_EXAMPLES`` per RPC, default 100: under a minute on 2 cores once the server is up); the
summary line gives the seed, the number of examples, how many calls each RPC answered OK, and the time.
"""

from __future__ import annotations

import io
import json
import os
import struct
import time
import zlib
from collections import Counter
from pathlib import Path

import grpc
import numpy as np
import pytest
import soundfile as sf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from PIL import Image

from motionsearch.v1 import motionsearch_pb2 as pb
from motionsearch.v1 import motionsearch_pb2_grpc as pb_grpc
from server.limits import Limits

SEED = int(os.environ.get("MOTIONSEARCH_FUZZ_SEED", "17"))
EXAMPLES = int(os.environ.get("MOTIONSEARCH_FUZZ_EXAMPLES", "100"))
RSS_CEILING_MB = 1500  # growth over the RSS when the suite starts, for the whole suite
DEADLINE = 20.0  # seconds per call: far above any answer, so a hang shows as DEADLINE_EXCEEDED
BAD = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DEADLINE_EXCEEDED}
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])  # fmt: skip
stats = {"examples": 0, "calls": 0, "ok": Counter()}


@pytest.fixture(scope="module")
def served(library_server, request):
    library, address = library_server(4, Limits(stream_idle_seconds=5, stream_total_seconds=30))
    start, baseline = time.perf_counter(), rss_mb()
    yield library, address, baseline
    ok = ", ".join(f"{rpc} {n}" for rpc, n in sorted(stats["ok"].items()))
    line = (f"fuzz: seed {SEED}, {stats['examples']} examples ({stats['calls']} calls; answered OK: {ok}) "
            f"over every RPC in "
            f"{time.perf_counter() - start:.1f} s, RSS {rss_mb() - baseline:+.0f} MB")  # fmt: skip
    with request.config.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
        print(f"\n{line}")


@pytest.fixture(scope="module")
def channel(served):
    with grpc.insecure_channel(served[1], options=[("grpc.max_send_message_length", 64 * 2**20)]) as channel:
        yield channel


@pytest.fixture(scope="module")
def stub(channel):
    return pb_grpc.MotionSearchStub(channel)


@pytest.fixture(scope="module")
def ids(served):
    records, _ = served[0].index.list(0, 100, None)
    return [r.payload["id"] for r in records]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))


def call(rpc: str, fn) -> None:
    """One fuzzed call: any deliberate status is fine, a crash, an internal error or a hang is not."""
    stats["calls"] += 1
    try:
        fn()
        stats["ok"][rpc] += 1
    except grpc.RpcError as error:
        details = error.details() or ""
        assert error.code() not in BAD, f"{error.code()}: {details}"
        assert details, f"{error.code()} without a message"
        assert "/tmp" not in details and " at 0x" not in details and "Traceback" not in details, details


@pytest.fixture
def batch(served, stub, channel):
    """After the batch: health and a text search each within 1 s, and RSS under the ceiling."""
    yield
    for _ in range(2):
        start = time.perf_counter()
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub.SearchText(pb.SearchTextRequest(text="a person waves"), timeout=5)
        assert time.perf_counter() - start < 1.0
    assert rss_mb() - served[2] < RSS_CEILING_MB


# strategies

floats = st.floats(width=32, allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1e-45, 3.4e38, -1.0])
labels = st.text(max_size=20) | st.sampled_from(["walk", "run", "tired", "", "x" * 300])
filters = st.builds(pb.Filter, contents=st.lists(labels, max_size=4), styles=st.lists(labels, max_size=4),
                    min_seconds=floats, max_seconds=floats, source=labels)  # fmt: skip
hostile_options = st.builds(pb.SearchOptions, top_k=st.integers(0, 2**32 - 1) | st.integers(0, 120), filter=filters,
                            include_mirrors=st.booleans())  # fmt: skip
# mostly valid options, so that most calls get past them to the query itself


def mostly(valid, hostile):
    """``valid`` three times in four, else ``hostile``: most calls get past the checks to the work behind them
    (Hypothesis's one_of does not draw its branches evenly)."""
    return st.integers(0, 3).flatmap(lambda n: hostile if n == 3 else valid)


options = mostly(st.builds(pb.SearchOptions, top_k=st.integers(0, 20)), hostile_options)
names = st.text(max_size=40) | st.sampled_from(["../x.bvh", "a/b.bvh", "M.bvh", ".bvh", "x" * 200 + ".bvh", "up.bvh"])
rig_maps = st.sampled_from(["", "{}", "[]", "null", '{"joints": {"pelvis": 3}}', "{" * 5000]) | st.text(max_size=50)


@st.composite
def bvh_files(draw) -> bytes:
    """A small humanoid-ish BVH with hostile numbers, or its text cut, spliced or replaced by bytes."""
    depth = draw(st.integers(1, 6))
    frames = draw(st.integers(0, 12))
    declared = draw(st.sampled_from([str(frames), "0", "-1", "99999999999", "1e9", "x"]))
    frame_time = draw(st.sampled_from(["0.0333333", "0", "-1", "5000", "1e308", "nan", "inf", "1e-320", "59", "y"]))
    value = st.sampled_from(["0", "1", "-90", "1e308", "-1e308", "nan", "inf", "1e-300", "3.5", "abc"])
    lines = ["HIERARCHY", "ROOT Hips", "{", "OFFSET 0 0 0", "CHANNELS 6 Xposition Yposition Zposition Zrotation "
             "Xrotation Yrotation"]  # fmt: skip
    for j in range(1, depth):
        lines += [f"JOINT j{j}", "{", f"OFFSET 0 {draw(value)} 0", "CHANNELS 3 Zrotation Xrotation Yrotation"]
    lines += ["End Site", "{", "OFFSET 0 1 0", "}"] + ["}"] * depth
    lines += ["MOTION", f"Frames: {declared}", f"Frame Time: {frame_time}"]
    lines += [" ".join(draw(value) for _ in range(6 + 3 * (depth - 1))) for _ in range(frames)]
    text = "\n".join(lines).encode()
    cut = draw(st.sampled_from(["none", "truncate", "splice", "bytes"]))
    if cut == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif cut == "splice":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.binary(max_size=40)) + text[at:]
    elif cut == "bytes":
        text = draw(st.binary(max_size=300))
    return text


DEMO_CLIP = sorted((Path(__file__).resolve().parents[1] / "data" / "demo").glob("*.bvh"))[0].read_text()
EXTREME = ["1e308", "-1e308", "nan", "inf", "1e-310", "3.4e38", "1e19", "-0", "99999999"]


@st.composite
def clip_mutants(draw) -> bytes:
    """A real humanoid clip (so the whole pipeline runs: rig, resampling, features, encoder) with its frame count,
    Frame Time and some values replaced by extreme ones."""
    lines = DEMO_CLIP.splitlines()
    at = lines.index("MOTION")
    body = lines[at + 3 :][: draw(st.integers(1, 80))]
    rows = [line.split() for line in body]
    for _ in range(draw(st.integers(0, 4))):
        f, c = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, len(rows[0]) - 1))
        rows[f][c] = draw(st.sampled_from(EXTREME))
    frame_time = draw(st.sampled_from(["0.0333333", "0.001", "0.5", "59", "1e-5", "7"]))
    declared = draw(st.sampled_from([str(len(rows)), str(len(rows) + 1)]))
    out = lines[: at + 1] + [f"Frames: {declared}", f"Frame Time: {frame_time}"] + [" ".join(r) for r in rows]
    return "\n".join(out).encode()


def _real_frame() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(out, "JPEG")
    return out.getvalue()


REAL_FRAME = _real_frame()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares any size in its header, with a tiny (wrong) image stream."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@st.composite
def images(draw) -> bytes:
    kind = draw(mostly(st.just("real"), st.sampled_from(["header", "bytes", "truncated"])))
    if kind == "header":
        return png_header(draw(st.integers(0, 2**31 - 1)), draw(st.integers(0, 2**31 - 1)))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    out = io.BytesIO()
    size = (draw(st.integers(1, 96)), draw(st.integers(1, 96)))
    colour = draw(st.sampled_from(["red", "black", "white"]))
    Image.new("RGB", size, colour).save(out, draw(st.sampled_from(["PNG", "JPEG"])))
    data = out.getvalue()
    return data if kind == "real" else data[: draw(st.integers(0, len(data)))]


@st.composite
def audio_files(draw) -> bytes:
    kind = draw(mostly(st.sampled_from(["wav", "flac"]), st.sampled_from(["bytes", "header"])))
    if kind == "bytes":
        return draw(st.binary(max_size=400))
    if kind == "header":  # a WAV header that declares any rate, channels and length
        rate, channels = draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**16 - 1))
        length = draw(st.integers(0, 2**32 - 1))
        fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 2 % 2**32, 2, 16)
        return b"RIFF" + struct.pack("<I", 36 + length % 2**31) + b"WAVEfmt " + struct.pack("<I", 16) + fmt + \
            b"data" + struct.pack("<I", length) + b"\0" * 100  # fmt: skip
    rate = draw(st.sampled_from([8000, 16000, 22050, 44100, 48000]))
    seconds = draw(st.sampled_from([0.01, 0.5, 1.0, 11.0]))
    amplitude = draw(st.sampled_from([0.0, 0.5, 1.0, 1e6]))
    samples = (np.sin(np.arange(int(rate * seconds)) * 0.05) * amplitude).astype(np.float32)
    out = io.BytesIO()
    if kind == "wav":
        sf.write(out, samples, rate, format="WAV", subtype="FLOAT")
    else:
        sf.write(out, np.clip(samples, -1, 1), rate, format="FLAC")
    return out.getvalue()


ODD_TEXTS = ["", " ", "\0", "walk" * 300]
plain_names = st.from_regex(r"[a-z]{1,8}\.bvh", fullmatch=True)


def sine(n: int) -> bytes:
    """2 n float32 samples of a quiet tone: valid PCM as f32 (mono or stereo) and, read as s16, as noise."""
    return (np.sin(np.arange(2 * n) * 0.01) * 0.3).astype("<f4").tobytes()


def chunked(data: bytes, size: int) -> list[bytes]:
    """``data`` in pieces of ``size`` bytes, at most 25,000 of them (past the server's 20,000 messages a stream,
    and few enough that this process does not fill its own memory with messages)."""
    size = max(size, 1, -(-len(data) // 25_000))
    return [data[i : i + size] for i in range(0, len(data), size)]


# one batch per RPC


@FUZZ
@seed(SEED)
@given(text=mostly(st.text(min_size=1, max_size=200), st.text(max_size=1200) | st.sampled_from(ODD_TEXTS)),
       options=options)  # fmt: skip
def test_fuzz_search_text(stub, batch, text, options):
    stats["examples"] += 1
    call("SearchText", lambda: stub.SearchText(pb.SearchTextRequest(text=text, options=options), timeout=DEADLINE))


@FUZZ
@seed(SEED)
@given(size=st.integers(0, 2**32 - 1) | st.integers(0, 1100), token=st.text(max_size=30) | st.integers().map(str),
       flt=filters)  # fmt: skip
def test_fuzz_list_motions(stub, batch, size, token, flt):
    stats["examples"] += 1
    request = pb.ListMotionsRequest(page_size=size, page_token=token, filter=flt)
    call("ListMotions", lambda: stub.ListMotions(request, timeout=DEADLINE))


@FUZZ
@seed(SEED)
@given(data=st.data(), fps=floats | st.floats(0, 300), start=floats, end=floats,
       flags=st.tuples(st.booleans(), st.booleans()))  # fmt: skip
def test_fuzz_get_motion(stub, batch, ids, data, fps, start, end, flags):
    stats["examples"] += 1
    motion_id = data.draw(st.sampled_from(ids) | st.text(max_size=140) | st.sampled_from(["M", "../etc", "M" + ids[0]]))
    request = pb.GetMotionRequest(id=motion_id, fps=fps, start_seconds=start, end_seconds=end, in_place=flags[0],
                                  mirror=flags[1])  # fmt: skip
    call("GetMotion", lambda: list(stub.GetMotion(request, timeout=DEADLINE)))


@FUZZ
@seed(SEED)
@given(bvh=mostly(clip_mutants(), bvh_files()), rig=mostly(st.just(""), rig_maps), options=options)
def test_fuzz_search_motion(stub, batch, bvh, rig, options):
    stats["examples"] += 1
    call(
        "SearchMotion",
        lambda: stub.SearchMotion(pb.SearchMotionRequest(bvh=bvh, rig_json=rig, options=options), timeout=DEADLINE),
    )


@FUZZ
@seed(SEED)
@given(encoding=mostly(st.sampled_from([1, 2, 3]), st.integers(0, 5)),
       rate=mostly(st.sampled_from([8000, 16000, 22050, 48000]), st.integers(0, 2**32 - 1)),
       channels=mostly(st.sampled_from([1, 2]), st.integers(0, 2**32 - 1)), audio=audio_files(),
       pcm=mostly(st.integers(2000, 40000).map(sine), st.binary(max_size=64000)),
       size=st.integers(1, 70000), options=options)  # fmt: skip
def test_fuzz_search_speech(stub, batch, encoding, rate, channels, audio, pcm, size, options):
    stats["examples"] += 1
    config = pb.AudioConfig(encoding=encoding, sample_rate_hz=rate, channels=channels, options=options)
    data = audio if encoding == pb.AUDIO_ENCODING_FILE else pcm
    messages = [pb.SearchSpeechRequest(config=config)] + [pb.SearchSpeechRequest(chunk=c) for c in chunked(data, size)]
    call("SearchSpeech", lambda: stub.SearchSpeech(iter(messages), timeout=DEADLINE))


@FUZZ
@seed(SEED)
@given(kind=mostly(st.just(1), st.integers(0, 3)), fps=mostly(st.floats(0, 60), floats),
       frames=mostly(st.lists(st.just(REAL_FRAME), min_size=1, max_size=10), st.lists(images(), max_size=10)),
       options=options,
       shuffle=st.booleans())  # fmt: skip
def test_fuzz_search_video(stub, batch, kind, fps, frames, options, shuffle):
    stats["examples"] += 1
    config = pb.SearchVideoRequest(config=pb.VideoConfig(kind=kind, fps=fps, options=options))
    messages = [pb.SearchVideoRequest(chunk=f) for f in frames]
    messages = messages + [config] if shuffle else [config] + messages
    call("SearchVideo", lambda: stub.SearchVideo(iter(messages), timeout=DEADLINE))


@FUZZ
@seed(SEED)
@given(files=st.lists(st.tuples(mostly(plain_names, names), mostly(clip_mutants(), bvh_files()), labels,
                                mostly(st.just(""), rig_maps), st.booleans()), max_size=3),
       chunk_first=st.booleans())  # fmt: skip
def test_fuzz_ingest(stub, batch, files, chunk_first):
    stats["examples"] += 1
    messages = [pb.IngestRequest(chunk=b"stray")] if chunk_first else []
    for name, data, content, rig, replace in files:
        messages.append(pb.IngestRequest(file=pb.IngestFile(name=name, content=content, rig_json=rig, replace=replace)))
        messages += [pb.IngestRequest(chunk=c) for c in chunked(data, 100)]
    call("IngestMotions", lambda: stub.IngestMotions(iter(messages), timeout=DEADLINE))


@FUZZ
@seed(SEED)
@given(data=st.data())
def test_fuzz_delete(stub, batch, ids, data):
    stats["examples"] += 1
    # never the library's own clips: later batches search them; unknown, malformed and uploaded ids only
    picked = data.draw(st.lists(st.text(max_size=140) | st.sampled_from(["../x", "", "M", "x" * 129]), max_size=5))
    call("DeleteMotions", lambda: stub.DeleteMotions(pb.DeleteMotionsRequest(ids=[i for i in picked if i not in ids]),
                                    timeout=DEADLINE))  # fmt: skip


@FUZZ
@seed(SEED)
@given(method=st.sampled_from(["SearchText", "SearchMotion", "GetMotion", "ListMotions", "DeleteMotions",
                               "SearchSpeech", "SearchVideo", "IngestMotions"]),
       payload=st.binary(max_size=300))  # fmt: skip
def test_fuzz_raw_bytes_on_every_method(channel, batch, method, payload):
    """Bytes that are not the method's message: grpc answers (INTERNAL from its own deserializer is fine)."""
    stats["examples"] += 1
    path = f"/motionsearch.v1.MotionSearch/{method}"
    streaming_in = method in ("SearchSpeech", "SearchVideo", "IngestMotions")
    if streaming_in:
        rpc = channel.stream_unary(path, request_serializer=None, response_deserializer=None)
        request = iter([payload])
    elif method == "GetMotion":
        rpc = channel.unary_stream(path, request_serializer=None, response_deserializer=None)
        request = payload
    else:
        rpc = channel.unary_unary(path, request_serializer=None, response_deserializer=None)
        request = payload
    stats["calls"] += 1
    try:
        result = rpc(request, timeout=DEADLINE)
        if method == "GetMotion":
            list(result)
    except grpc.RpcError as error:
        assert error.code() not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED), error.details()


def test_fuzz_json_rig_maps_are_bounded(stub, batch):
    """A deeply nested rig map is refused, not a RecursionError."""
    stats["examples"] += 1
    deep = json.dumps({"joints": {"pelvis": "Hips"}})[:-1] + ', "x": ' + "[" * 20000 + "]" * 20000 + "}"
    call(
        "SearchMotion",
        lambda: stub.SearchMotion(pb.SearchMotionRequest(bvh=b"HIERARCHY", rig_json=deep), timeout=DEADLINE),
    )
