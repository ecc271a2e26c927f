"""The gRPC server on loopback: every RPC, real ONNX Runtime, real Qdrant Edge, the demo library, bad input."""

from __future__ import annotations

import io
import json
import threading

import grpc
import numpy as np
import pytest
import soundfile as sf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image

from dataset.render import render_frames
from dataset.speech import synthesize
from dataset.voices import voices_for
from motion.bvh import read_bvh, write_bvh
from motion.canonical import load_canonical
from motion.resample import crop_bvh
from motionsearch.v1 import motionsearch_pb2 as pb
from motionsearch.v1 import motionsearch_pb2_grpc as pb_grpc
from server.client import main as client_main
from server.encoders import Encoders
from server.index import open_index
from server.library import Library
from server.serve import build_server, source_clips
from server.service import Limits


@pytest.fixture(scope="module")
def stub(server_address):
    with grpc.insecure_channel(server_address) as channel:
        yield pb_grpc.MotionSearchStub(channel)


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code()


def wav_bytes(audio: np.ndarray, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    sf.write(out, audio, rate, format="WAV")
    return out.getvalue()


def speech_requests(config: pb.AudioConfig, data: bytes, chunk: int = 32 * 1024):
    yield pb.SearchSpeechRequest(config=config)
    for i in range(0, len(data), chunk):
        yield pb.SearchSpeechRequest(chunk=data[i : i + chunk])


def test_text_search_ranks_the_library(stub, demo_clips):
    for fusion in (pb.FUSION_MODE_UNSPECIFIED, pb.FUSION_MODE_OFF):  # fused by default: the demo clips have metadata
        options = pb.SearchOptions(top_k=5, fusion=fusion)
        response = stub.SearchText(pb.SearchTextRequest(text="a person walks", options=options))
        assert len(response.hits) == 5 and response.library_size == 2 * len(demo_clips)
        assert [h.rank for h in response.hits] == [1, 2, 3, 4, 5]
        scores = [h.score for h in response.hits]
        assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s <= 1.0 for s in scores)  # without fusion: Eq. 8
    assert not any(h.motion.mirror for h in response.hits)  # mirrors only when asked
    hit = response.hits[0].motion
    assert hit.licence.startswith("Bandai Namco") and hit.seconds > 0 and hit.frames > 0 and hit.caption


def test_filters_restrict_results(stub):
    options = pb.SearchOptions(top_k=50, filter=pb.Filter(contents=["walk", "run"]), include_mirrors=True)
    response = stub.SearchText(pb.SearchTextRequest(text="someone moving", options=options))
    assert response.hits and {h.motion.content for h in response.hits} <= {"walk", "run"}
    assert any(h.motion.mirror for h in response.hits)
    short = pb.SearchOptions(top_k=50, filter=pb.Filter(max_seconds=3.0))
    assert all(h.motion.seconds <= 3.0 for h in stub.SearchText(pb.SearchTextRequest(text="x", options=short)).hits)


def test_an_example_motion_finds_itself_first(stub, demo_clips):
    clip = demo_clips[3]
    response = stub.SearchMotion(pb.SearchMotionRequest(bvh=clip.read_bytes(), options=pb.SearchOptions(top_k=3)))
    assert response.hits[0].motion.id == clip.stem
    assert response.hits[0].score == pytest.approx(1.0, abs=1e-3)  # Eq. 8 of a sequence with itself


def test_speech_search_as_a_file_and_as_raw_pcm(stub):
    voice = voices_for("test")[0]
    audio = synthesize("a person waves with the left hand", voice)
    by_file = stub.SearchSpeech(speech_requests(pb.AudioConfig(encoding=pb.AUDIO_ENCODING_FILE), wav_bytes(audio)))
    assert len(by_file.hits) == 10
    # the same audio at 22,050 Hz as 16-bit PCM, resampled by the server: the same ranking
    from scipy.signal import resample_poly

    pcm = (np.clip(resample_poly(audio, 441, 320), -1, 1) * 32767).astype("<i2").tobytes()
    config = pb.AudioConfig(encoding=pb.AUDIO_ENCODING_PCM_S16LE, sample_rate_hz=22050, channels=1)
    by_pcm = stub.SearchSpeech(speech_requests(config, pcm))
    assert [h.motion.id for h in by_pcm.hits[:3]] == [h.motion.id for h in by_file.hits[:3]]


