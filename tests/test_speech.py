"""Speech synthesis with the real engines, the speaker split, and the offline ASR check."""

from __future__ import annotations

import random
import shutil

import numpy as np
import pytest
import soundfile as sf

from dataset.asr import Transcriber, normalize_words, word_accuracy
from dataset.speech import (
    SAMPLE_RATE,
    AudioError,
    Prosody,
    SpeechError,
    add_noise,
    read_audio,
    sample_prosody,
    synthesize,
    write_flac,
)
from dataset.voices import load_voices, voice_by_id, voices_for

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="speech engines absent: run .ci/system-packages (CI does)"
)
TEXT = "can you raise your right hand like you're exhausted?"


def one_voice_per_engine() -> list:
    seen = {}
    for v in load_voices():
        seen.setdefault(v.engine, v)
    return list(seen.values())


@pytest.mark.parametrize("voice", one_voice_per_engine(), ids=lambda v: v.id)
def test_every_engine_speaks_16k_mono(voice):
    audio = synthesize(TEXT, voice, Prosody(pitch=1.1, rate=0.9))
    assert audio.dtype == np.float32 and audio.ndim == 1
    seconds = len(audio) / SAMPLE_RATE
    assert 1.0 < seconds < 8.0, seconds
    assert np.sqrt(np.mean(audio**2)) > 0.02, "too quiet: silence or a broken engine"
    assert np.abs(audio).max() <= 0.91


def test_rate_changes_duration():
    voice = voice_by_id("espeak-en-us+m3")
    slow = synthesize(TEXT, voice, Prosody(rate=0.85))
    fast = synthesize(TEXT, voice, Prosody(rate=1.15))
    assert len(slow) > 1.15 * len(fast)


def test_empty_text_is_a_clear_error():
    with pytest.raises(SpeechError, match="empty"):
        synthesize("  ", voice_by_id("espeak-en-us+m3"))


def test_flac_round_trip_and_wrong_rate(tmp_path):
    audio = synthesize(TEXT, voice_by_id("flite-slt"))
    path = tmp_path / "u.flac"
    write_flac(path, audio)
    back = read_audio(path)
    assert back.shape == audio.shape and np.abs(back - audio).max() < 1e-4
    sf.write(tmp_path / "u22.flac", audio, 22050)
    with pytest.raises(AudioError, match="22050 Hz"):
        read_audio(tmp_path / "u22.flac")
    sf.write(tmp_path / "stereo.flac", np.stack([audio, audio], axis=1), SAMPLE_RATE)
    with pytest.raises(AudioError, match="2 channel"):
        read_audio(tmp_path / "stereo.flac")


def test_noise_is_at_the_requested_snr():
    audio = synthesize(TEXT, voice_by_id("pico-en-GB"))
    noisy = add_noise(audio, 10.0, np.random.default_rng(0))
    scale = np.dot(noisy, audio) / np.dot(audio, audio)  # undo the anti-clipping rescale
    noise = noisy / scale - audio
    snr = 10 * np.log10(np.mean(audio**2) / np.mean(noise**2))
    assert abs(snr - 10.0) < 0.5, snr


def test_speaker_split_is_disjoint_and_large_enough():
    train, test = voices_for("train"), voices_for("test")
    assert voices_for("val") == train and voices_for("unseen") == test
    assert not {v.id for v in train} & {v.id for v in test}
    assert not {v.speaker for v in train} & {v.speaker for v in test}, "a test speaker is heard in training"
    assert len(train) + len(test) >= 20 and len(test) >= 4
    assert len({v.engine for v in test}) >= 3


def test_prosody_is_random_but_seeded():
    a = [sample_prosody(random.Random(7)) for _ in range(2)]
    assert a[0] == a[1]
    assert sample_prosody(random.Random(8)) != a[0]


def test_word_accuracy_counts_edits():
    assert word_accuracy("wave your left hand", "Wave your left hand.") == 1.0
    assert word_accuracy("wave your left hand", "wave your right hand") == 0.75
    assert word_accuracy("wave your left hand", "") == 0.0
    assert normalize_words("bye-bye, 2 hands") == ["bye", "bye", "two", "hands"]


def test_asr_recovers_most_words_of_clean_test_speech():
    """Whisper tiny.en on held-out voices (all test speakers, two captions each)."""
    sentences = ["a person walks forward slowly", "wave both hands like you're really happy"]
    transcriber = Transcriber()
    scores = {}
    for voice in voices_for("test"):
        for text in sentences:
            scores[(voice.id, text)] = word_accuracy(text, transcriber.transcribe(synthesize(text, voice)))
    mean = float(np.mean(list(scores.values())))
    print(f"\nASR word accuracy on clean test-voice speech: {mean:.3f} over {len(scores)} utterances")
    assert mean >= 0.75, scores
