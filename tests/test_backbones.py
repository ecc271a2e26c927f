"""Frozen pretrained backbones: the rebuilt Whisper encoder against CTranslate2 on real speech."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.whisper import WhisperEncoder, default_weights, frames_to_tokens
from preprocess.audio import log_mel


@pytest.fixture(scope="module")
def speech():
    from dataset.speech import synthesize
    from dataset.voices import voice_by_id

    return synthesize("walk forward and wave your left hand", voice_by_id("pico-en-US"))


@pytest.fixture(scope="module")
def encoder():
    return WhisperEncoder.from_ct2()


def test_whisper_encoder_matches_ctranslate2(speech, encoder):
    ctranslate2 = pytest.importorskip("ctranslate2")
    padded = np.zeros(30 * 16000, dtype=np.float32)
    padded[: len(speech)] = speech
    mel = np.ascontiguousarray(log_mel(padded, max_seconds=30)[None, :, :3000])
    model = ctranslate2.models.Whisper(str(default_weights().parent), device="cpu", compute_type="float32")
    reference = np.array(model.encode(ctranslate2.StorageView.from_array(mel)))
    with torch.no_grad():
        ours = encoder(torch.from_numpy(mel)).numpy()
    assert ours.shape == reference.shape == (1, 1500, 384)
    assert np.abs(ours - reference).max() < 1e-3 * np.abs(reference).max()


def test_whisper_encoder_takes_unpadded_audio(speech, encoder):
    mel = torch.from_numpy(log_mel(speech))[None]
    with torch.no_grad():
        out = encoder(mel)
    assert out.shape == (1, frames_to_tokens(mel.shape[-1]), 384) and torch.isfinite(out).all()


def test_batched_encoding_equals_one_at_a_time(encoder):
    from dataset.speech import synthesize
    from dataset.voices import voice_by_id

    texts = ["walk forward", "can you wave your left hand like you are tired, please?", "bow"]
    mels = [log_mel(synthesize(t, voice_by_id("flite-slt"))) for t in texts]  # 97, 293, 50 frames: odd and even
    frames = torch.tensor([m.shape[1] for m in mels])
    batch = torch.zeros(len(mels), 80, int(frames.max()))
    for i, m in enumerate(mels):
        batch[i, :, : m.shape[1]] = torch.from_numpy(m)
    with torch.no_grad():
        together = encoder(batch, frames)
        for i, m in enumerate(mels):
            alone = encoder(torch.from_numpy(m)[None])[0]
            assert alone.shape[0] == frames_to_tokens(m.shape[1])
            torch.testing.assert_close(together[i, : alone.shape[0]], alone, atol=1e-4, rtol=1e-4)
