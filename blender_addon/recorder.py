"""Push-to-talk microphone capture with ``sounddevice``: 16 kHz mono 16-bit PCM for a speech query."""

from __future__ import annotations

RATE = 16000
MAX_SECONDS = 30


class RecorderError(RuntimeError):
    """No way to record here; the message says why and what to do instead."""


class Recorder:
    def __init__(self) -> None:
        self.stream = None
        self.chunks: list[bytes] = []

    @property
    def active(self) -> bool:
        return self.stream is not None

    def start(self) -> None:
        try:
            import sounddevice
        except (ImportError, OSError) as error:  # OSError: the PortAudio library is missing (Linux)
            raise RecorderError(f"voice input is unavailable ({error}); pick an audio file instead") from error
        try:
            sounddevice.check_input_settings(samplerate=RATE, channels=1, dtype="int16")
        except Exception as error:  # PortAudioError or ValueError: no input device
            raise RecorderError(f"no microphone found ({error}); pick an audio file instead") from error
        self.chunks = []
        limit = RATE * MAX_SECONDS * 2

        def collect(indata, frames, time, status) -> None:
            if sum(map(len, self.chunks)) < limit:
                self.chunks.append(bytes(indata))

        self.stream = sounddevice.RawInputStream(samplerate=RATE, channels=1, dtype="int16", callback=collect)
        self.stream.start()

    def stop(self) -> bytes:
        """Stop and return the recorded PCM (s16le, 16 kHz, mono)."""
        if self.stream is not None:
            self.stream.stop()
            self.stream.close()
            self.stream = None
        return b"".join(self.chunks)
