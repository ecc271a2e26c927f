"""The dataset build on real clips: outputs, determinism, and resuming after an interruption."""

from __future__ import annotations

import json

import numpy as np
import pytest

import dataset.build as build_module
from dataset.annotations import load_annotations
from dataset.build import Build, run
from dataset.splits import read_split_files, source_id
from dataset.stats import dataset_stats

STAGES = ["motion", "splits", "captions"]


def files(folder):
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_clips):
    out = tmp_path_factory.mktemp("built")
    run(Build(demo_clips[0].parent, out, limit=8, workers=1), STAGES)
    return out


def test_build_writes_every_item_and_its_mirror(built):
    joints = sorted(p.stem for p in (built / "joints").glob("*.npy"))
    assert len(joints) == 16 and sum(j.startswith("M") for j in joints) == 8
    for item in joints:
        positions = np.load(built / "joints" / f"{item}.npy")
        features = np.load(built / "features" / f"{item}.npy")
        assert positions.shape[1:] == (22, 3) and features.shape == (positions.shape[0] - 1, 263)
        assert np.isfinite(features).all()
    split_of = read_split_files(built)
    assert sorted(split_of) == joints
    stats = np.load(built / "stats" / "feature_mean_std.npz")
    assert stats["mean"].shape == (263,) and (stats["std"] > 0).all()


def test_annotations_follow_labels_and_mirrors(built):
    annotations = load_annotations(built / "annotations.json")
    assert len(annotations) == 16
    for item, entry in annotations.items():
        _, content, style, _ = source_id(item).split("_")
        assert entry.style == style and entry.mirror == item.startswith("M")
        if entry.mirror and "left" in content:
            assert entry.content == content.replace("left", "right")
            assert all("right" in t and "left" not in t for t in entry.texts())
        assert len(set(entry.texts("descriptive"))) == len(set(entry.texts("spoken"))) == 8
        assert entry.duration > 0.9


def test_interrupted_build_resumes_without_redoing_work(tmp_path, demo_clips, built, monkeypatch):
    calls = {"n": 0}
    real = build_module.canonicalize

    def canonicalize_then_die(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # as if Ctrl-C arrived in the middle of the motion stage
        return real(*args, **kwargs)

    monkeypatch.setattr(build_module, "canonicalize", canonicalize_then_die)
    with pytest.raises(KeyboardInterrupt):
        run(Build(demo_clips[0].parent, tmp_path, limit=8, workers=1), STAGES)
    first = {k: p.stat().st_mtime_ns for k, p in files(tmp_path).items()}
    assert sum(k.startswith("features/") for k in first) == 6  # three clips and their mirrors finished
    assert not any(".tmp" in k or k.split("/")[-1].startswith(".") for k in first), "no partial files left"

    monkeypatch.setattr(build_module, "canonicalize", real)
    calls["n"] = 0
    run(Build(demo_clips[0].parent, tmp_path, limit=8, workers=1), STAGES)
    after = files(tmp_path)
    assert all(after[k].stat().st_mtime_ns == t for k, t in first.items() if k.startswith(("joints/", "features/")))
    reference = files(built)
    assert sorted(k for k in after if k != "build.json") == sorted(k for k in reference if k != "build.json")
    for key in reference:
        if key.endswith(".npy"):
            np.testing.assert_array_equal(np.load(after[key]), np.load(reference[key]))
    assert after["annotations.json"].read_bytes() == reference["annotations.json"].read_bytes()
    log = json.loads(after["build.json"].read_text())
    assert set(log["stages"]) == set(STAGES) and log["stages"]["motion"]["seconds_total"] > 0


def test_stats_report_counts_and_caption_diversity(built):
    stats = dataset_stats(built)
    assert stats["motions"] == 8 and stats["items"] == 16
    assert stats["captions"]["min_distinct_per_content_style_register"] >= 8
    assert set(stats["stage_seconds"]) == set(STAGES)


@pytest.fixture(scope="module")
def built_media(tmp_path_factory, demo_clips):
    out = tmp_path_factory.mktemp("media")
    run(Build(demo_clips[0].parent, out, limit=4, workers=2), ["motion", "splits", "captions", "speech", "video"])
    return out


def test_speech_stage_follows_the_speaker_split(built_media):
    from dataset.speech import read_audio
    from dataset.voices import voice_by_id

    split_of = read_split_files(built_media)
    rows = [json.loads(line) for line in (built_media / "speech" / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 8 * 4  # 8 items x 2 registers x 2 captions
    assert {split_of[r["item"]] for r in rows} >= {"unseen"}, "the demo's bow clips are the unseen-action probe"
    for row in rows:
        side = "test" if split_of[row["item"]] in ("test", "unseen") else "train"
        assert voice_by_id(row["voice"]).split == side, row
        audio = read_audio(built_media / "speech" / row["file"])
        assert abs(len(audio) / 16000 - row["seconds"]) < 1e-3 and np.sqrt(np.mean(audio**2)) > 0.02
        assert row["noisy"] == (side == "test")
        assert (built_media / "speech_noisy" / row["file"]).exists() == row["noisy"]
        assert row["file"].startswith(row["utt"] + ".")
    stats = dataset_stats(built_media)
    assert stats["speech"]["shared_train_test_speakers"] == []


def test_video_stage_renders_every_item(built_media):
    from dataset.render import load_frames

    videos = sorted((built_media / "video").glob("*.jpg"))
    assert len(videos) == 8
    frames = load_frames(videos[0])
    assert frames.shape == (build_module.VIDEO_FRAMES, build_module.VIDEO_SIZE, build_module.VIDEO_SIZE, 3)


def test_split_limited_stages_keep_other_splits_files(built_media, tmp_path, demo_clips):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(built_media, out)
    before = set(files(out))
    split_of = read_split_files(out)
    assert len(set(split_of.values())) > 1
    shutil.rmtree(out / "video")
    run(Build(demo_clips[0].parent, out, limit=4, workers=1, splits=("unseen",)), ["speech", "video"])
    rows = [json.loads(line) for line in (out / "speech" / "manifest.jsonl").read_text().splitlines()]
    assert rows and {split_of[r["item"]] for r in rows} == {"unseen"}
    assert {p.stem for p in (out / "video").glob("*.jpg")} == {i for i, s in split_of.items() if s == "unseen"}
    assert {k for k in before if k.startswith(("speech/", "speech_noisy/")) and k.endswith(".flac")} <= set(files(out))