def test_video_search(stub, demo_clips):
    joints = load_canonical(demo_clips[0]).positions
    frames = render_frames(joints, n_frames=12, size=128, seed=1)
    chunks = []
    for frame in frames:
        out = io.BytesIO()
        Image.fromarray(frame).save(out, format="JPEG")
        chunks.append(out.getvalue())
    config = pb.VideoConfig(kind=pb.VideoConfig.KIND_IMAGE_FRAMES, fps=20, options=pb.SearchOptions(top_k=4))
    requests = [pb.SearchVideoRequest(config=config)] + [pb.SearchVideoRequest(chunk=c) for c in chunks]
    assert len(stub.SearchVideo(iter(requests)).hits) == 4


def test_get_motion_streams_the_stored_bytes_and_applies_options(stub, demo_clips, tmp_path):
    clip = demo_clips[5]
    chunks = list(stub.GetMotion(pb.GetMotionRequest(id=clip.stem)))
    assert chunks[0].total_bytes == clip.stat().st_size
    assert b"".join(c.data for c in chunks) == clip.read_bytes()
    source = read_bvh(clip)
    request = pb.GetMotionRequest(id=clip.stem, fps=30, start_seconds=0.5, end_seconds=1.5, in_place=True, mirror=True)
    out = tmp_path / "edited.bvh"
    out.write_bytes(b"".join(c.data for c in stub.GetMotion(request)))
    edited = read_bvh(out)
    assert edited.fps == pytest.approx(30) and abs(edited.n_frames - 30) <= 1
    assert edited.skeleton.names == source.skeleton.names
    mirrored = b"".join(c.data for c in stub.GetMotion(pb.GetMotionRequest(id="M" + clip.stem)))
    assert mirrored != clip.read_bytes() and mirrored.startswith(b"HIERARCHY")


def test_list_pages_through_everything(stub, demo_clips):
    seen, token = [], ""
    while True:
        page = stub.ListMotions(pb.ListMotionsRequest(page_size=25, page_token=token))
        seen += [m.id for m in page.motions]
        token = page.next_page_token
        if not token:
            break
    assert page.total == len(seen) == len(set(seen)) == 2 * len(demo_clips)
    walks = stub.ListMotions(pb.ListMotionsRequest(page_size=100, filter=pb.Filter(contents=["walk"])))
    assert walks.total and all(m.content == "walk" for m in walks.motions)


