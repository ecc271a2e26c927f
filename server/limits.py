"""What one request may cost, and the checks that measure it before any work is done.

Every limit the server enforces is a field of :class:`Limits` (documented in ``docs/server.md``).
The checks read sizes from headers, never from decoded data: an image's pixel count from its
header (Pillow opens lazily), an audio file's frames and rate from its header (``soundfile.info``,
then a read of at most the allowed frames), a BVH file's frame count x frame time from its
MOTION header (so a 6 KB file cannot ask for an hour of resampled frames). A check raises
:class:`Abort` with the status to answer: INVALID_ARGUMENT for a malformed or non-finite value,
RESOURCE_EXHAUSTED for one over a limit.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass

import grpc
import numpy as np
import soundfile as sf
from PIL import Image, UnidentifiedImageError

from motion.bvh import MAX_FRAME_TIME, MIN_FRAME_TIME
from preprocess.audio import MAX_SECONDS

IMAGE_FORMATS = ("JPEG", "PNG")


@dataclass
class Limits:
    """Every limit of the server, in one table (see docs/server.md)."""

    max_text_chars: int = 1000
    max_audio_seconds: float = MAX_SECONDS  # the speech encoder hears at most this much
    max_audio_channels: int = 8  # a WAV/FLAC file's header; raw PCM takes 1 or 2
    max_pcm_amplitude: float = 16.0  # float samples are full scale at 1.0; a little headroom, no 1e38
    max_upload_bytes: int = 64 * 2**20  # one BVH or video upload
    max_ingest_files: int = 1000  # files in one IngestMotions call
    max_ingest_bytes: int = 1024 * 2**20  # all files of one IngestMotions call (spooled to disk, not memory)
    max_video_frames: int = 600
    max_frame_pixels: int = 4096 * 1024  # one video frame, from its header (4.2 MP: 2560 x 1600)
    max_video_pixels: int = 600 * 1280 * 720  # all frames of one video query, from their headers
    max_motion_seconds: float = 600.0  # a BVH's frames x frame time (searched or ingested)
    max_get_fps: float = 240.0  # GetMotion's resampling rate
    max_get_frames: int = 36_000  # frames one GetMotion may write (10 min at 60 fps)
    max_top_k: int = 100
    max_page_size: int = 1000
    max_filter_values: int = 100  # content, style or tag labels in one filter
    max_label_chars: int = 200  # a content, style, tag, source, folder or licence string (filters and uploads)
    max_rig_json_chars: int = 64 * 1024
    max_delete_ids: int = 1000
    stream_idle_seconds: float = 10.0  # a client stream that sends nothing for this long is closed
    stream_total_seconds: float = 120.0  # a client stream that takes longer than this is closed
    max_client_streams: int = 8  # client-streaming calls open at once (of the worker pool's threads)
    max_stream_messages: int = 20_000  # messages in one client stream (each costs a round trip; send larger chunks)


class Abort(Exception):
    """Raised inside a handler to answer a status with a message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def invalid(message: str) -> Abort:
    return Abort(grpc.StatusCode.INVALID_ARGUMENT, message)


def too_big(message: str) -> Abort:
    return Abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message)


def finite(**values: float) -> None:
    """INVALID_ARGUMENT naming the first of ``values`` that is NaN or infinite."""
    for name, value in values.items():
        if not math.isfinite(value):
            raise invalid(f"{name} is {value}: numbers must be finite")


def check_label(name: str, value: str, limits: Limits) -> None:
    if len(value) > limits.max_label_chars:
        raise too_big(f"{name} has {len(value)} characters; the limit is {limits.max_label_chars}")


# images


