"""The ONNX exporter and the server's encoders: a real (small, untrained) model exported once with its real
backbones, parity against PyTorch on real inputs, dynamic axes, the torch-free encoders, tampering."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import save_file

import model.modeling as modeling
from exporter.bundle import Bundle, BundleError
from exporter.graphs import Backbones, patch_time, pool_states, pool_time
from exporter.parity import centre_crop, check_parity, relative_error, torch_item
from exporter.samples import real_samples
from model.config import TrainConfig
from model.load import load_run, part_columns
from model.modeling import ModelConfig, MotionSearchModel
from motion.canonical import load_canonical
from motion.features import motion_features
from motion.normalize import FeatureStats

ROOT = Path(__file__).resolve().parents[1]
VIDEO_SIZE = 96  # small frames keep the EfficientNet part of the test quick
TOLERANCE = 1e-4


def make_release(folder: Path, seed: int = 0) -> Path:
    """A seeded, untrained small model saved as ``python -m model.release`` saves one (loads with load_run)."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    cfg = ModelConfig(
        dim=64, heads=4, feedforward=2, motion_patch=4, text_layers=1, speech_layers=1, video_layers=1, memory_slots=16
    )
    net = MotionSearchModel(cfg, part_columns())
    save_file({k: v.detach().half().contiguous() for k, v in net.state_dict().items()}, folder / "model.safetensors")
    config = {"name": "tiny", "data": "", "seed": seed, "model": cfg.to_dict(), "train": asdict(TrainConfig())}
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    manifest = {
        "name": "tiny",
        "epoch": 3,
        "model_config": cfg.to_dict(),
        "data_hash": "0123456789abcdef",
        "git_commit": "test",
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    features = [
        motion_features(c.positions, c.fps) for c in map(load_canonical, sorted((ROOT / "data/demo").glob("*.bvh"))[:6])
    ]
    FeatureStats.fit(features).save(folder / "feature_stats.npz")
    return folder


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return make_release(tmp_path_factory.mktemp("release"))


@pytest.fixture(scope="module")
def bundle(release, tmp_path_factory) -> Path:
    """The release exported once for the module (about a minute: MiniLM, Whisper and EfficientNet go along)."""
    from exporter.__main__ import main

    out = tmp_path_factory.mktemp("bundle")
    code = main(["--run", str(release), "--out", str(out), "--video-size", str(VIDEO_SIZE), "--threads", "1"])
    assert code == 0, "the export or its parity check failed"
    return out


@pytest.fixture(scope="module")
def model(release) -> MotionSearchModel:
    return load_run(release)[0]


@pytest.fixture(scope="module")
def backbones(model) -> Backbones:
    return Backbones.load(model.cfg.modalities, None, 8, VIDEO_SIZE)


@pytest.fixture(scope="module")
def encoders(bundle):
    from server.encoders import Encoders

    return Encoders.open(bundle, threads=1)


@pytest.fixture(scope="module")
def samples():
    return real_samples()


def test_the_manifest_describes_the_bundle(bundle):
    b = Bundle.load(bundle)
    assert b.format_version == 1 and b.dim == 64 and b.modalities == ["text", "speech", "video", "motion"]
    assert b.model["name"] == "tiny" and b.model["epoch"] == 3 and b.model["data_hash"] == "0123456789abcdef"
    assert b.model["config"]["dim"] == 64 and b.model["git_commit"] == "test"
    assert b.similarity["alignment"] == "sequence" and b.similarity["aggregation"] == "max"
    io = {m: (g.input_names, g.output_names) for m, g in b.graphs.items()}
    assert io == {
        "text": (["input_ids", "attention_mask"], ["tokens", "token_mask", "weights", "sentence_embedding"]),
        "sentence": (["input_ids", "attention_mask"], ["sentence_embedding"]),
        "speech": (["log_mel", "n_frames"], ["tokens", "weights"]),
        "video": (["frames"], ["tokens", "weights"]),
        "motion": (["features", "frame_mask"], ["tokens", "token_mask", "weights"]),
    }
    assert b.graphs["text"].inputs[0].shape == ("batch", "tokens") and b.graphs["text"].inputs[0].dtype == "int64"
    assert b.graphs["speech"].inputs[0].shape == ("batch", 80, "mel_frames")
    assert b.graphs["speech"].outputs[0].shape == ("batch", 8, 64)
    assert b.graphs["video"].inputs[0].shape == ("batch", "frames", 3, VIDEO_SIZE, VIDEO_SIZE)
    assert b.graphs["motion"].inputs[1].dtype == "bool" and b.graphs["motion"].outputs[0].shape[-1] == 64
    p = b.preprocessing
    assert (p.text.max_tokens, p.speech.sample_rate, p.speech.n_mels, p.speech.max_seconds, p.speech.pooling) == (
        32,
        16000,
        80,
        10.0,
        2,
    )
    assert (p.video.frames, p.video.size, p.video.mean, p.video.std) == (8, VIDEO_SIZE, 127.0, 128.0)
    assert (p.motion.fps, p.motion.max_frames, p.motion.feature_dim, len(p.motion.joints)) == (20.0, 196, 263, 22)
    assert {"torch", "onnx", "onnxruntime", "opset"} <= set(b.versions)
    assert {"tokenizer/tokenizer.json", "feature_stats.npz", "motion.onnx"} <= set(b.files)
    assert b.tokenizer_path.joinpath("tokenizer.json").exists() and len(b.digest) == 64
    assert b.graphs["sentence"].outputs[0].shape == ("batch", 384) and b.preprocessing.text.sentence_max_tokens == 128
    results = b.parity["results"]
    assert set(results) == {"text", "sentence", "speech", "video", "motion"}
    assert all(r["passed"] and r["tokens"] <= TOLERANCE and r["weights"] <= TOLERANCE for r in results.values())


def test_parity_on_real_inputs(bundle, model, backbones, samples):
    b = Bundle.load(bundle)
    results = check_parity(
        bundle, model, backbones, samples, b.preprocessing, FeatureStats.load(b.stats_path), threads=1
    )
    for r in results:
        print(r.line())
    assert [r.modality for r in results] == ["text", "sentence", "speech", "video", "motion"]
    assert all(r.passed and r.tokens <= TOLERANCE and r.weights <= TOLERANCE for r in results)
    assert len(set(next(r for r in results if r.modality == "motion").lengths)) == 3  # unequal lengths, padded


def test_parity_notices_a_different_model(bundle, release, tmp_path, backbones, samples):
    other = load_run(make_release(tmp_path / "other", seed=1))[0]
    b = Bundle.load(bundle)
    (result,) = check_parity(
        bundle,
        other,
        backbones,
        samples,
        b.preprocessing,
        FeatureStats.load(b.stats_path),
        threads=1,
        modalities=["motion"],
    )
    assert not result.passed and result.tokens > 1e-2


def test_encoders_give_the_pytorch_tokens(encoders, model, backbones, bundle):
    from dataset.render import render_frames
    from dataset.speech import synthesize
    from dataset.voices import voice_by_id
    from preprocess.frames import prepare_frames

    assert encoders.providers == ["CPUExecutionProvider"] and encoders.dim == 64
    stats = FeatureStats.load(Bundle.load(bundle).stats_path)

    def check(ours, reference) -> None:
        assert ours[0].dtype == np.float32 and ours[1].dtype == np.float32
        assert ours[0].shape == reference[0].shape and ours[1].shape == reference[1].shape
        assert relative_error([ours[0]], [reference[0]]) <= TOLERANCE
        assert relative_error([ours[1]], [reference[1]]) <= TOLERANCE
        assert np.allclose(np.linalg.norm(ours[0], axis=1), 1, atol=1e-5) and abs(ours[1].sum() - 1) < 1e-5

    texts = ["a person waves with the left hand", "someone runs"]
    for ours, text in zip(encoders.encode_text(texts), texts):
        check(ours, torch_item(model, "text", backbones.text([text])[0]))

    clip = load_canonical(ROOT / "data/demo/dataset-2_wave-left-hand_elderly_017.bvh")
    features = motion_features(clip.positions, clip.fps)
    check(encoders.encode_motion(features), torch_item(model, "motion", stats.normalize(centre_crop(features, 196))))

    audio = synthesize("a person waves with the left hand", voice_by_id("espeak-en-us+m3"))
    check(encoders.encode_speech(audio), torch_item(model, "speech", backbones.speech([audio])[0]))

    frames = render_frames(clip.positions, n_frames=12, size=128, seed=1)
    assert prepare_frames(frames, 8, VIDEO_SIZE).shape == (8, 3, VIDEO_SIZE, VIDEO_SIZE)
    check(encoders.encode_video(frames), torch_item(model, "video", backbones.video([frames])[0]))


def test_the_sentence_graph_is_sentence_transformers_minilm(encoders):
    """The sentence graph on ONNX Runtime gives all-MiniLM-L6-v2's sentence embedding as sentence-transformers
    computes it in PyTorch (mean pooling, normalised), batched and padded; the text graph's own sentence output
    (a query's, cut at its 32 tokens) is the same vector for a query under that length."""
    from sentence_transformers import SentenceTransformer

    from preprocess.text import default_backbone

    texts = ["a person waves with the left hand", "kick", "dataset 1 walk tired. " * 12]  # the last: 70 tokens
    reference = SentenceTransformer(str(default_backbone()), device="cpu").encode(texts, convert_to_numpy=True)
    ours = encoders.encode_sentences(texts)
    assert ours.shape == (3, 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
    assert relative_error([ours], [reference]) <= TOLERANCE
    (tokens, weights), query = encoders.encode_query(texts[0])
    assert np.abs(query - ours[0]).max() < 1e-5 and tokens.shape == encoders.encode_text(texts[:1])[0][0].shape
    assert encoders.encode_query(texts[0], sentence=False)[1] is None
    with pytest.raises(ValueError, match="non-empty list"):
        encoders.encode_sentences([])


def test_text_is_encoded_in_batches(encoders):
    texts = [f"a person walks {'slowly ' * (i % 5)}forward" for i in range(7)]
    encoders.batch_size = 3
    try:
        batched = encoders.encode_text(texts)
    finally:
        encoders.batch_size = 64
    for (tokens, weights), text in zip(batched, texts):
        alone = encoders.encode_text([text])[0]
        assert tokens.shape == alone[0].shape and np.abs(tokens - alone[0]).max() < 1e-5
        assert np.abs(weights - alone[1]).max() < 1e-5


def _feeds(modality: str, batch: int, length: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    if modality == "text":
        ids = rng.integers(1000, 5000, (batch, length))
        ids[:, 0], ids[:, -1] = 101, 102
        return {"input_ids": ids, "attention_mask": np.ones((batch, length), dtype=np.int64)}
    if modality == "speech":
        return {
            "log_mel": rng.uniform(-1, 1, (batch, 80, length)).astype(np.float32),
            "n_frames": np.full(batch, length, dtype=np.int64),
        }
    if modality == "video":
        return {"frames": rng.uniform(-1, 1, (batch, length, 3, VIDEO_SIZE, VIDEO_SIZE)).astype(np.float32)}
    return {
        "features": rng.standard_normal((batch, length, 263)).astype(np.float32),
        "frame_mask": np.ones((batch, length), dtype=bool),
    }


@pytest.mark.parametrize(
    "modality, lengths", [("text", (5, 23)), ("speech", (150, 421)), ("video", (8, 3)), ("motion", (23, 196))]
)
def test_graph_axes_are_dynamic(encoders, modality, lengths):
    session = encoders.sessions[modality]
    rng = np.random.default_rng(0)
    for length in lengths:
        feeds = _feeds(modality, 3, length, rng)
        names = [o.name for o in session.get_outputs()]
        three = dict(zip(names, session.run(None, feeds)))
        one = dict(zip(names, session.run(None, {k: v[1:2] for k, v in feeds.items()})))
        assert three["tokens"].shape[0] == 3 and one["tokens"].shape[0] == 1 and three["tokens"].shape[-1] == 64
        if modality in ("text", "video"):
            assert three["tokens"].shape[1] == length
        assert np.abs(three["tokens"][1] - one["tokens"][0]).max() < 1e-5
        assert np.abs(three["weights"][1] - one["weights"][0]).max() < 1e-5


def test_motion_tokens_follow_the_valid_frames(encoders):
    """A padded batch gives each motion the tokens it has alone (the mask hides the padding)."""
    rng = np.random.default_rng(1)
    clips = [rng.standard_normal((n, 263)).astype(np.float32) for n in (9, 40)]
    features = np.zeros((2, 40, 263), dtype=np.float32)
    features[0, :9], features[1] = clips
    mask = np.arange(40)[None] < np.array([[9], [40]])
    tokens, token_mask, weights = encoders.sessions["motion"].run(None, {"features": features, "frame_mask": mask})
    alone = encoders.sessions["motion"].run(None, {"features": clips[0][None], "frame_mask": np.ones((1, 9), bool)})
    assert token_mask[0].sum() == alone[1].sum() == 8 and weights[0][~token_mask[0]].max() == 0
    assert np.abs(tokens[0][token_mask[0]] - alone[0][0][alone[1][0]]).max() < 1e-5


def test_export_friendly_helpers_equal_the_models():
    g = torch.Generator().manual_seed(0)
    for length in (1, 2, 5, 8, 13):
        x = torch.randn(2, length, 7, generator=g)
        mask = torch.arange(length)[None] < torch.tensor([[length], [max(1, length // 2)]])
        for ours, theirs in zip(patch_time(x, mask, 4), modeling._patch_time(x, mask, 4)):
            assert ours.shape == theirs.shape and torch.allclose(ours, theirs)
        h = torch.randn(2, 3, length, 5, generator=g)
        for ours, theirs in zip(pool_time(h, mask), modeling._pool_time(h, mask)):
            assert ours.shape == theirs.shape and torch.allclose(ours, theirs, atol=1e-6)
    # the speech states' pooling of model.backbones.SpeechBackbone, batched with masks
    states = torch.randn(4, 6, 3, generator=g)
    lengths = torch.tensor([1, 2, 5, 6])
    pooled, valid = pool_states(states, lengths, 2)
    for i, n in enumerate(lengths.tolist()):
        item = states[i, :n]
        keep = n // 2 * 2
        expected = item[:keep].view(-1, 2, 3).mean(1) if keep else item
        assert torch.allclose(pooled[i][valid[i]], expected, atol=1e-6)


def test_encoders_reject_bad_input(encoders):
    bad = [
        (lambda: encoders.encode_text([]), "no texts"),
        (lambda: encoders.encode_text(["walk", "  "]), "empty text at position"),
        (lambda: encoders.encode_text("walk"), "list of strings"),
        (lambda: encoders.encode_speech(np.zeros(0, np.float32)), "empty audio"),
        (lambda: encoders.encode_speech(np.zeros(100, np.float32)), "too short"),
        (lambda: encoders.encode_speech(np.zeros((2, 16000), np.float32)), "mono"),
        (lambda: encoders.encode_speech(np.full(16000, np.nan, np.float32)), "NaN"),
        (lambda: encoders.encode_video(np.zeros((0, 64, 64, 3), np.uint8)), "too few frames"),
        (lambda: encoders.encode_video(np.zeros((4, 64, 64, 3), np.float32)), "uint8"),
        (lambda: encoders.encode_motion(np.zeros((0, 263), np.float32)), "too few frames"),
        (lambda: encoders.encode_motion(np.zeros((10, 22, 3), np.float32)), "263"),
        (lambda: encoders.encode_motion(np.full((10, 263), np.inf, np.float32)), "infinite"),
    ]
    for call, message in bad:
        with pytest.raises(ValueError, match=message):
            call()
    # a single frame is enough for both (sampled again to the model's frame count; one motion token per part)
    assert encoders.encode_video(np.zeros((1, 32, 48, 3), np.uint8))[0].shape == (8, 64)
    assert encoders.encode_motion(np.zeros((1, 263), np.float32))[0].shape == (8, 64)
    # longer than the model's 196 frames: the centre crop
    long = np.random.default_rng(0).standard_normal((300, 263)).astype(np.float32)
    assert np.array_equal(encoders.encode_motion(long)[0], encoders.encode_motion(long[52:248])[0])


def _linked_copy(src: Path, dst: Path, copied: tuple[str, ...]) -> Path:
    """A bundle copy whose big files are hard links (cheap) and whose ``copied`` files are real copies."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if str(path.relative_to(src)) in copied:
            shutil.copyfile(path, target)
        else:
            try:
                os.link(path, target)
            except OSError:
                shutil.copyfile(path, target)
    return dst


def test_a_tampered_bundle_is_refused(bundle, tmp_path):
    from server.encoders import Encoders

    # the manifest's sha256 of a graph changed
    edited = _linked_copy(bundle, tmp_path / "edited", ("manifest.json",))
    manifest = json.loads((edited / "manifest.json").read_text())
    manifest["files"]["speech.onnx"] = "0" * 64
    (edited / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"speech\.onnx has sha256 .* but the manifest says 000000"):
        Bundle.load(edited)
    with pytest.raises(BundleError, match="re-export"):
        Encoders.open(edited)
    assert Bundle.load(edited, verify=False).dim == 64

    # a file changed after export
    changed = _linked_copy(bundle, tmp_path / "changed", ("feature_stats.npz",))
    data = bytearray((changed / "feature_stats.npz").read_bytes())
    data[-10] ^= 0xFF
    (changed / "feature_stats.npz").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"feature_stats\.npz has sha256"):
        Bundle.load(changed)
    (changed / "feature_stats.npz").unlink()
    with pytest.raises(BundleError, match=r"feature_stats\.npz is missing"):
        Bundle.load(changed)


def test_bundle_errors_are_clear(tmp_path):
    with pytest.raises(BundleError, match="not an ONNX bundle"):
        Bundle.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "motionsearch-onnx-bundle", "format_version": 99}))
    with pytest.raises(BundleError, match="format version 99"):
        Bundle.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="unreadable"):
        Bundle.load(tmp_path)


def _reuse_graphs(monkeypatch, bundle: Path) -> None:
    """Make the exporter take its ONNX files from the module's bundle instead of exporting them again (seconds
    instead of a minute) for tests of what happens around the export."""
    import exporter.graphs

    def link(graph, path: Path) -> None:
        try:
            os.link(bundle / graph.file, path)
        except OSError:
            shutil.copyfile(bundle / graph.file, path)

    monkeypatch.setattr(exporter.graphs, "export_graph", link)


def test_a_failed_parity_check_leaves_no_manifest(bundle, tmp_path, monkeypatch, capsys):
    from exporter.__main__ import main

    _reuse_graphs(monkeypatch, bundle)  # graphs of another model than the one the exporter is given
    other = make_release(tmp_path / "other", seed=1)
    out = tmp_path / "out"
    assert main(["--run", str(other), "--out", str(out), "--video-size", str(VIDEO_SIZE), "--threads", "1"]) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.out and "not a usable bundle" in captured.err
    assert (out / "motion.onnx").exists() and not (out / "manifest.json").exists()


def test_a_run_directory_exports_with_its_datasets_settings(bundle, model, release, tmp_path, monkeypatch):
    from exporter.__main__ import main

    _reuse_graphs(monkeypatch, bundle)
    data = tmp_path / "data"
    (data / "stats").mkdir(parents=True)
    (data / "cache").mkdir()
    shutil.copyfile(release / "feature_stats.npz", data / "stats" / "feature_mean_std.npz")
    (data / "cache" / "manifest.json").write_text(json.dumps({"video": {"frames": 8, "size": VIDEO_SIZE}}))
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    config = yaml.safe_load((release / "config.yaml").read_text()) | {"name": "tiny-run", "data": str(data)}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "meta.json").write_text(json.dumps({"git_commit": "abc"}))
    state = {"model": model.state_dict(), "epoch": 4, "model_config": model.cfg.to_dict(), "data_hash": "feed"}
    torch.save(state, run / "checkpoints" / "best.pt")
    out = tmp_path / "out"
    assert main(["--run", str(run), "--out", str(out), "--threads", "1"]) == 0
    b = Bundle.load(out)
    assert (b.model["kind"], b.model["name"], b.model["epoch"]) == ("run", "tiny-run", 5)
    assert (b.model["git_commit"], b.model["data_hash"]) == ("abc", "feed")
    assert b.preprocessing.video.size == VIDEO_SIZE and b.digest == Bundle.load(bundle).digest
    assert json.loads((out / "manifest.json").read_text())["export"]["video_settings_from"].endswith("manifest.json")


def test_exporter_command_line_errors(tmp_path, capsys):
    from exporter.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--run", str(tmp_path), "--out", str(tmp_path / "bundle")])
    assert exit_info.value.code == 2 and "no config.yaml" in capsys.readouterr().err


def test_the_server_side_is_torch_free(bundle):
    code = (
        f"import sys; from server.encoders import Encoders; e = Encoders.open({str(bundle)!r}, threads=1); "
        "e.encode_text(['walk']); training = ('torch', 'transformers', 'model', 'dataset'); "
        "bad = sorted(m for m in training if m in sys.modules); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _moved(folder: Path, prefix: str, seed: int) -> None:
    """The release in ``folder`` with its tensors whose names start with ``prefix`` moved (as a fine-tune does)."""
    from safetensors.torch import load_file

    tensors = load_file(folder / "model.safetensors")
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in tensors.items():
        if name.startswith(prefix) and tensor.is_floating_point():
            tensors[name] = (tensor.float() + 0.05 * torch.randn(tensor.shape, generator=generator)).half()
    save_file(tensors, folder / "model.safetensors")


def _pose_release(release: Path, folder: Path) -> Path:
    """A copy of ``release`` carrying a pose encoder in ``pose/``, as model/configs/pose-encoder.yaml makes one:
    the same model with the motion encoder moved, taught by the release's own motion encoder."""
    from model.load import motion_digest

    shutil.copytree(release, folder)
    shutil.copytree(release, folder / "pose")
    _moved(folder / "pose", "encoders.motion.", seed=0)
    teacher = motion_digest(load_run(release)[0])
    manifest = json.loads((folder / "pose" / "manifest.json").read_text())
    manifest |= {"sha256": "pose-weights", "teacher_motion_sha256": teacher}
    (folder / "pose" / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_a_releases_pose_encoder_is_exported_as_the_pose_graph(bundle, release, tmp_path, monkeypatch, capsys):
    """A release's pose/ encoder (fine-tuned motion encoder, the rest equal) becomes the pose graph, parity-checked,
    and SearchVideo's encoder uses it; it stays when only other encoders were retrained, and one taught by another
    motion encoder is left out, or refused when named."""
    import exporter.graphs
    from exporter.__main__ import main, pose_model
    from server.encoders import Encoders

    export_graph = exporter.graphs.export_graph
    _reuse_graphs(monkeypatch, bundle)
    linked = exporter.graphs.export_graph
    monkeypatch.setattr(
        exporter.graphs,
        "export_graph",
        lambda graph, path: (export_graph if graph.modality == "pose" else linked)(graph, path),
    )
    with_pose = _pose_release(release, tmp_path / "with-pose")
    out = tmp_path / "out"
    assert main(["--run", str(with_pose), "--out", str(out), "--video-size", str(VIDEO_SIZE), "--threads", "1"]) == 0
    b = Bundle.load(out)
    assert "pose" in b.graphs and b.modalities == Bundle.load(bundle).modalities
    assert b.model["pose_sha256"] == "pose-weights" and b.parity["results"]["pose"]["passed"]
    encoders = Encoders.open(out, threads=1)
    assert encoders.has_pose_encoder and "pose" not in encoders.modalities
    clip = load_canonical(sorted((ROOT / "data/demo").glob("*.bvh"))[0])
    features = motion_features(clip.positions, clip.fps)
    pose_tokens, motion_tokens = encoders.encode_pose_motion(features), encoders.encode_motion(features)
    crop = encoders.stats.normalize(centre_crop(features, b.preprocessing.motion.max_frames))
    reference = torch_item(load_run(with_pose / "pose")[0], "motion", crop)
    np.testing.assert_allclose(pose_tokens[0], reference[0], atol=1e-4)
    assert np.abs(pose_tokens[0] - motion_tokens[0]).max() > 1e-2
    assert not Encoders.open(bundle, threads=1).has_pose_encoder  # none: the motion encoder stands in

    other_encoders = _pose_release(release, tmp_path / "other-encoders")  # speech retrained: the pose one kept
    _moved(other_encoders, "encoders.speech.", seed=1)
    model = load_run(other_encoders)[0]
    assert pose_model(other_encoders, model, other_encoders / "pose", explicit=True) is not None
    stale = _pose_release(release, tmp_path / "stale")  # a new motion encoder: the pose one was taught by the old
    _moved(stale, "encoders.motion.", seed=2)
    capsys.readouterr()
    assert pose_model(stale, load_run(stale)[0], stale / "pose", explicit=False) is None
    assert "not adding the pose encoder" in capsys.readouterr().out
    assert main(["--run", str(stale), "--pose-run", str(stale / "pose"), "--out", str(tmp_path / "x"),
                 "--video-size", str(VIDEO_SIZE), "--threads", "1"]) == 2  # fmt: skip
    assert "was not taught by" in capsys.readouterr().err