def test_ingest_search_and_delete(stub, demo_clips, tmp_path):
    source = read_bvh(demo_clips[7])
    new = tmp_path / "half_clip.bvh"
    write_bvh(new, crop_bvh(source, 0, source.n_frames // 2))
    files = [(new.name, new.read_bytes()), (demo_clips[0].name, demo_clips[0].read_bytes()),
             ("broken.bvh", b"HIERARCHY\nROOT Hips\n{")]  # fmt: skip

    def requests():
        for name, data in files:
            yield pb.IngestRequest(file=pb.IngestFile(name=name, content="test", style="cut"))
            for i in range(0, len(data), 10_000):
                yield pb.IngestRequest(chunk=data[i : i + 10_000])

    report = stub.IngestMotions(requests())
    assert [m.id for m in report.added] == ["half_clip"] and report.added[0].content == "test"
    assert list(report.unchanged) == [demo_clips[0].name] and "broken.bvh" in report.failed
    found = stub.SearchMotion(pb.SearchMotionRequest(bvh=new.read_bytes(), options=pb.SearchOptions(top_k=1)))
    assert found.hits[0].motion.id == "half_clip"
    assert b"".join(c.data for c in stub.GetMotion(pb.GetMotionRequest(id="half_clip"))) == new.read_bytes()
    deleted = stub.DeleteMotions(pb.DeleteMotionsRequest(ids=["half_clip", "no_such_clip"]))
    assert deleted.deleted == 2 and list(deleted.not_found) == ["no_such_clip"]  # the clip and its mirror
    assert code_of(lambda: list(stub.GetMotion(pb.GetMotionRequest(id="half_clip")))) == grpc.StatusCode.NOT_FOUND


BAD = {
    "empty text": (lambda s: s.SearchText(pb.SearchTextRequest(text="   ")), grpc.StatusCode.INVALID_ARGUMENT),
    "oversized message": (lambda s: s.SearchText(pb.SearchTextRequest(text="x" * (5 * 2**20))),
                          grpc.StatusCode.RESOURCE_EXHAUSTED),
    "long text": (lambda s: s.SearchText(pb.SearchTextRequest(text="walk " * 400)), grpc.StatusCode.RESOURCE_EXHAUSTED),
    "top_k": (lambda s: s.SearchText(pb.SearchTextRequest(text="walk", options=pb.SearchOptions(top_k=1000))),
              grpc.StatusCode.INVALID_ARGUMENT),
    "unknown id": (lambda s: list(s.GetMotion(pb.GetMotionRequest(id="no_such_clip"))), grpc.StatusCode.NOT_FOUND),
    "path-like id": (lambda s: list(s.GetMotion(pb.GetMotionRequest(id="../../etc/passwd"))),
                     grpc.StatusCode.INVALID_ARGUMENT),
    "absolute path id": (lambda s: list(s.GetMotion(pb.GetMotionRequest(id="/etc/passwd"))),
                         grpc.StatusCode.INVALID_ARGUMENT),
    "corrupt BVH": (lambda s: s.SearchMotion(pb.SearchMotionRequest(bvh=b"HIERARCHY\nROOT x\n{\nOFFSET 0 0\n")),
                    grpc.StatusCode.INVALID_ARGUMENT),
    "no config": (lambda s: s.SearchSpeech(iter([pb.SearchSpeechRequest(chunk=b"\0\0")])),
                  grpc.StatusCode.INVALID_ARGUMENT),
    "wrong sample rate": (lambda s: s.SearchSpeech(speech_requests(pb.AudioConfig(
        encoding=pb.AUDIO_ENCODING_PCM_S16LE, sample_rate_hz=4000, channels=1), b"\0\0" * 4000)),
                          grpc.StatusCode.INVALID_ARGUMENT),
    "ten minutes of audio": (lambda s: s.SearchSpeech(speech_requests(pb.AudioConfig(
        encoding=pb.AUDIO_ENCODING_PCM_S16LE, sample_rate_hz=16000, channels=1), b"\0\0" * 16000 * 600,
        chunk=256 * 1024)), grpc.StatusCode.RESOURCE_EXHAUSTED),
    "not audio": (lambda s: s.SearchSpeech(speech_requests(pb.AudioConfig(encoding=pb.AUDIO_ENCODING_FILE),
                                                           b"this is not a wav file")),
                  grpc.StatusCode.INVALID_ARGUMENT),
    "not an image": (lambda s: s.SearchVideo(iter([pb.SearchVideoRequest(config=pb.VideoConfig(
        kind=pb.VideoConfig.KIND_IMAGE_FRAMES)), pb.SearchVideoRequest(chunk=b"nope")])),
                     grpc.StatusCode.INVALID_ARGUMENT),
    "bad page token": (lambda s: s.ListMotions(pb.ListMotionsRequest(page_token="abc")),
                       grpc.StatusCode.INVALID_ARGUMENT),
    "upload with a folder": (lambda s: s.IngestMotions(iter([pb.IngestRequest(file=pb.IngestFile(name="a/b.bvh"))])),
                             grpc.StatusCode.INVALID_ARGUMENT),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD)
def test_bad_input_gets_a_clear_status_and_the_server_keeps_serving(stub, case):
    call, expected = BAD[case]
    with pytest.raises(grpc.RpcError) as info:
        call(stub)
    assert info.value.code() == expected, info.value.details()
    assert info.value.details()  # a readable message
    assert stub.SearchText(pb.SearchTextRequest(text="a person walks")).hits  # still serving


def test_concurrent_clients_all_succeed(stub):
    errors = []

    def client(n: int) -> None:
        try:
            for i in range(5):
                stub.SearchText(pb.SearchTextRequest(text=f"query {n} {i} walk"))
        except grpc.RpcError as error:
            errors.append(error)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_health_and_reflection(server_address):
    with grpc.insecure_channel(server_address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(health_pb2.HealthCheckRequest(service="motionsearch.v1.MotionSearch"))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        answer = next(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
        names = {s.name for s in answer.list_services_response.service}
        assert "motionsearch.v1.MotionSearch" in names


def test_token_auth(served_library):
    srv, port = build_server(served_library, "127.0.0.1:0", Limits(), workers=2, token="s3cret")
    srv.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.MotionSearchStub(channel)
            request = pb.SearchTextRequest(text="walk")
            assert code_of(lambda: stub.SearchText(request)) == grpc.StatusCode.UNAUTHENTICATED
            wrong = [("authorization", "Bearer nope")]
            assert code_of(lambda: stub.SearchText(request, metadata=wrong)) == grpc.StatusCode.UNAUTHENTICATED
            assert stub.SearchText(request, metadata=[("authorization", "Bearer s3cret")]).hits
    finally:
        srv.stop(None)


def test_client_cli(server_address, tmp_path, capsys):
    server = server_address
    assert client_main(["--address", server, "search", "a person runs", "--top", "2", "--save", str(tmp_path)]) == 0
    saved = sorted(tmp_path.glob("*.bvh"))
    assert len(saved) == 2 and read_bvh(saved[0]).n_frames > 0
    assert client_main(["--address", server, "get", "../x"]) == 1
    assert "INVALID_ARGUMENT" in capsys.readouterr().err
    assert client_main(["--address", "127.0.0.1:1", "--timeout", "2", "list"]) == 1  # nothing listens there
    err = capsys.readouterr().err
    assert "UNAVAILABLE" in err or "DEADLINE_EXCEEDED" in err


def test_an_interrupted_ingest_leaves_a_usable_index(tmp_path, onnx_bundle, demo_clips):
    encoders = Encoders.open(onnx_bundle)
    index_spec = f"edge:{tmp_path / 'index'}"
    library = Library(tmp_path, open_index(index_spec, encoders.dim), encoders)
    clips = source_clips(demo_clips[0].parent)[0][:6]
    real_encode, calls = encoders.encode_motion, []

    def crash_on_the_seventh(features):
        calls.append(1)
        if len(calls) == 7:  # two encodings per clip: the crash hits the fourth clip
            raise KeyboardInterrupt
        return real_encode(features)

    encoders.encode_motion = crash_on_the_seventh
    with pytest.raises(KeyboardInterrupt):
        library.ingest(clips, progress=False)
    library.index.close()
    encoders.encode_motion = real_encode
    reopened = Library(tmp_path, open_index(index_spec, encoders.dim), encoders)
    assert len(reopened) == 6  # three clips and their mirrors, nothing half-written
    assert reopened.index.search(*encoders.encode_text(["walk"])[0], top_k=3)
    report = reopened.ingest(clips, progress=False)
    assert len(report.unchanged) == 3 and len(report.added) == 3 and len(reopened) == 12
    reopened.index.close()


def test_payload_round_trips_as_json(served_library, demo_clips):
    payload = served_library.record(demo_clips[0].stem).payload
    assert json.loads(json.dumps(payload)) == payload
