"""The gRPC servicer: every RPC of ``motionsearch.v1.MotionSearch`` over the encoders and the library.

Each method checks its input and answers a clear status: INVALID_ARGUMENT for a bad query,
id or option, NOT_FOUND for an unknown id, RESOURCE_EXHAUSTED over the limits,
UNAUTHENTICATED for a wrong token (``server.auth``). Work stops when the client cancels
or its deadline passes (``context.is_active()``), and no error stops the server.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import numpy as np
import soundfile as sf
from PIL import Image, UnidentifiedImageError

from motion.rigs import RigError, RigMap
from motion.sources import ClipMetadata, path_words
from motionsearch.v1 import motionsearch_pb2 as pb
from motionsearch.v1 import motionsearch_pb2_grpc as pb_grpc
from preprocess.audio import MAX_SECONDS, SAMPLE_RATE, to_16k
from server.fusion import DEFAULT as DEFAULT_FUSION
from server.fusion import Fusion
from server.index import Hit, SearchFilter
from server.library import ClipInfo, Library, LibraryError, UnknownMotion, check_id
from server.preview import ANIMATION_TYPE

log = logging.getLogger("motionsearch.server")
CHUNK = 64 * 1024


@dataclass
class Limits:
    max_text_chars: int = 1000
    max_audio_seconds: float = MAX_SECONDS  # the speech encoder hears at most this much
    max_upload_bytes: int = 64 * 2**20  # one BVH or video upload
    max_video_frames: int = 600
    max_top_k: int = 100
    max_page_size: int = 1000


class Abort(Exception):
    """Raised inside a handler to answer a status with a message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@contextmanager
def _status_for_errors(context):
    """Map Abort, library errors and unknown ids to status codes; anything else stays INTERNAL (and is logged)."""
    try:
        yield
    except Abort as error:
        context.abort(error.code, error.message)
    except UnknownMotion as error:
        context.abort(grpc.StatusCode.NOT_FOUND, f"no motion with id {error.args[0]!r} in the library")
    except LibraryError as error:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))


def _handler(method):
    """A unary or client-streaming method with the error mapping of ``_status_for_errors``."""

    @functools.wraps(method)
    def wrapped(self, request, context):
        with _status_for_errors(context):
            return method(self, request, context)

    return wrapped


def _streaming_handler(method):
    """The same for server-streaming methods (generators)."""

    @functools.wraps(method)
    def wrapped(self, request, context):
        with _status_for_errors(context):
            yield from method(self, request, context)

    return wrapped


def invalid(message: str) -> Abort:
    return Abort(grpc.StatusCode.INVALID_ARGUMENT, message)


def too_big(message: str) -> Abort:
    return Abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message)


def motion_message(payload: dict) -> pb.Motion:
    return pb.Motion(id=payload["id"], name=payload["name"], content=payload["content"], style=payload["style"],
                     seconds=payload["seconds"], fps=payload["fps"], frames=payload["frames"],
                     source=payload["source"], licence=payload["licence"], mirror=payload["mirror"],
                     caption=payload.get("caption", ""))  # fmt: skip


def hit_message(hit: Hit, rank: int) -> pb.SearchHit:
    """A hit with the time range of its best window (the whole clip for one that fits the model's window)."""
    p = hit.payload
    return pb.SearchHit(motion=motion_message(p), score=hit.score, rank=rank, start_seconds=p.get("start_seconds", 0.0),
                        end_seconds=p.get("end_seconds", p["seconds"]))  # fmt: skip


