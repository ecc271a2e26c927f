"""Whisper's log-mel front end in numpy: 16 kHz mono audio -> (80, frames) at 100 frames/s.

Same filters and scaling as Whisper (and faster-whisper's FeatureExtractor,
which a test checks against): a 400-point periodic Hann STFT with hop 160,
Slaney-normalised mel filters, log10 clamped to 8 below the maximum, then
(x + 4) / 4. Unlike Whisper it does not pad to 30 s: the encoder sees the
utterance's own length (up to ``MAX_SECONDS``).
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache

import numpy as np
from scipy.signal import resample_poly

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
MAX_SECONDS = 10.0


@cache
def mel_filters(n_mels: int = N_MELS, n_fft: int = N_FFT, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Slaney-style mel filterbank (n_mels, n_fft // 2 + 1), as librosa's default."""
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)

    def mel_to_hz(m):
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)

    freqs = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    ramps = freqs[:, None] - fft_freqs[None, :]
    fdiff = np.diff(freqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (freqs[2 : n_mels + 2] - freqs[:n_mels]))[:, None]
    return weights.astype(np.float32)


@cache
def _window() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def log_mel(audio: np.ndarray, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """(80, n_frames) float32 log-mel of 16 kHz mono float audio; longer audio is cut at ``max_seconds``."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio (1-D), got shape {audio.shape}")
    if audio.size < N_FFT:
        raise ValueError(f"audio of {audio.size} samples is too short (at least {N_FFT} at 16 kHz)")
    audio = audio[: int(max_seconds * SAMPLE_RATE)]
    padded = np.pad(audio, N_FFT // 2, mode="reflect")
    n_frames = 1 + (padded.size - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:n_frames]
    power = np.abs(np.fft.rfft(frames * _window(), axis=1)) ** 2
    mel = mel_filters() @ power[:-1].T.astype(np.float32)  # Whisper drops the last frame
    logs = np.log10(np.maximum(mel, 1e-10))
    logs = np.maximum(logs, logs.max() - 8.0)
    return ((logs + 4.0) / 4.0).astype(np.float32)


def to_16k(audio: np.ndarray, rate: float) -> np.ndarray:
    """Resample mono ``audio`` at ``rate`` Hz to 16 kHz (polyphase filter, scipy)."""
    if rate == SAMPLE_RATE:
        return audio.astype(np.float32)
    ratio = Fraction(SAMPLE_RATE / rate).limit_denominator(1000)
    return resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)
