"""The C++ client (clients/cpp): built with CMake into a temporary folder, run against a live server.

Skipped only when the Debian gRPC C++ development packages are missing (the apt-get line is in
the skip reason). The build takes about half a minute on two cores; it runs once per session.
"""

from __future__ import annotations

import math
import re
import shutil
import socket
import struct
import subprocess
import wave
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
PACKAGES = ("libgrpc++-dev", "protobuf-compiler-grpc", "libprotobuf-dev", "protobuf-compiler")
APT = "apt-get install -y " + " ".join(PACKAGES)
HIT = re.compile(r"^\s*(\d+)\. (-?\d+\.\d{3})  (\S+) ")


def missing_packages() -> list[str]:
    """The gRPC C++ packages that are not installed (by dpkg where there is one, else by their programs)."""
    if shutil.which("dpkg-query"):
        status = {p: subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True).stdout
                  for p in PACKAGES}  # fmt: skip
        return [p for p, s in status.items() if s != "install ok installed"]
    return [p for p in ("protoc", "grpc_cpp_plugin") if not shutil.which(p)]


@pytest.fixture(scope="session")
def example(tmp_path_factory) -> Path:
    """The motionsearch_example executable, configured and built from clients/cpp (generating the API code)."""
    if missing := missing_packages():
        pytest.skip(f"gRPC C++ packages missing ({', '.join(missing)}): {APT}")
    assert shutil.which("cmake") and shutil.which("c++"), "the C++ client needs cmake and a compiler: " + APT
    build = tmp_path_factory.mktemp("cpp-build")
    for command in (["cmake", "-S", str(ROOT / "clients" / "cpp"), "-B", str(build)],
                    ["cmake", "--build", str(build), "--parallel", "2"]):  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return build / "motionsearch_example"


def run(example: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(example), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def demo_ids() -> set[str]:
    """Every id the demo library may answer: the clips' stems and their mirrors ("M" + stem)."""
    stems = {p.stem for p in DEMO.glob("*.bvh")}
    return stems | {"M" + s for s in stems}


def test_search_prints_ranked_hits_and_saves_them(example, server_address, tmp_path):
    result = run(example, "--address", server_address, "search", "a person waves", "--top", "5",
                 "--save", str(tmp_path / "out"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    header = re.search(r"^(\d+) of (\d+) motions", result.stdout, re.M)
    assert header and int(header[1]) == 5 and int(header[2]) >= 32, result.stdout
    hits = [HIT.match(line) for line in result.stdout.splitlines()]
    hits = [(int(m[1]), float(m[2]), m[3]) for m in hits if m]
    assert [rank for rank, _, _ in hits] == [1, 2, 3, 4, 5], result.stdout
    scores = [score for _, score, _ in hits]
    assert scores == sorted(scores, reverse=True), scores  # fused scores (the demo library has metadata)
    assert {motion_id for _, _, motion_id in hits} <= demo_ids(), result.stdout
    # --save wrote RANK_ID.bvh for every hit; a clip (not a mirror) is the stored file, byte for byte.
    for rank, _, motion_id in hits:
        saved = tmp_path / "out" / f"{rank:02d}_{motion_id}.bvh"
        assert saved.is_file(), result.stdout
        if (DEMO / f"{motion_id}.bvh").is_file():
            assert saved.read_bytes() == (DEMO / f"{motion_id}.bvh").read_bytes()
    assert not list((tmp_path / "out").glob("*.part"))


def test_get_streams_the_stored_bvh_byte_for_byte(example, server_address, clip, tmp_path):
    out = tmp_path / "clip.bvh"
    result = run(example, "--address", server_address, "get", clip.stem, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == clip.read_bytes()
    assert f"({clip.stat().st_size} bytes)" in result.stdout, result.stdout
    assert not (tmp_path / "clip.bvh.part").exists()


def test_list_pages_through_the_demo_library(example, server_address):
    result = run(example, "--address", server_address, "list", "--page-size", "1000")
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines()[:-1]}
    assert listed <= demo_ids() and {p.stem for p in DEMO.glob("*.bvh")} <= listed, result.stdout


def test_speech_search_streams_a_wav_file(example, server_address, tmp_path):
    """Three seconds of a 16 kHz tone (96 kB, two 64 kB chunks): the ranking is beside the point, the stream is."""
    audio = tmp_path / "tone.wav"
    with wave.open(str(audio), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i * 0.11))) for i in range(48000)))
    result = run(example, "--address", server_address, "speech", str(audio), "--top", "3")
    assert result.returncode == 0, result.stderr
    hits = [m[3] for m in map(HIT.match, result.stdout.splitlines()) if m]
    assert len(hits) == 3 and set(hits) <= demo_ids(), result.stdout


def test_unknown_id_is_a_readable_not_found(example, server_address, tmp_path):
    out = tmp_path / "nothing.bvh"
    result = run(example, "--address", server_address, "get", "no-such-motion_001", "--out", str(out))
    assert result.returncode != 0
    assert result.stderr.startswith("error: NOT_FOUND: ") and "no-such-motion_001" in result.stderr, result.stderr
    assert not out.exists() and not (tmp_path / "nothing.bvh.part").exists()


def test_a_server_that_is_down_is_a_readable_unavailable(example):
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run(example, "--address", f"127.0.0.1:{port}", "--timeout", "10", "search", "a person waves")
    assert result.returncode != 0
    assert result.stderr.startswith("error: UNAVAILABLE: "), result.stderr
    assert "Traceback" not in result.stderr and "terminate" not in result.stderr


def test_a_bad_command_line_prints_the_usage(example):
    result = run(example, "search")
    assert result.returncode == 2 and result.stderr.startswith("usage: motionsearch_example"), result.stderr
