"""README command 1 on a fresh machine: no speech engine on PATH, no bundle yet, no dataset set.

``python -m server.serve`` must export the shipped model (its parity check reads the committed speech
samples instead of synthesising them), index the demo library and answer a text search.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from motionsearch.v1 import motionsearch_pb2 as pb
from motionsearch.v1 import motionsearch_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parents[1]
SPEECH_PROGRAMS = {"espeak-ng", "espeak", "mbrola", "flite", "text2wave", "festival", "pico2wave", "piper", "sox"}


def path_without_speech(folder: Path) -> str:
    """A PATH of one folder linking every program of the current PATH except the speech engines."""
    folder.mkdir()
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not entry or not Path(entry).is_dir():
            continue
        for program in Path(entry).iterdir():
            link = folder / program.name
            if program.name in SPEECH_PROGRAMS or link.exists() or not os.access(program, os.X_OK):
                continue
            link.symlink_to(program)
    return str(folder)


def test_the_speech_engines_are_really_hidden(tmp_path):
    path = path_without_speech(tmp_path / "bin")
    assert shutil.which("git", path=path) or shutil.which("python3", path=path)
    assert not any(shutil.which(p, path=path) for p in SPEECH_PROGRAMS)


def test_readme_command_1_serves_the_demo_library_without_speech_engines(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MOTIONSEARCH_DATASET"}
    env["PATH"] = path_without_speech(tmp_path / "bin")
    command = [sys.executable, "-m", "server.serve", "--address", "127.0.0.1:0",
               "--bundle", str(tmp_path / "bundle"), "--library", str(tmp_path / "library")]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    serving = threading.Event()

    def read() -> None:
        for line in server.stdout:
            lines.append(line)
            if "serving motionsearch.v1 on" in line:
                serving.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 900
        while not serving.is_set() and server.poll() is None and time.monotonic() < deadline:
            serving.wait(1)
        output = "".join(lines)
        assert serving.is_set(), f"the server did not start (exit {server.poll()}):\n{output[-4000:]}"
        assert "parity" in output and "Traceback" not in output
        port = int(re.search(r"serving motionsearch\.v1 on 127\.0\.0\.1:(\d+)", output).group(1))
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            reply = pb_grpc.MotionSearchStub(channel).SearchText(
                pb.SearchTextRequest(text="a person waves with the left hand", options=pb.SearchOptions(top_k=5)),
                timeout=30,
            )
        assert len(reply.hits) == 5
        assert (tmp_path / "bundle" / "manifest.json").exists()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            pytest.fail("the server did not stop within 30 s of SIGTERM")
