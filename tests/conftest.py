"""Shared fixtures: the committed demo clips and, when present, the full dataset."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"


@pytest.fixture(scope="session")
def demo_clips() -> list[Path]:
    clips = sorted(DEMO.glob("*.bvh"))
    assert len(clips) >= 30, "the demo library is missing"
    return clips


@pytest.fixture(scope="session")
def clip(demo_clips) -> Path:
    return next(p for p in demo_clips if "wave-left-hand" in p.name)


@pytest.fixture(scope="session")
def dataset_sample() -> list[Path]:
    """A seeded sample of 60 clips of the full dataset ($MOTIONSEARCH_DATASET), all 3,076 in the check script."""
    folder = os.environ.get("MOTIONSEARCH_DATASET")
    if not folder:
        pytest.skip("MOTIONSEARCH_DATASET is not set (.ci/run sets it to the unpacked Bandai Namco dataset)")
    clips = sorted(Path(folder).rglob("*.bvh"))
    assert len(clips) == 3076, f"expected the 3,076 Bandai Namco clips under {folder}, found {len(clips)}"
    return random.Random(0).sample(clips, 60)


@pytest.fixture(scope="session")
def demo_dataset(tmp_path_factory, demo_clips) -> Path:
    """The demo library built into a full multimodal dataset with cached backbone features (about a minute)."""
    from dataset.build import Build, run
    from model.cache import main as cache_main

    out = tmp_path_factory.mktemp("demo-dataset")
    run(Build(demo_clips[0].parent, out), ["motion", "splits", "captions", "speech", "video"])
    assert cache_main(["--data", str(out), "--video-size", "96", "--modalities", "text,speech,video,transcripts"]) == 0
    return out


@pytest.fixture(scope="session")
def onnx_bundle(tmp_path_factory) -> Path:
    """The shipped default model (model/weights/default) exported to an ONNX bundle, parity-checked."""
    from exporter.__main__ import main as export_main

    release = ROOT / "model" / "weights" / "default"
    assert (release / "model.safetensors").exists(), "the default model is not shipped (python -m model.release)"
    out = tmp_path_factory.mktemp("bundle")
    assert export_main(["--run", str(release), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def served_library(tmp_path_factory, onnx_bundle, demo_clips):
    """The demo library indexed with the ONNX motion encoder into a real Qdrant Edge shard."""
    from server.encoders import Encoders
    from server.index import open_index
    from server.library import Library
    from server.serve import source_clips

    folder = tmp_path_factory.mktemp("library")
    encoders = Encoders.open(onnx_bundle)
    index = open_index(f"edge:{folder / 'index'}", encoders.dim, meta_dim=encoders.sentence_dim)
    library = Library(folder, index, encoders)
    report = library.ingest(source_clips(DEMO)[0], progress=False)
    assert len(report.added) == len(demo_clips) and not report.failed
    yield library
    library.index.close()


@pytest.fixture(scope="session")
def server_address(served_library) -> str:
    """A live motionsearch gRPC server on loopback over the demo library: its host:port."""
    from server.serve import build_server
    from server.service import Limits

    server, port = build_server(served_library, "127.0.0.1:0", Limits(), workers=16, max_message_mb=4)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


@pytest.fixture(scope="session")
def library_server(tmp_path_factory, onnx_bundle):
    """A factory for tests that change the library or need other limits: ``library_server(n_clips, limits)``
    indexes the first ``n_clips`` demo clips into a fresh Qdrant Edge shard, starts a live loopback server on it
    and returns ``(library, address)``; all are stopped at the end of the session."""
    from server.encoders import Encoders
    from server.index import open_index
    from server.library import Library
    from server.serve import build_server, source_clips

    encoders = Encoders.open(onnx_bundle)
    started = []

    def start(n_clips: int, limits, **options):
        folder = tmp_path_factory.mktemp("library")
        library = Library(folder, open_index(f"edge:{folder / 'index'}", encoders.dim), encoders)
        assert len(library.ingest(source_clips(DEMO)[0][:n_clips], progress=False).added) == n_clips
        server, port = build_server(library, "127.0.0.1:0", limits, **options)
        server.start()
        started.append((server, library))
        return library, f"127.0.0.1:{port}"

    yield start
    for server, library in started:
        server.stop(None)
        library.index.close()
