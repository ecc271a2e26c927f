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
