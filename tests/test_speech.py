"""Speech synthesis with the real engines, the speaker split, and the offline ASR check."""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from dataset.asr import normalize_words, word_accuracy
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
from dataset.voices import CATALOGUE, load_voices, voice_by_id, voices_for
from preprocess.asr import Transcriber, search_prompt

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="speech engines absent: run .ci/system-packages (CI does)"
)
TEXT = "can you raise your right hand like you're exhausted?"


def family(voice) -> str:
    """The synthesiser behind a voice (MBROLA voices run through espeak-ng but sound nothing like it)."""
    return "mbrola" if voice.voice.startswith("mb-") else voice.engine


def one_voice_per_engine() -> list:
    seen = {}
    for v in load_voices():
        seen.setdefault(family(v), v)
    return list(seen.values())


def median_f0(audio: np.ndarray, low: float = 60.0, high: float = 400.0) -> float:
    """Median pitch in Hz of the voiced 40 ms frames (autocorrelation peak above half the energy)."""
    n, lags = 640, np.arange(int(SAMPLE_RATE / high), int(SAMPLE_RATE / low))
    rms, f0 = np.sqrt(np.mean(audio**2)), []
    for start in range(0, len(audio) - n, n // 2):
        frame = audio[start : start + n] - audio[start : start + n].mean()
        if np.sqrt(np.mean(frame**2)) < 0.5 * rms:
            continue
        ac = np.correlate(frame, frame, "full")[n - 1 :]
        lag = lags[np.argmax(ac[lags])]
        if ac[lag] > 0.5 * ac[0]:
            f0.append(SAMPLE_RATE / lag)
    assert len(f0) >= 10, "hardly any voiced frames"
    return float(np.median(f0))


@pytest.mark.parametrize("voice", load_voices(), ids=lambda v: v.id)
def test_every_enabled_voice_speaks_16k_mono(voice):
    audio = synthesize(TEXT, voice, Prosody(pitch=1.1, rate=0.9))
    assert audio.dtype == np.float32 and audio.ndim == 1
    seconds = len(audio) / SAMPLE_RATE
    assert 1.5 < seconds < 6.0, seconds  # 9 words: measured 2.2-4.1 s over every voice and prosody
    assert np.sqrt(np.mean(audio**2)) > 0.02, "too quiet: silence or a broken engine"
    assert np.abs(audio).max() <= 0.91
    loud = np.flatnonzero(np.abs(audio) > 0.02 * np.abs(audio).max())  # trimmed: at most 0.1 s of silence each end
    assert loud[0] <= 0.101 * SAMPLE_RATE and len(audio) - loud[-1] <= 0.101 * SAMPLE_RATE, (loud[0], loud[-1])


@pytest.mark.parametrize("voice", one_voice_per_engine(), ids=lambda v: v.id)
def test_pitch_moves_f0_on_every_engine(voice):
    low = median_f0(synthesize(TEXT, voice, Prosody(pitch=0.88)))
    high = median_f0(synthesize(TEXT, voice, Prosody(pitch=1.14)))
    # 1.14 / 0.88 = 1.30; espeak-ng's -p scale is not proportional to Hz (measured 1.13), the others 1.2-1.3
    assert high / low > 1.08, (low, high)


def test_missing_engine_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SpeechError, match="needs 'flite'.*system-packages"):
        synthesize(TEXT, voice_by_id("flite-slt"))


def test_unknown_engine_voices_are_clear_errors():
    slt = voice_by_id("flite-slt")
    with pytest.raises(SpeechError, match="flite has no voice 'nosuch'"):
        synthesize(TEXT, replace(slt, id="flite-nosuch", voice="nosuch"))  # flite itself falls back to kal
    rab = voice_by_id("festival-rab")
    with pytest.raises(SpeechError, match="wrote no audio.*voice_nosuch"):
        synthesize(TEXT, replace(rab, id="festival-nosuch", voice="voice_nosuch"))
    en1 = voice_by_id("mbrola-en1")
    with pytest.raises(SpeechError, match="espeak-ng failed"):
        synthesize(TEXT, replace(en1, id="mbrola-zz9", voice="mb-zz9"))


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
    everything = load_voices(include_disabled=True)
    assert not {v.speaker for v in everything if v.split == "train"} & {
        v.speaker for v in everything if v.split == "test"
    }, "a speaker is on both sides, counting disabled voices"
    assert len({v.id for v in everything}) == len(everything), "duplicate voice ids"
    assert len(train) + len(test) >= 20 and len(test) >= 4
    assert len({v.engine for v in test}) >= 3
    assert {v.engine for v in test} - {v.engine for v in train} >= {"pico", "piper"}, "whole engines held out"


def test_disabled_voices_keep_their_score():
    voices = load_voices(include_disabled=True)
    assert all(v.word_accuracy is not None for v in voices), "run: python -m dataset.voice_scores"
    assert any(not v.enabled for v in voices)
    threshold = json.loads(CATALOGUE.read_text())["min_word_accuracy"]
    assert 0.5 <= threshold < 1 and all(v.enabled == (v.word_accuracy >= threshold) for v in voices)


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
    """Whisper tiny.en on held-out voices (every test speaker, two captions each)."""
    sentences = ["a person walks forward slowly", "wave both hands like you're really happy"]
    transcriber = Transcriber()
    scores, swapped = {}, []
    for voice in voices_for("test"):
        for k, text in enumerate(sentences):
            heard = transcriber.transcribe(synthesize(text, voice))
            scores[(voice.id, text)] = (word_accuracy(text, heard), heard)
            swapped.append(word_accuracy(sentences[1 - k], heard))  # against the other caption: near 0
    mean = float(np.mean([a for a, _ in scores.values()]))
    print(f"\nASR word accuracy on clean test-voice speech: {mean:.3f} over {len(scores)} utterances")
    # measured 0.889 over these 10 utterances (0.84-0.97 per test voice when scoring them)
    assert mean >= 0.75, scores
    assert float(np.mean(swapped)) < 0.2, "the accuracy does not tell captions apart"


def test_the_search_prompt_primes_without_echoing():
    """The server's recogniser reads the motion vocabulary first: it names the labels, is never heard back and
    hears the test voices at least as well as without it."""
    prompt = search_prompt()
    assert all(w in prompt for w in ("walk turn left", "wave both hands", "bow", "not confident", "chimpira"))
    plain, primed = Transcriber(), Transcriber(prompt=prompt)
    accuracy = {"plain": [], "primed": []}
    for voice in voices_for("test"):
        for text in ("a person bows politely", "dance like nobody's watching"):
            audio = synthesize(text, voice)
            heard = primed.transcribe(audio)
            assert "styles" not in heard.lower() and "search for motions" not in heard.lower(), heard
            accuracy["primed"].append(word_accuracy(text, heard))
            accuracy["plain"].append(word_accuracy(text, plain.transcribe(audio)))
    # measured 0.825 primed against 0.775 plain over these 10 utterances
    assert np.mean(accuracy["primed"]) >= np.mean(accuracy["plain"]) - 0.05, accuracy
