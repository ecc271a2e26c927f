"""Training, resuming and evaluating on the demo library built end to end (real audio, renders, backbones)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from model.data import RetrievalData, View
from model.evaluate import main as evaluate_main
from model.load import load_run, part_columns
from model.modeling import ModelConfig, MotionSearchModel
from model.train import main as train_main

SMALL = {"dim": 64, "heads": 2, "motion_layers": 2, "video_layers": 1, "text_layers": 1, "speech_layers": 1}


def test_cached_batches_line_up_with_items(demo_dataset):
    data = RetrievalData(demo_dataset, "train", ["motion", "text", "speech", "video"])
    items = data.items[:6]
    batch = data.batch(items, random.Random(0))
    assert batch["motion"][0].shape[0] == 6 and batch["motion"][0].shape[2] == 263
    assert batch["text"][0].shape[2] == batch["speech"][0].shape[2] == 384
    assert batch["video"][0].shape[1:] == (8, 1280)
    positives = data.positives(items)
    assert positives.diagonal().all()
    for i, a in enumerate(items):
        for j, b in enumerate(items):
            assert bool(positives[i, j]) == (a == b or data.labels(a) == data.labels(b))
    with pytest.raises(ValueError, match="noisy audio exists for test and unseen items only"):
        data.batch(items, None, View("spoken", noisy=True))
    test = RetrievalData(demo_dataset, "test", ["motion", "text", "speech", "video"])
    fixed = test.batch(test.items, None, View("spoken", noisy=True))
    again = test.batch(test.items, None, View("spoken", noisy=True))
    clean = test.batch(test.items, None, View("spoken"))
    assert all(torch.equal(fixed[m][0], again[m][0]) for m in fixed)
    assert not torch.equal(fixed["speech"][0], clean["speech"][0])


def test_a_kinematic_caption_is_a_positive_of_its_own_motion_only(demo_dataset):
    """Instance positives (``finetune.caption_positives: instance``): column j is item j's drawn caption; a label
    caption is true of every motion with its labels, a kinematic or combined one of its own motion alone."""
    from dataset.annotations import COMBINED, KINEMATIC, LABEL
    from model.data import TEXTS
    from motion.augment import AugmentConfig

    data = RetrievalData(demo_dataset, "train", ["motion", "text"])
    groups: dict[tuple[str, str], list[str]] = {}
    for item in data.items:
        if all(data.annotations[item].texts(None, (k,)) for k in (LABEL, KINEMATIC, COMBINED)):
            groups.setdefault(data.labels(item), []).append(item)
    items = [i for g in groups.values() if len(g) > 1 for i in g[:2]][:8]  # pairs that share their labels
    assert len(items) >= 4
    kinds = [LABEL, KINEMATIC, COMBINED, LABEL, KINEMATIC, LABEL, LABEL, COMBINED][: len(items)]
    texts = [data.annotations[i].texts(None, (k,))[0] for i, k in zip(items, kinds)]
    positives = data.positives(items, texts)
    by_labels = data.positives(items)
    for i in range(len(items)):
        for j in range(len(items)):
            expected = bool(by_labels[i, j]) if kinds[j] == LABEL else (i == j or texts[i] == texts[j])
            assert bool(positives[i, j]) == expected, (i, j, kinds[j])
    assert positives.diagonal().all()
    assert by_labels.sum() > positives.sum()  # the demo has items sharing labels: kinematic columns lose them
    batch = data.augmented_batch(items, random.Random(0), np.random.default_rng(0), AugmentConfig(), 0.0)
    drawn = batch.pop(TEXTS)
    assert [t in data.annotations[i].texts() for i, t in zip(items, drawn)] == [True] * len(items)
    assert torch.equal(batch["text"][0][0, : len(data.stores["text"][drawn[0]])], torch.from_numpy(
        np.asarray(data.stores["text"][drawn[0]], dtype=np.float32)))  # fmt: skip


def test_the_model_fits_a_batch_of_real_data(demo_dataset):
    """A few steps on one batch drive the contrastive loss well down: the model and data are wired right."""
    torch.manual_seed(0)
    data = RetrievalData(demo_dataset, "train", ["motion", "text", "speech", "video"])
    model = MotionSearchModel(ModelConfig.from_dict({**SMALL, "dropout": 0.0}), part_columns())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    items = data.items[:16]
    inputs, positives = data.batch(items, None, View()), data.positives(items)
    losses = []
    for _ in range(40):
        out = model(inputs, positives)
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
        losses.append(out["loss"].item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_train_resume_and_evaluate(tmp_path, demo_dataset):
    config = tmp_path / "tiny.yaml"
    base = Path(__file__).resolve().parents[1] / "model" / "configs" / "cpu.yaml"
    config.write_text(f"base: {base}\nname: tiny\nmodel: {json.dumps(SMALL)}\ntrain: {{epochs: 2, batch_size: 8}}\n")
    run = tmp_path / "run"
    args = ["--config", str(config), "--data", str(demo_dataset), "--run", str(run), "--limit-batches", "2"]
    assert train_main([*args, "--epochs", "1"]) == 0
    assert {p.name for p in run.iterdir()} >= {"config.yaml", "meta.json", "metrics.csv", "checkpoints"}
    meta = json.loads((run / "meta.json").read_text())
    assert meta["data_hash"] and meta["train_items"] > 0
    assert train_main([*args, "--resume", "--epochs", "2"]) == 0  # continues with epoch 2
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"] and all(float(r["train_loss"]) > 0 for r in rows)
    model, _, state = load_run(run, "last")
    assert state["epoch"] == 1 and isinstance(model, MotionSearchModel)

    assert evaluate_main([str(run), "--checkpoint", "last"]) == 0
    report = json.loads((run / "eval.json").read_text())
    results = report["splits"]["test"]["results"]
    for key in ("text->motion/descriptive", "motion->text/spoken", "speech->motion/clean",
                "speech->motion/noisy-10dB", "video->motion/rendered", "motion->video/rendered",
                "speech(asr)->motion/clean", "speech(asr)->motion/noisy-10dB"):  # fmt: skip
        r = results[key]["all_strict"]
        assert 0 <= r["R@1"] <= r["R@5"] <= r["R@10"] <= 100 and r["MedR"] >= 1
    assert report["splits"]["unseen"]["items"] > 0
    test, unseen = report["splits"]["test"], report["splits"]["unseen"]
    text = results["text->motion/descriptive"]
    assert text["all_content_macro"]["groups"] == len(text["per_content"]) > 1
    assert sum(g["n"] for g in text["per_content"].values()) == test["items"]
    for split in (test, unseen):  # every demo test and unseen item has held-out kinematic captions
        heldout = split["kinematic_heldout"]["text->motion/spoken"]
        assert heldout["queries"] == split["items"]
        assert 0 <= heldout["all_strict"]["R@1"] <= heldout["all_strict"]["R@10"] <= 100
    probe = report["probe_in_test_library"]
    assert probe["queries"] == unseen["items"] and probe["gallery"] == test["items"] + unseen["items"]
    for key in ("text->motion/descriptive", "speech->motion/clean", "video->motion/rendered"):
        # the same queries and relevant items in a larger gallery (test items share no unseen label): never better
        among_probe, in_library = unseen["results"][key]["all_labels"], probe["results"][key]["all_labels"]
        assert all(in_library[k] <= among_probe[k] for k in ("R@1", "R@5", "R@10")), (key, in_library, among_probe)
        assert in_library["MedR"] >= among_probe["MedR"]


def test_resume_needs_a_run(tmp_path):
    with pytest.raises(SystemExit):
        train_main(["--config", "model/configs/cpu.yaml", "--resume"])


def test_init_needs_a_finetune_config(capsys):
    with pytest.raises(SystemExit):
        train_main(["--config", "model/configs/cpu.yaml", "--data", "x", "--init", "model/weights/default"])
    assert "--init needs a config with a finetune section" in capsys.readouterr().err


def test_training_needs_the_built_dataset(capsys):
    with pytest.raises(SystemExit):
        train_main(["--config", "model/configs/cpu.yaml"])
    assert "--data DIR is required" in capsys.readouterr().err


def test_ablation_table_results_page_and_release(tmp_path, demo_dataset):
    from model.ablate import main as ablate_main
    from model.release import main as release_main
    from model.results import main as results_main
    from model.results import sections

    out = tmp_path / "ablations"
    args = ["--data", str(demo_dataset), "--configs", "cpu,ablation-global,ablation-two-modal", "--epochs", "1",
            "--batch-size", "8", "--limit-batches", "1", "--out", str(out)]  # fmt: skip
    assert ablate_main(args) == 0
    table = (out / "table.md").read_text()
    assert "| cpu | 1 |" in table and "| global | 1 |" in table and "| two-modal | 1 |" in table
    assert "label relevance" in table and "strict pairing" in table
    two_modal = next(line for line in table.splitlines() if line.startswith("| two-modal"))
    assert two_modal.count("—") == 3  # no speech, no video: only text rows and the ASR cascade are scored
    results = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in results] == ["cpu", "global", "two-modal"]
    mtime = (out / "cpu" / "eval.json").stat().st_mtime
    assert ablate_main(args) == 0  # finished variants are reused, not retrained
    assert (out / "cpu" / "eval.json").stat().st_mtime == mtime

    page = tmp_path / "RESULTS.md"
    assert results_main(["--ablations", str(out), "--out", str(page), "--shipped", "ablation-global"]) == 0
    text = page.read_text()
    default_r1 = results[0]["splits"]["test"]["text->motion/descriptive"]["all_labels"]["R@1"]
    global_r1 = results[1]["splits"]["test"]["text->motion/descriptive"]["all_labels"]["R@1"]
    assert f"reference {default_r1:.1f} vs global {global_r1:.1f}" in text
    assert f"shipped `ablation-global`, text->motion R@1 (label relevance): shipped {global_r1:.1f}" in text
    assert "4-modal at least as good as 3-modal, text->motion R@1 (label relevance): not measured" in text
    assert "## Shipped model, unseen-action probe" in text and "speech(asr)->motion/noisy-10dB" in text
    assert "run `ablation-global`" in text
    assert text.count("## Beyond the test split") == 1 and text.endswith(sections())

    release = tmp_path / "release"
    assert release_main([str(out / "cpu"), "--out", str(release)]) == 0
    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["epoch"] == 1 and len(manifest["sha256"]) == 64
    with pytest.raises(SystemExit):  # an equal score does not replace the release
        release_main([str(out / "cpu"), "--out", str(release)])
    fusion = tmp_path / "fusion.json"  # the shape of a python -m bench.fusion result
    fusion.write_text(json.dumps({"test": {"fused": {"top5": 100.0}}}))
    with pytest.raises(SystemExit):  # scored on more parts than the release it would replace: not comparable
        release_main([str(out / "cpu"), "--out", str(release), "--free-form", str(fusion)])
    assert release_main([str(out / "cpu"), "--out", str(release), "--free-form", str(fusion), "--force"]) == 0
    manifest = json.loads((release / "manifest.json").read_text())
    parts = manifest["score_parts"]
    assert parts["free-form typed top-5"] == 100.0 and len(parts) == 3
    assert manifest["score"] == pytest.approx(sum(parts.values()) / 3, abs=1e-3)
    cross = Path(__file__).resolve().parents[1] / "docs" / "results" / "cross-source.json"  # the recorded run
    assert release_main([str(out / "cpu"), "--out", str(release), "--free-form", str(fusion), "--cross-source",
                         str(cross), "--force"]) == 0  # fmt: skip
    parts = json.loads((release / "manifest.json").read_text())["score_parts"]
    recorded = json.loads(cross.read_text())["models"]["cross-source"]["results"]
    assert (
        parts["cross-source text->motion content R@5"]
        == recorded["text->motion/descriptive/label"]["among_source"]["all_content"]["R@5"]
    )
    trained, _, _ = load_run(out / "cpu", "best")
    shipped, _, _ = load_run(release)
    data = RetrievalData(demo_dataset, "test", trained.cfg.modalities)
    inputs = data.batch(data.items[:4])
    with torch.no_grad():
        a, b = trained.encode("text", *inputs["text"]), shipped.encode("text", *inputs["text"])
    torch.testing.assert_close(a.x, b.x, atol=5e-3, rtol=0)  # fp16 weights


def test_results_sections_rewrite_only_the_last_part_from_the_recorded_files(tmp_path):
    from model.results import BARS, ROOT, SECTIONS
    from model.results import main as results_main

    page = tmp_path / "RESULTS.md"
    page.write_text("# Results\n\nkept as it is\n\n" + SECTIONS + "\n\nstale rows\n")
    assert results_main(["--sections", "--out", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("# Results\n\nkept as it is\n\n" + SECTIONS) and "stale rows" not in text
    rows = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:-1]] for r in text.splitlines()
            if r.startswith("| ") and not r.startswith("| measure")}  # fmt: skip
    assert len(rows) == len(BARS)
    typed = next(b for b in BARS if b.keys == ("test", "fused", "top5"))
    fused = json.loads((ROOT / typed.shipped).read_text())["test"]["fused"]
    assert rows[typed.label][:3] == [f"{fused['top5']:.1f}", "not measured", "≥ 90"]  # b6dea7c: another query set
    assert rows[typed.label][3] == ("yes" if fused["top5"] >= 90 else "**no**")
    first = next(b for b in BARS if b.keys[-3:] == ("by_batch", "first", "top5") and b.keys[1] == "fused")
    baseline = json.loads((ROOT / first.baseline).read_text())["test"]["fused"]["top5"]  # (at baseline_keys)
    assert rows[first.label][:2] == [f"{fused['by_batch']['first']['top5']:.1f}", f"{baseline:.1f}"]
    kinematic = next(b for b in BARS if b.times)  # a bar relative to the b6dea7c model: its threshold is computed
    data = json.loads((ROOT / kinematic.baseline).read_text())
    for key in kinematic.keys:
        data = data[key]
    assert rows[kinematic.label][2].endswith(f"= {kinematic.times * data:.1f}")
    assert results_main(["--sections", "--out", str(page)]) == 0 and page.read_text() == text  # idempotent


def test_caching_leaves_the_audio_intact_and_transcribes_the_evaluation_utterances(demo_dataset):
    from dataset.speech import read_audio

    rows = [json.loads(line) for line in (demo_dataset / "speech" / "manifest.jsonl").read_text().splitlines()]
    for row in rows:
        read_audio(demo_dataset / "speech" / row["file"])
        if row["noisy"]:
            read_audio(demo_dataset / "speech_noisy" / row["file"])
    heard = json.loads((demo_dataset / "cache" / "transcripts.json").read_text())
    test = RetrievalData(demo_dataset, "test", ["motion", "text", "speech"])
    for item in test.items:
        assert heard[test.utterance(item, None, View("spoken"))].strip()
        assert test.utterance(item, None, View("spoken", noisy=True)) in heard


def test_finetune_trains_only_the_motion_encoder_on_augmented_motion(tmp_path, demo_dataset):
    """model/configs/robust.yaml: the release's text, speech and video encoders stay as they were, the motion
    encoder learns, only motion and text are loaded, and validation scores augmented motion."""
    from model.config import load_config
    from motion.augment import AugmentConfig

    root = Path(__file__).resolve().parents[1]
    data = RetrievalData(demo_dataset, "train", ["motion", "text"])
    items = data.items[:4]
    same = data.augmented_batch(items, random.Random(0), np.random.default_rng(0), AugmentConfig(), share=0.0)
    assert set(same) == {"motion", "clean", "text", "texts"} and torch.equal(same["motion"][0], same["clean"][0])
    changed = data.augmented_batch(items, random.Random(0), np.random.default_rng(0), AugmentConfig(), share=1.0)
    assert torch.equal(changed["clean"][0], same["clean"][0])
    assert not torch.equal(changed["motion"][0], same["motion"][0])
    assert "speech" not in data.stores and "video" not in data.stores

    config = tmp_path / "robust-tiny.yaml"
    config.write_text(f"base: {root / 'model/configs/robust.yaml'}\ntrain: {{epochs: 1, batch_size: 8}}\n")
    assert load_config(config).finetune.augment.height == (1.4, 2.0)
    run = tmp_path / "run"
    init = root / "model" / "weights" / "speech-avgpool"  # --init: not the config's model/weights/default
    assert train_main(["--config", str(config), "--data", str(demo_dataset), "--run", str(run),
                       "--limit-batches", "2", "--init", str(init)]) == 0  # fmt: skip
    tuned, tuned_config, _ = load_run(run, "last")
    release, release_config, _ = load_run(init)
    assert tuned_config.model == release.cfg and tuned_config.finetune.train == ["motion"]
    before, after = release.state_dict(), tuned.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith("encoders.motion.") for k in moved), sorted(moved)[:5]
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert float(rows[0]["train_distill"]) > 0 and float(rows[0]["train_motion-text"]) > 0
    assert 0 <= float(rows[0]["val_motion(augmented)->motion_R@1"]) <= 100
    assert "val_speech->motion/clean_R@1" not in rows[0]


def test_finetune_student_starts_from_another_runs_motion_encoder(tmp_path, demo_dataset):
    """finetune.student (--student): the motion encoder starts from that run's, every other encoder is init's."""
    root = Path(__file__).resolve().parents[1]
    config = tmp_path / "more.yaml"
    config.write_text(f"base: {root / 'model/configs/pose-encoder-more.yaml'}\n"
                      "train: {epochs: 1, batch_size: 8, lr: 0.0, lr_end: 0.0}\n")  # fmt: skip
    init, student = root / "model/weights/speech-avgpool", root / "model/weights/default"
    run = tmp_path / "run"
    assert train_main(["--config", str(config), "--data", str(demo_dataset), "--run", str(run), "--limit-batches",
                       "1", "--init", str(init), "--student", str(student)]) == 0  # fmt: skip
    tuned = load_run(run, "last")[0].state_dict()
    first, second = load_run(init)[0].state_dict(), load_run(student)[0].state_dict()
    motion = {k for k in tuned if k.startswith("encoders.motion.")}
    assert motion and all(torch.equal(tuned[k], second[k]) for k in motion)
    assert any(not torch.equal(first[k], second[k]) for k in motion)
    assert all(torch.equal(tuned[k], first[k]) for k in tuned if k not in motion)


def test_real_pose_views_come_from_the_builds_pose_stage(tmp_path, demo_dataset):
    """AugmentConfig.real_pose: an item with pose-stage files is seen as one of those files' crops (each camera
    drawn); one without falls back to the synthetic augmentation."""
    from dataset.build import pose_file
    from motion.augment import AugmentConfig
    from motion.canonical import place
    from motion.features import motion_features

    folder = tmp_path / "data"
    folder.mkdir()
    for entry in demo_dataset.iterdir():
        (folder / entry.name).symlink_to(entry)
    data = RetrievalData(folder, "train", ["motion", "text"])
    item, other, third, bare = data.items[:4]
    (folder / "pose").mkdir()
    np.save(folder / "pose" / pose_file(item, 0), np.load(demo_dataset / "joints" / f"{other}.npy"))
    np.save(folder / "pose" / pose_file(item, 1), np.load(demo_dataset / "joints" / f"{third}.npy"))
    np.save(folder / "pose" / pose_file(other, 1), np.load(demo_dataset / "joints" / f"{third}.npy"))  # no view 0
    assert set(data.poses) == {item} and len(data.poses[item]) == 2
    config = AugmentConfig(real_pose=1.0)
    expected = []
    for view in data.poses[item]:
        crop = place(view[: data.max_frames + 1].astype(np.float64))
        expected.append(data.stats.normalize(motion_features(crop, 20.0))[: data.max_frames])
    seen = [data.augmented(item, 0, np.random.default_rng(seed), config) for seed in range(8)]
    matches = [[s.shape == e.shape and np.allclose(s, e, atol=1e-5) for e in expected] for s in seen]
    assert all(sum(m) == 1 for m in matches) and {m.index(True) for m in matches} == {0, 1}
    synthetic = data.augmented(bare, 0, np.random.default_rng(0), config)
    assert synthetic.shape[1] == seen[0].shape[1] and not np.allclose(synthetic[:5], data.motions[bare][:5], atol=1e-3)
