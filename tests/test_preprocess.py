"""Torch-free preprocessing against independent references: faster-whisper's log-mel on real speech."""

from __future__ import annotations

import numpy as np
import pytest

from preprocess.audio import log_mel


@pytest.fixture(scope="module")
def speech():
    from dataset.speech import synthesize
    from dataset.voices import voice_by_id

    return synthesize("walk forward and wave your left hand", voice_by_id("flite-slt"))


def test_log_mel_matches_faster_whisper(speech):
    from faster_whisper.feature_extractor import FeatureExtractor

    reference = FeatureExtractor()(speech, padding=0)
    ours = log_mel(speech)
    n = min(reference.shape[1], ours.shape[1])
    assert ours.shape[0] == 80 and abs(reference.shape[1] - ours.shape[1]) <= 1
    np.testing.assert_allclose(ours[:, :n], reference[:, :n], atol=2e-3)
    assert ours.shape[1] == pytest.approx(len(speech) / 160, abs=1)


def test_log_mel_rejects_bad_audio():
    with pytest.raises(ValueError, match="mono"):
        log_mel(np.zeros((2, 16000), dtype=np.float32))
    with pytest.raises(ValueError, match="too short"):
        log_mel(np.zeros(100, dtype=np.float32))


def test_log_mel_caps_length(speech):
    long = np.tile(speech, 10)
    assert log_mel(long, max_seconds=4.0).shape[1] == 400


def test_tokenize_matches_the_transformers_tokenizer():
    from transformers import AutoTokenizer

    from preprocess.text import default_backbone, tokenize

    texts = ["A person waves their LEFT hand", "can you walk forward like you're exhausted?", "bow"]
    ours = tokenize(texts)
    reference = AutoTokenizer.from_pretrained(default_backbone())(texts, padding=True, truncation=True, max_length=32)
    np.testing.assert_array_equal(ours.ids, reference["input_ids"])
    np.testing.assert_array_equal(ours.mask, reference["attention_mask"])
    assert tokenize(["word " * 100]).ids.shape == (1, 32)
    with pytest.raises(ValueError, match="empty text at position"):
        tokenize(["fine", "  "])


def test_frames_are_sampled_resized_and_scaled():
    from preprocess.frames import prepare_frames, sample_indices

    assert sample_indices(16, 8).tolist() == [1, 3, 5, 7, 9, 11, 13, 15]
    assert sample_indices(3, 8).tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
    frames = np.zeros((16, 100, 120, 3), dtype=np.uint8)
    frames[:, :, :, 0] = 255
    out = prepare_frames(frames, 8, 64)
    assert out.shape == (8, 3, 64, 64) and out.dtype == np.float32
    assert np.allclose(out[:, 0], 128 / 128) and np.allclose(out[:, 1], -127 / 128)
    with pytest.raises(ValueError, match="uint8 RGB"):
        prepare_frames(frames.astype(np.float32), 8, 64)