def image_size(data: bytes, index: int, limits: Limits) -> tuple[int, int]:
    """(width, height) of a JPEG or PNG from its header, checked against the per-frame pixel limit."""
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            width, height = image.size
    except Image.DecompressionBombError:  # Pillow's own ceiling (MAX_IMAGE_PIXELS), far above ours
        raise too_big(f"frame {index} is over {limits.max_frame_pixels:,} pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise invalid(f"frame {index} is not a readable JPEG or PNG image") from None
    if width < 1 or height < 1:
        raise invalid(f"frame {index} is empty ({width} x {height})")
    if width * height > limits.max_frame_pixels:
        raise too_big(f"frame {index} is {width} x {height} pixels; the limit is {limits.max_frame_pixels:,} per frame")
    return width, height


def decode_image(data: bytes, index: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image whose header :func:`image_size` has passed."""
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise invalid(f"frame {index} cannot be decoded (truncated or corrupt image data)") from None


# audio


def read_audio_file(data: bytes, limits: Limits) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 samples and the rate of a WAV/FLAC file: its header is checked first
    (rate, channels, length), then at most the allowed number of frames is decoded."""
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        raise invalid("the audio is not a readable WAV or FLAC file") from None
    if not 8000 <= info.samplerate <= 48000:
        raise invalid(f"audio at {info.samplerate} Hz: 8000..48000 Hz is accepted")
    if not 1 <= info.channels <= limits.max_audio_channels:
        raise invalid(f"audio with {info.channels} channels: 1..{limits.max_audio_channels} are accepted")
    allowed = int(limits.max_audio_seconds * info.samplerate)
    if info.frames > allowed + 1:  # the header's length; a header without one is bounded by the read below
        raise too_big(f"{info.frames / info.samplerate:.1f} s of audio: the limit is {limits.max_audio_seconds:g} s")
    try:
        audio, rate = sf.read(io.BytesIO(data), frames=allowed + 2, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        raise invalid("the audio file cannot be decoded (truncated or corrupt)") from None
    if len(audio) > allowed + 1:
        raise too_big(f"the audio is longer than the {limits.max_audio_seconds:g} s a speech query may be")
    return audio, rate


def check_samples(audio: np.ndarray, limits: Limits) -> None:
    if not np.isfinite(audio).all():
        raise invalid("the audio has NaN or infinite samples")
    peak = float(np.abs(audio).max(initial=0.0))
    if peak > limits.max_pcm_amplitude:
        raise invalid(f"sample amplitude {peak:.3g}: float audio is full scale at 1.0 (at most "
                      f"{limits.max_pcm_amplitude:g} accepted)")  # fmt: skip


# BVH

_FRAMES = re.compile(rb"^\s*Frames:\s*(\S+)\s*$", re.MULTILINE)
_FRAME_TIME = re.compile(rb"^\s*Frame Time:\s*(\S+)\s*$", re.MULTILINE)


def check_bvh_cost(data: bytes, limits: Limits, name: str = "the BVH") -> None:
    """The duration a BVH declares (frames x frame time), read from its MOTION header before parsing:
    RESOURCE_EXHAUSTED over ``max_motion_seconds``. A header that is missing or not numbers is left for
    the BVH reader to reject with its own message."""
    motion = data.rfind(b"\nMOTION")
    if motion < 0:
        return
    head = data[motion : motion + 4096]
    frames, frame_time = _FRAMES.search(head), _FRAME_TIME.search(head)
    if not frames or not frame_time:
        return
    try:
        n, dt = int(frames.group(1)), float(frame_time.group(1))
    except ValueError:
        return
    if not math.isfinite(dt) or not MIN_FRAME_TIME <= dt <= MAX_FRAME_TIME or n <= 0:
        raise invalid(f"{name}: Frames {n} and Frame Time {dt:g} do not describe a motion (a frame time is "
                      f"{MIN_FRAME_TIME:g}..{MAX_FRAME_TIME:g} s)")  # fmt: skip
    seconds = n * dt
    if seconds > limits.max_motion_seconds:
        raise too_big(f"{name} declares {n} frames x {dt:g} s = {seconds:.3g} s; "
                      f"the limit is {limits.max_motion_seconds:g} s")  # fmt: skip