class MotionSearchServicer(pb_grpc.MotionSearchServicer):
    def __init__(self, library: Library, limits: Limits | None = None, fusion: Fusion = DEFAULT_FUSION) -> None:
        self.library = library
        self.limits = limits or Limits()
        self.fusion = fusion  # how text searches fuse the metadata ranking when a request does not say
        self.write_lock = threading.Lock()  # ingest and delete one at a time; searches run concurrently

    # searching

    def _options(self, options: pb.SearchOptions) -> tuple[int, SearchFilter]:
        top_k = options.top_k or 10
        if top_k > self.limits.max_top_k:
            raise invalid(f"top_k {top_k} is over {self.limits.max_top_k}")
        f = options.filter
        if f.min_seconds < 0 or f.max_seconds < 0 or (f.max_seconds and f.max_seconds < f.min_seconds):
            raise invalid(f"bad duration range [{f.min_seconds}, {f.max_seconds}] s")
        if not 0.0 <= options.fusion_weight <= 1.0:  # also rejects NaN
            raise invalid(f"fusion_weight {options.fusion_weight} is not in [0, 1]")
        if options.fusion not in pb.FusionMode.values():
            raise invalid(f"unknown fusion mode {options.fusion}")
        flt = SearchFilter(list(f.contents), list(f.styles), f.min_seconds, f.max_seconds, f.source,
                           include_mirrors=options.include_mirrors, tags=list(f.tags), folder=f.folder)  # fmt: skip
        return top_k, flt

    def _fusion(self, options: pb.SearchOptions) -> Fusion | None:
        """How a text search fuses the metadata ranking; None: the learned similarity alone (fusion off, or
        left unspecified on a library without metadata)."""
        if options.fusion == pb.FUSION_MODE_OFF or not self.library.index.meta_dim:
            return None
        if options.fusion == pb.FUSION_MODE_UNSPECIFIED and not self.library.has_metadata:
            return None
        return replace(self.fusion, weight=options.fusion_weight) if options.fusion_weight else self.fusion

    def _respond(self, start: float, hits: list[Hit], context) -> pb.SearchResponse:
        if not context.is_active():
            raise Abort(grpc.StatusCode.CANCELLED, "the call was cancelled")
        return pb.SearchResponse(
            hits=[hit_message(h, n) for n, h in enumerate(hits, 1)],
            library_size=len(self.library),
            server_ms=(time.perf_counter() - start) * 1000,
        )

    def _search(self, start: float, query: tuple[np.ndarray, np.ndarray], options: pb.SearchOptions, context,
                meta: np.ndarray | None = None, fusion: Fusion | None = None):  # fmt: skip
        top_k, flt = self._options(options)
        if not context.is_active():
            raise Abort(grpc.StatusCode.CANCELLED, "the call was cancelled")
        hits = self.library.index.search(*query, top_k=top_k, filter=flt, meta=meta, fusion=fusion)
        return self._respond(start, hits, context)

    @_handler
    def SearchText(self, request, context):
        start = time.perf_counter()
        text = request.text.strip()
        if not text:
            raise invalid("the text query is empty")
        if len(text) > self.limits.max_text_chars:
            raise too_big(f"the text query has {len(text)} characters; the limit is {self.limits.max_text_chars}")
        self._options(request.options)
        fusion = self._fusion(request.options)
        query, meta = self.library.encoders.encode_query(text, sentence=fusion is not None)
        return self._search(start, query, request.options, context, meta, fusion)

    @_handler
    def SearchSpeech(self, request_iterator, context):
        start = time.perf_counter()
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "config":
            raise invalid("the first message of SearchSpeech must carry the audio config")
        config = first.config
        self._options(config.options)
        limit = self._audio_byte_limit(config)
        data = bytearray()
        for message in request_iterator:
            if message.WhichOneof("part") != "chunk":
                raise invalid("after the config, SearchSpeech takes audio chunks only")
            data += message.chunk
            if len(data) > limit:
                raise too_big(f"audio longer than the {self.limits.max_audio_seconds:g} s a speech query may be")
            if not context.is_active():
                raise Abort(grpc.StatusCode.CANCELLED, "the call was cancelled")
        audio = self._decode_audio(config, bytes(data))
        return self._search(start, self.library.encoders.encode_speech(audio), config.options, context)

    def _audio_byte_limit(self, config: pb.AudioConfig) -> int:
        seconds = self.limits.max_audio_seconds
        if config.encoding == pb.AUDIO_ENCODING_FILE:
            return int(seconds * 48000 * 2 * 4) + 1024  # up to 48 kHz stereo float WAV
        if config.encoding not in (pb.AUDIO_ENCODING_PCM_S16LE, pb.AUDIO_ENCODING_PCM_F32LE):
            raise invalid("audio encoding is unspecified: use FILE (WAV/FLAC), PCM_S16LE or PCM_F32LE")
        if not 8000 <= config.sample_rate_hz <= 48000:
            raise invalid(f"sample_rate_hz {config.sample_rate_hz}: raw PCM needs a declared rate of 8000..48000")
        if config.channels not in (1, 2):
            raise invalid(f"channels {config.channels}: raw PCM needs 1 or 2")
        width = 2 if config.encoding == pb.AUDIO_ENCODING_PCM_S16LE else 4
        return int(seconds * config.sample_rate_hz) * config.channels * width

    def _decode_audio(self, config: pb.AudioConfig, data: bytes) -> np.ndarray:
        if not data:
            raise invalid("no audio was sent")
        if config.encoding == pb.AUDIO_ENCODING_FILE:
            try:
                audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError, TypeError) as error:
                raise invalid(f"the audio file cannot be read as WAV or FLAC: {error}") from None
            if not 8000 <= rate <= 48000:
                raise invalid(f"audio at {rate} Hz: 8000..48000 Hz is accepted")
        else:
            dtype, scale = ("<i2", 1 / 32768) if config.encoding == pb.AUDIO_ENCODING_PCM_S16LE else ("<f4", 1.0)
            width = np.dtype(dtype).itemsize * config.channels
            if len(data) % width:
                raise invalid(f"{len(data)} bytes is not a whole number of {config.channels}-channel samples")
            audio = np.frombuffer(data, dtype=dtype).astype(np.float32).reshape(-1, config.channels) * scale
            rate = config.sample_rate_hz
        if len(audio) / rate > self.limits.max_audio_seconds + 1e-6:
            raise too_big(f"{len(audio) / rate:.1f} s of audio: the limit is {self.limits.max_audio_seconds:g} s")
        if len(audio) / rate < 0.1:
            raise invalid(f"{len(audio) / rate * 1000:.0f} ms of audio is too short for a query")
        if not np.isfinite(audio).all():
            raise invalid("the audio has NaN or infinite samples")
        return to_16k(audio.mean(1), rate) if rate != SAMPLE_RATE or audio.shape[1] > 1 else audio[:, 0]

    @_handler
    def SearchVideo(self, request_iterator, context):
        start = time.perf_counter()
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "config":
            raise invalid("the first message of SearchVideo must carry the video config")
        config = first.config
        if config.kind != pb.VideoConfig.KIND_IMAGE_FRAMES:
            raise invalid("video kind is unspecified: send KIND_IMAGE_FRAMES (one JPEG or PNG per chunk)")
        self._options(config.options)
        frames, total = [], 0
        for message in request_iterator:
            if message.WhichOneof("part") != "chunk":
                raise invalid("after the config, SearchVideo takes image chunks only")
            total += len(message.chunk)
            if total > self.limits.max_upload_bytes or len(frames) >= self.limits.max_video_frames:
                raise too_big(f"the video is over {self.limits.max_video_frames} frames or "
                              f"{self.limits.max_upload_bytes // 2**20} MiB")  # fmt: skip
            try:
                image = Image.open(io.BytesIO(message.chunk)).convert("RGB")
            except (UnidentifiedImageError, OSError) as error:
                raise invalid(f"frame {len(frames)} is not a readable image: {error}") from None
            frames.append(np.asarray(image))
            if not context.is_active():
                raise Abort(grpc.StatusCode.CANCELLED, "the call was cancelled")
        if not frames:
            raise invalid("no video frames were sent")
        if len({f.shape for f in frames}) > 1:
            raise invalid("the frames have different sizes")
        return self._search(start, self.library.encoders.encode_video(np.stack(frames)), config.options, context)

    @_handler
    def SearchMotion(self, request, context):
        start = time.perf_counter()
        self._options(request.options)
        if not request.bvh:
            raise invalid("no BVH was sent")
        rig = self._rig(request.rig_json)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "query.bvh"
            path.write_bytes(request.bvh)
            _, (query, _) = self.library.embed(path, rig)
        return self._search(start, query, request.options, context)

    @staticmethod
    def _rig(rig_json: str) -> RigMap | None:
        if not rig_json:
            return None
        try:
            return RigMap.from_dict(json.loads(rig_json), "upload")
        except (RigError, ValueError) as error:
            raise invalid(f"rig_json: {error}") from None

    # reading

    @_streaming_handler
    def GetMotion(self, request, context):
        data = self.library.bvh(request.id, request.fps, request.start_seconds, request.end_seconds,
                                request.in_place, request.mirror)  # fmt: skip
        for offset in range(0, len(data), CHUNK):
            if not context.is_active():
                return
            yield pb.BvhChunk(data=data[offset : offset + CHUNK], total_bytes=len(data) if offset == 0 else 0)

    @_handler
    def GetPreview(self, request, context):
        preview = self.library.preview(request.id, request.start_seconds, request.end_seconds)
        return pb.Preview(animation=preview.animation, animation_type=ANIMATION_TYPE, strip=preview.strip,
                          frames=preview.frames, start_seconds=preview.start, end_seconds=preview.end)  # fmt: skip

    @_handler
    def ListMotions(self, request, context):
        size = request.page_size or 100
        if size > self.limits.max_page_size:
            raise invalid(f"page_size {size} is over {self.limits.max_page_size}")
        try:
            offset = int(request.page_token or 0)
        except ValueError:
            raise invalid(f"page_token {request.page_token[:40]!r} is not one this server gave") from None
        if offset < 0:
            raise invalid("page_token is negative")
        options = pb.SearchOptions(filter=request.filter, include_mirrors=True)
        _, flt = self._options(options)
        records, total = self.library.index.list(offset, size, flt)
        following = str(offset + size) if offset + size < total else ""
        return pb.ListMotionsResponse(motions=[motion_message(r.payload) for r in records],
                                      next_page_token=following, total=total)  # fmt: skip

    # writing

    @_handler
    def IngestMotions(self, request_iterator, context):
        report = pb.IngestResponse()
        with tempfile.TemporaryDirectory() as tmp, self.write_lock:
            current: pb.IngestFile | None = None
            data = bytearray()
            files: list[tuple[pb.IngestFile, bytes]] = []
            for message in request_iterator:
                if message.WhichOneof("part") == "file":
                    if current is not None:
                        files.append((current, bytes(data)))
                    current, data = message.file, bytearray()
                    check_id(Path(current.name).stem)
                    if Path(current.name).name != current.name or not current.name.lower().endswith(".bvh"):
                        raise invalid(f"file name {current.name[:80]!r}: a plain name ending in .bvh, no folders")
                elif current is None:
                    raise invalid("IngestMotions: a file message must come before its chunks")
                else:
                    data += message.chunk
                    if len(data) > self.limits.max_upload_bytes:
                        raise too_big(f"{current.name} is over {self.limits.max_upload_bytes // 2**20} MiB")
                if not context.is_active():
                    raise Abort(grpc.StatusCode.CANCELLED, "the call was cancelled")
            if current is not None:
                files.append((current, bytes(data)))
            clips = []
            for meta, content in files:
                path = Path(tmp) / meta.name
                path.write_bytes(content)
                try:
                    rig = self._rig(meta.rig_json)
                except Abort as error:
                    report.failed[meta.name] = error.message
                    continue
                metadata = ClipMetadata(path_words(Path(meta.name)), content=meta.content, style=meta.style,
                                        licence=meta.licence, source=meta.source or "upload")  # fmt: skip
                clips.append(ClipInfo(path, Path(meta.name).stem, metadata, rig=rig, keep=True))
            result = self.library.ingest(clips, progress=False)
        report.added.extend(motion_message(p) for p in result.added)
        report.unchanged.extend(result.unchanged)
        report.failed.update(result.failed)
        log.info("ingest: %d added, %d unchanged, %d failed", len(result.added), len(result.unchanged),
                 len(report.failed))  # fmt: skip
        return report

    @_handler
    def DeleteMotions(self, request, context):
        if not request.ids:
            raise invalid("no ids to delete")
        with self.write_lock:
            deleted, missing = self.library.delete(list(request.ids))
        return pb.DeleteMotionsResponse(deleted=deleted, not_found=missing)
