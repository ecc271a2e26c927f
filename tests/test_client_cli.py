"""``python -m server.client``: ingest, video, similar and delete against a live server on loopback."""

from __future__ import annotations

import shutil

import av
import numpy as np
import pytest
from PIL import Image

from dataset.render import render_frames
from motion.canonical import load_canonical
from server.client import main as client_main
from server.encoders import Encoders
from server.index import open_index
from server.library import Library
from server.serve import build_server, source_clips
from server.service import Limits


@pytest.fixture(scope="module")
def address(tmp_path_factory, onnx_bundle, demo_clips):
    """A server over six demo clips in a library of its own (this module adds and deletes motions)."""
    folder = tmp_path_factory.mktemp("cli-library")
    encoders = Encoders.open(onnx_bundle)
    library = Library(folder, open_index(f"edge:{folder / 'index'}", encoders.dim), encoders)
    library.ingest(source_clips(demo_clips[0].parent)[0][:6], progress=False)
    server, port = build_server(library, "127.0.0.1:0", Limits(), workers=4)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)
    library.index.close()


@pytest.fixture(scope="module")
def frames(demo_clips) -> np.ndarray:
    clip = next(p for p in demo_clips if "wave-both-hands" in p.name)
    return render_frames(load_canonical(clip).positions, n_frames=24, size=128, seed=0)


def run(address: str, *args: str) -> int:
    return client_main(["--address", address, "--timeout", "60", *args])


def test_video_from_a_folder_of_frames_and_from_a_video_file(address, frames, tmp_path, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{i:03d}.png")
    assert run(address, "video", str(folder), "--top", "3") == 0
    assert capsys.readouterr().out.startswith("3 of ")

    movie = tmp_path / "wave.mp4"
    with av.open(str(movie), "w") as container:
        stream = container.add_stream("mpeg4", rate=20)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    assert run(address, "video", str(movie), "--top", "3") == 0
    assert capsys.readouterr().out.startswith("3 of ")

    (tmp_path / "not-a-video.mp4").write_bytes(b"no video here")
    assert run(address, "video", str(tmp_path / "not-a-video.mp4")) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_ingest_a_folder_then_similar_then_delete(address, demo_clips, tmp_path, capsys):
    folder = tmp_path / "mine" / "kicks"
    folder.mkdir(parents=True)
    picked = [p for p in demo_clips if "kick" in p.name or "slash" in p.name][:2]
    for i, clip in enumerate(picked):
        shutil.copyfile(clip, folder / f"take_{i}.bvh")
    (folder / "broken.bvh").write_text("HIERARCHY\nROOT nothing\n")
    assert run(address, "ingest", str(tmp_path / "mine")) == 1  # one file failed
    captured = capsys.readouterr()
    assert "2 added, 0 unchanged, 1 failed, of 3 files" in captured.out
    assert "failed: broken.bvh:" in captured.err

    assert run(address, "ingest", str(folder / "take_0.bvh"), str(folder / "take_1.bvh")) == 0
    assert "0 added, 2 unchanged, 0 failed" in capsys.readouterr().out

    assert run(address, "similar", "take_0", "--top", "3") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[2] == "take_0"  # a motion is most similar to itself

    assert run(address, "delete", "take_0", "take_1") == 0
    assert "4 deleted" in capsys.readouterr().out  # the two clips and their mirrors
    assert run(address, "delete", "take_0") == 1
    assert "not found: take_0" in capsys.readouterr().out
    assert run(address, "similar", "take_0") == 1
    assert capsys.readouterr().err.startswith("error: NOT_FOUND")


def test_ingest_reports_a_missing_path_in_one_line(address, tmp_path, capsys):
    assert run(address, "ingest", str(tmp_path / "nowhere")) == 1
    err = capsys.readouterr().err
    assert "no such file or folder" in err and len(err.strip().splitlines()) == 1
