"""The dataset build on real clips: outputs, determinism, and resuming after an interruption."""

from __future__ import annotations

import json

import numpy as np
import pytest

import dataset.build as build_module
from dataset.annotations import KINDS, KINEMATIC, KINEMATIC_HELDOUT, LABEL, TRAINING_KINDS, load_annotations
from dataset.build import Build, pose_file, run
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
        labels = {r: entry.texts(r, (LABEL,)) for r in ("descriptive", "spoken")}
        if entry.mirror and "left" in content:
            assert entry.content == content.replace("left", "right")
            assert all("right" in t and "left" not in t for t in labels["descriptive"] + labels["spoken"])
        assert len(set(labels["descriptive"])) == len(set(labels["spoken"])) == 8
        for register, texts in labels.items():  # the first caption of a register is still a label caption
            assert entry.texts(register)[0] == texts[0]
        assert entry.duration > 0.9


def test_captions_mix_label_kinematic_and_combined(built):
    from motion.mirror import swap_sides

    annotations = load_annotations(built / "annotations.json")
    split_of = read_split_files(built)
    kinds = {a.kind for e in annotations.values() for a in e.annotations}
    assert kinds == set(KINDS)
    sided = 0
    for item, entry in annotations.items():
        assert not set(entry.texts(kinds=(KINEMATIC_HELDOUT,))) & set(entry.texts()), "held-out captions never train"
        heldout = entry.texts(kinds=(KINEMATIC_HELDOUT,))
        assert bool(heldout) == (split_of[item] in ("test", "unseen")), item
        assert entry.texts(kinds=KINDS) == [a.text for a in entry.annotations]
        if not entry.mirror:
            mirrored = annotations["M" + item]
            for register in ("descriptive", "spoken"):
                for kind in (KINEMATIC, KINEMATIC_HELDOUT):
                    original = entry.texts(register, (kind,))
                    assert mirrored.texts(register, (kind,)) == [swap_sides(t) for t in original]
                    sided += sum(("left" in t) != ("right" in t) for t in original)
    assert sided >= 10, "the sample has one-sided kinematic captions whose mirrors swap sides"


def test_old_annotation_files_load_as_label_captions(tmp_path):
    old = {"dataset-2_walk_normal_001": {
        "path": "a/dataset-2_walk_normal_001.bvh", "duration": 4.05, "content": "walk", "style": "normal",
        "mirror": False, "annotations": [{"text": "a person walks forward", "register": "descriptive"},
                                         {"text": "walk forward", "register": "spoken"}]}}  # fmt: skip
    (tmp_path / "annotations.json").write_text(json.dumps(old))
    entry = load_annotations(tmp_path / "annotations.json")["dataset-2_walk_normal_001"]
    assert {a.kind for a in entry.annotations} == {LABEL}
    assert entry.texts() == ["a person walks forward", "walk forward"] and entry.texts("spoken") == ["walk forward"]
    assert entry.texts("descriptive", TRAINING_KINDS) == entry.texts("descriptive", (LABEL,))


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
    annotations = load_annotations(built_media / "annotations.json")
    for row in rows:  # speech is synthesised for label captions only (dataset.build.SPEECH_KINDS)
        assert row["text"] in annotations[row["item"]].texts(row["register"], (LABEL,))
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


def test_a_clip_the_kinematic_captioner_cannot_describe_keeps_its_label_captions():
    from dataset.captions import item_captions

    one_frame = np.zeros((1, 22, 3), dtype=np.float32)
    captions = item_captions("walk", "normal", one_frame, "dataset-2_walk_normal_001", "dataset-2_walk_normal_001",
                             heldout=True)  # fmt: skip
    assert {a.kind for a in captions} == {LABEL} and len(captions) == 16


def test_pose_stage_rebuilds_each_clip_through_blazepose(built_media, tmp_path, demo_clips):
    """The pose stage renders the clip, runs the real BlazePose models and rebuilds the canonical skeleton: the
    body moves as the clip's does (within the pose path's error), and a mirror's rebuild is its clip's mirrored."""
    import shutil

    from motion.mirror import mirror_positions
    from motion.skeleton import INDEX

    out = tmp_path / "copy"
    shutil.copytree(built_media, out)
    run(Build(demo_clips[0].parent, out, limit=4, workers=1, splits=("unseen",)), ["pose"])
    split_of = read_split_files(out)
    unseen = sorted(i for i, s in split_of.items() if s == "unseen")
    assert unseen and {p.name for p in (out / "pose").glob("*.npy")} == {pose_file(i, 0) for i in unseen}
    pelvis = INDEX["pelvis"]
    for item in unseen:
        rebuilt, truth = np.load(out / "pose" / f"{item}.npy"), np.load(out / "joints" / f"{item}.npy")
        assert rebuilt.dtype == np.float32 and abs(len(rebuilt) - len(truth)) <= 1
        n = min(len(rebuilt), len(truth))
        error = np.linalg.norm(
            (rebuilt[:n] - rebuilt[:n, pelvis : pelvis + 1]) - (truth[:n] - truth[:n, pelvis : pelvis + 1]), axis=-1
        )  # noqa: E501
        assert error.mean() < 0.2, (item, error.mean())
        if not item.startswith("M"):
            np.testing.assert_allclose(np.load(out / "pose" / f"M{item}.npy"), mirror_positions(rebuilt), atol=1e-5)
    stamps = {p: p.stat().st_mtime_ns for p in (out / "pose").glob("*.npy")}
    run(Build(demo_clips[0].parent, out, limit=4, workers=1, splits=("unseen",)), ["pose"])
    assert {p: p.stat().st_mtime_ns for p in (out / "pose").glob("*.npy")} == stamps, "a rerun redid finished clips"
    run(Build(demo_clips[0].parent, out, limit=4, workers=1, splits=("unseen",), pose_views=2), ["pose"])
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps, "a second camera redid the first camera's files"
    for item in unseen:
        first, second = np.load(out / "pose" / pose_file(item, 0)), np.load(out / "pose" / pose_file(item, 1))
        assert abs(len(first) - len(second)) <= 1 and not np.allclose(first[: len(second)], second[: len(first)])
        if not item.startswith("M"):
            np.testing.assert_allclose(np.load(out / "pose" / pose_file("M" + item, 1)), mirror_positions(second),
                                       atol=1e-5)  # fmt: skip
    run(Build(demo_clips[0].parent, out, limit=4, workers=1, splits=("unseen",), pose_views=3, pose_yaws="axes"),
        ["pose"])  # fmt: skip
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert all((out / "pose" / pose_file(item, 2)).exists() for item in unseen)
    assert json.loads((out / "build.json").read_text())["stages"]["pose"]["yaws"] == "axes"
    run(Build(demo_clips[0].parent, out, limit=4, workers=1, splits=("unseen",), pose_views=4, pose_sizes=(400, 480)),
        ["pose"])  # fmt: skip  # a fourth camera whose frames come at a size drawn from 400-480 px
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert all((out / "pose" / pose_file(item, 3)).exists() for item in unseen)
    assert json.loads((out / "build.json").read_text())["stages"]["pose"]["size"] == [400, 480]


def test_pose_sizes_are_a_size_or_a_rising_range():
    import argparse

    from dataset.__main__ import _size_range

    assert _size_range("256") == (256, 256) and _size_range("160-512") == (160, 512)
    for bad in ("512-160", "abc", "10-20", "160-", "160-99999"):
        with pytest.raises(argparse.ArgumentTypeError):
            _size_range(bad)
