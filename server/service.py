"""The gRPC servicer: every RPC of ``motionsearch.v1.MotionSearch`` over the encoders and the library.

Each method checks its input before any work (costs from headers: ``server.limits``) and answers a
clear status: INVALID_ARGUMENT for a bad query, id, option or a non-finite number, NOT_FOUND for an
unknown id, RESOURCE_EXHAUSTED over the limits, ALREADY_EXISTS for an upload that would take over an
id, DEADLINE_EXCEEDED for a client stream left idle (``server.streams``), UNAUTHENTICATED for a wrong
token (``server.auth``), INTERNAL for anything unexpected (logged once). Messages never carry the
server's paths or object reprs. Work stops when the client cancels or its deadline passes
(``context.is_active()``), and no error stops the server.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import grpc
import numpy as np

from motion.resample import TARGET_FPS
from motion.rigs import RigError, RigMap
from motion.sources import ClipMetadata, path_words
from motionsearch.v1 import motionsearch_pb2 as pb
from motionsearch.v1 import motionsearch_pb2_grpc as pb_grpc
from pose.blazepose import PoseEstimator
from pose.video import DEFAULT_FPS, video_motion
from preprocess.asr import Transcriber
from preprocess.audio import SAMPLE_RATE, to_16k
from preprocess.frames import sample_indices
from server.fusion import DEFAULT as DEFAULT_FUSION
from server.fusion import SPEECH, WORDLESS, Fusion
from server.index import Hit, SearchFilter
from server.library import ClipInfo, Library, LibraryError, UnknownMotion, check_id
from server.limits import (
    Abort,
    Limits,
    check_bvh_cost,
    check_label,
    check_samples,
    decode_image,
    finite,
    image_size,
    invalid,
    read_audio_file,
    too_big,
)
from server.preview import ANIMATION_TYPE
from server.streams import StreamGate, guarded

log = logging.getLogger("motionsearch.server")
CHUNK = 64 * 1024
VIDEO_ENCODERS = ("pose", "frames")  # SearchVideo: body pose -> motion encoder, or the frame encoder


_REPR = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>")
_PATH = re.compile(r"(?<![\w.])(?:/[^\s/:'\"()]+)+/([^\s/:'\"()]*)")


def public(message: str) -> str:
    """A status message without the server's paths (kept: the file name) or object reprs, at most 500 characters."""
    return _PATH.sub(lambda m: m.group(1) or "<path>", _REPR.sub("<object>", message))[:500]


def describe(error: BaseException) -> str:
    """One log line for an unexpected error: its type, message and where it was raised (no traceback flood)."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}: {' '.join(str(error).split())[:300]}{where}"


@contextmanager
def _status_for_errors(context, method: str):
    """Map Abort, library errors and unknown ids to status codes; anything else, BaseException included (pyo3's
    PanicException from the index is one), to INTERNAL with its cause logged once."""
    try:
        yield
    except Abort as error:
        context.abort(error.code, public(error.message))
    except UnknownMotion as error:
        context.abort(grpc.StatusCode.NOT_FOUND, f"no motion with id {str(error.args[0])[:130]!r} in the library")
    except LibraryError as error:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, public(str(error)))
    except GeneratorExit:  # a server-streaming call closed by grpc (the client went away)
        raise
    except BaseException as error:  # noqa: BLE001 -- no call may hang or kill its thread
        log.error("%s failed: %s", method, describe(error))
        context.abort(grpc.StatusCode.INTERNAL, "internal error: the server logged the cause")


def _handler(method):
    """A unary or client-streaming method with the error mapping of ``_status_for_errors``."""

    @functools.wraps(method)
    def wrapped(self, request, context):
        with _status_for_errors(context, method.__name__):
            return method(self, request, context)

    return wrapped


def _streaming_handler(method):
    """The same for server-streaming methods (generators)."""

    @functools.wraps(method)
    def wrapped(self, request, context):
        with _status_for_errors(context, method.__name__):
            yield from method(self, request, context)

    return wrapped


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
    def __init__(self, library: Library, limits: Limits | None = None, fusion: Fusion | None = None,
                 asr: Transcriber | None = None, video_encoder: str = "pose") -> None:  # fmt: skip
        if video_encoder not in VIDEO_ENCODERS:
            raise ValueError(f"video encoder {video_encoder!r}: use one of {', '.join(VIDEO_ENCODERS)}")
        self.library = library
        self.limits = limits or Limits()
        self.fusion = fusion  # how text searches fuse the metadata ranking when a request does not say (None: by
        # the library, server.fusion.WORDLESS for a library of clips without words of their own, else DEFAULT)
        self.asr = asr  # speech recognition for spoken queries (None: end-to-end speech only)
        self.pose = PoseEstimator(providers=library.encoders.providers) if video_encoder == "pose" else None
        self.write_lock = threading.Lock()  # ingest and delete one at a time; searches run concurrently
        self.streams = StreamGate(self.limits.max_client_streams)

    # searching

    def _options(self, options: pb.SearchOptions) -> tuple[int, SearchFilter]:
        top_k = options.top_k or 10
        if top_k > self.limits.max_top_k:
            raise invalid(f"top_k {top_k} is over {self.limits.max_top_k}")
        f = options.filter
        finite(min_seconds=f.min_seconds, max_seconds=f.max_seconds)
        if f.min_seconds < 0 or f.max_seconds < 0 or (f.max_seconds and f.max_seconds < f.min_seconds):
            raise invalid(f"bad duration range [{f.min_seconds}, {f.max_seconds}] s")
        if not 0.0 <= options.fusion_weight <= 1.0:  # also rejects NaN
            raise invalid(f"fusion_weight {options.fusion_weight} is not in [0, 1]")
        if options.fusion not in pb.FusionMode.values():
            raise invalid(f"unknown fusion mode {options.fusion}")
        if max(len(f.contents), len(f.styles), len(f.tags)) > self.limits.max_filter_values:
            raise too_big(f"a filter takes at most {self.limits.max_filter_values} contents, styles and tags")
        for label in (*f.contents, *f.styles, *f.tags, f.source, f.folder):
            check_label("a filter label", label, self.limits)
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
        fusion = self.fusion or (WORDLESS if self.library.wordless else DEFAULT_FUSION)
        return replace(fusion, weight=options.fusion_weight) if options.fusion_weight else fusion

    @staticmethod
    def _check_active(context) -> None:
        """CANCELLED once the client has gone: no more work for it."""
        if not context.is_active():
            raise Abort(grpc.StatusCode.CANCELLED, "the call was cancelled")

    def _respond(self, start: float, hits: list[Hit], context) -> pb.SearchResponse:
        self._check_active(context)
        return pb.SearchResponse(
            hits=[hit_message(h, n) for n, h in enumerate(hits, 1)],
            library_size=len(self.library),
            server_ms=(time.perf_counter() - start) * 1000,
        )

    @staticmethod
    def _encode(encode, *args):
        """One query through an encoder: its ValueError (bad input) is INVALID_ARGUMENT, and so is a query whose
        embedding is not finite (it would rank nothing). Returns what ``encode`` returns: (tokens, weights), or
        for a text query ((tokens, weights), sentence embedding)."""
        try:
            result = encode(*args)
        except ValueError as error:
            raise invalid(str(error)) from None
        tokens, weights = result[0] if isinstance(result[0], tuple) else result
        if not (np.isfinite(tokens).all() and np.isfinite(weights).all()):
            raise invalid("the query cannot be embedded (its embedding is not finite)")
        return result

    def _search(self, start: float, query: tuple[np.ndarray, np.ndarray], options: pb.SearchOptions, context,
                meta: np.ndarray | None = None, fusion: Fusion | None = None):  # fmt: skip
        top_k, flt = self._options(options)
        self._check_active(context)
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
        query, meta, fusion = self._typed(text, request.options)
        return self._search(start, query, request.options, context, meta, fusion)

    def _typed(self, text: str, options: pb.SearchOptions):
        """A text as SearchText ranks it: its (tokens, weights), its sentence embedding and the fusion (or None)."""
        fusion = self._fusion(options)
        query, meta = self._encode(lambda t: self.library.encoders.encode_query(t, sentence=fusion is not None), text)
        return query, meta, fusion

    @staticmethod
    def _config(messages, kind: str):
        first = next(messages, None)
        if first is None or first.WhichOneof("part") != "config":
            raise invalid(f"the first message of Search{kind} must carry the {kind.lower()} config")
        return first.config

    @_handler
    def SearchSpeech(self, request_iterator, context):
        start = time.perf_counter()
        with self.streams.enter():
            messages = guarded(request_iterator, context, self.limits)
            config = self._config(messages, "Speech")
            self._options(config.options)
            limit = self._audio_byte_limit(config)
            data = bytearray()
            for message in messages:
                if message.WhichOneof("part") != "chunk":
                    raise invalid("after the config, SearchSpeech takes audio chunks only")
                data += message.chunk
                if len(data) > limit:
                    raise too_big(f"audio longer than the {self.limits.max_audio_seconds:g} s a speech query may be")
        audio = self._decode_audio(config, bytes(data))
        query = self._encode(self.library.encoders.encode_speech, audio)
        top_k, flt = self._options(config.options)
        self._check_active(context)
        index = self.library.index
        ranking = index.ranking(*query, top_k=top_k, filter=flt)
        transcript = self.asr.transcribe(audio) if self.asr else ""
        if transcript:  # the transcript searched as typed, fused with the end-to-end ranking
            text, meta, fusion = self._typed(transcript, config.options)
            ranking = ranking.fused(index.ranking(*text, top_k=top_k, filter=flt, meta=meta, fusion=fusion), SPEECH)
        response = self._respond(start, index.hits(ranking, top_k), context)
        response.transcript = transcript
        return response

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
            audio, rate = read_audio_file(data, self.limits)
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
        check_samples(audio, self.limits)
        return to_16k(audio.mean(1), rate) if rate != SAMPLE_RATE or audio.shape[1] > 1 else audio[:, 0]

    @_handler
    def SearchVideo(self, request_iterator, context):
        start = time.perf_counter()
        limits = self.limits
        with self.streams.enter():
            messages = guarded(request_iterator, context, limits)
            config = self._config(messages, "Video")
            if config.kind != pb.VideoConfig.KIND_IMAGE_FRAMES:
                raise invalid("video kind is unspecified: send KIND_IMAGE_FRAMES (one JPEG or PNG per chunk)")
            finite(fps=config.fps)
            if config.fps < 0:
                raise invalid(f"fps {config.fps} is negative")
            self._options(config.options)
            encoded: list[bytes] = []
            size, total, pixels = None, 0, 0
            for message in messages:  # headers only: sizes are known before anything is decoded
                if message.WhichOneof("part") != "chunk":
                    raise invalid("after the config, SearchVideo takes image chunks only")
                total += len(message.chunk)
                if total > limits.max_upload_bytes or len(encoded) >= limits.max_video_frames:
                    raise too_big(f"the video is over {limits.max_video_frames} frames or "
                                  f"{limits.max_upload_bytes // 2**20} MiB")  # fmt: skip
                width, height = image_size(message.chunk, len(encoded), limits)
                if size and (width, height) != size:
                    raise invalid(f"frame {len(encoded)} is {width} x {height}, the first {size[0]} x {size[1]}")
                size, pixels = (width, height), pixels + width * height
                if pixels > limits.max_video_pixels:
                    raise too_big(f"the video is over {limits.max_video_pixels:,} pixels in all")
                encoded.append(message.chunk)
        if not encoded:
            raise invalid("no video frames were sent")
        if self.pose is not None:
            return self._search(start, self._encode(self._pose_query, encoded, config.fps), config.options, context)
        # only the frames the encoder samples are decoded (the same frames, so the same result as decoding all)
        picks = sample_indices(len(encoded), self.library.encoders.bundle.preprocessing.video.frames)
        decoded = {i: decode_image(encoded[i], i) for i in sorted(set(picks.tolist()))}
        frames = np.stack([decoded[i] for i in picks.tolist()])
        return self._search(start, self._encode(self.library.encoders.encode_video, frames), config.options, context)

    def _pose_query(self, encoded: list[bytes], fps: float):
        """Tokens of a video through body pose: the frames ``pose.video`` samples (only those are decoded) ->
        BlazePose -> canonical motion -> the pose encoder (the motion encoder where the bundle has none). No person
        in any frame: ValueError."""
        encoders = self.library.encoders
        max_seconds = encoders.bundle.preprocessing.motion.max_frames / TARGET_FPS
        video = video_motion(self.pose, lambda i: decode_image(encoded[i], i), len(encoded), fps or DEFAULT_FPS,
                             max_seconds)  # fmt: skip
        return encoders.encode_pose_motion(video.features)

    @_handler
    def SearchMotion(self, request, context):
        start = time.perf_counter()
        self._options(request.options)
        if not request.bvh:
            raise invalid("no BVH was sent")
        check_bvh_cost(request.bvh, self.limits)
        rig = self._rig(request.rig_json)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "query.bvh"
            path.write_bytes(request.bvh)
            _, (query, _) = self.library.embed(path, rig)
        return self._search(start, self._encode(lambda q: q, query), request.options, context)

    def _rig(self, rig_json: str) -> RigMap | None:
        if not rig_json:
            return None
        if len(rig_json) > self.limits.max_rig_json_chars:
            raise too_big(f"rig_json has {len(rig_json)} characters; the limit is {self.limits.max_rig_json_chars}")
        try:
            return RigMap.from_dict(json.loads(rig_json), "upload")
        except (RigError, ValueError, RecursionError) as error:
            raise invalid(f"rig_json: {str(error)[:200]}") from None

    # reading

    @_streaming_handler
    def GetMotion(self, request, context):
        finite(fps=request.fps, start_seconds=request.start_seconds, end_seconds=request.end_seconds)
        if request.fps > self.limits.max_get_fps:
            raise invalid(f"fps {request.fps:g} is over {self.limits.max_get_fps:g}")
        payload = self.library.record(request.id).payload
        span = (request.end_seconds or payload["seconds"]) - request.start_seconds
        frames = span * (request.fps or payload["fps"])
        if frames > self.limits.max_get_frames:
            raise too_big(f"the motion would have {frames:.0f} frames; the limit is {self.limits.max_get_frames}")
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
        token = request.page_token
        if token and not (token.isdigit() and len(token) <= 15):
            raise invalid(f"page_token {token[:40]!r} is not one this server gave")
        offset = int(token or 0)
        options = pb.SearchOptions(filter=request.filter, include_mirrors=True)
        _, flt = self._options(options)
        records, total = self.library.index.list(offset, size, flt)
        following = str(offset + size) if offset + size < total else ""
        return pb.ListMotionsResponse(motions=[motion_message(r.payload) for r in records],
                                      next_page_token=following, total=total)  # fmt: skip

    # writing

    def _check_upload(self, meta: pb.IngestFile) -> None:
        check_id(Path(meta.name).stem)
        if Path(meta.name).name != meta.name or not meta.name.lower().endswith(".bvh"):
            raise invalid(f"file name {meta.name[:80]!r}: a plain name ending in .bvh, no folders")
        for field in ("content", "style", "source", "licence"):
            check_label(f"{meta.name}: {field}", getattr(meta, field), self.limits)
        if len(meta.rig_json) > self.limits.max_rig_json_chars:
            raise too_big(f"{meta.name}: rig_json is over {self.limits.max_rig_json_chars} characters")

    def _receive_uploads(self, messages, folder: Path) -> list[tuple[pb.IngestFile, Path]]:
        """Every uploaded file, written to ``folder`` as it arrives (memory holds one chunk, not the stream)."""
        limits = self.limits
        uploads: list[tuple[pb.IngestFile, Path]] = []
        out, size, total = None, 0, 0
        try:
            for message in messages:
                if message.WhichOneof("part") == "file":
                    meta = message.file
                    self._check_upload(meta)
                    if any(meta.name == sent.name for sent, _ in uploads):
                        raise invalid(f"{meta.name} is sent twice in one call")
                    if len(uploads) >= limits.max_ingest_files:
                        raise too_big(f"one IngestMotions call takes at most {limits.max_ingest_files} files")
                    if out is not None:
                        out.close()
                    path = folder / meta.name
                    out, size = path.open("wb"), 0
                    uploads.append((meta, path))
                elif out is None:
                    raise invalid("IngestMotions: a file message must come before its chunks")
                else:
                    size, total = size + len(message.chunk), total + len(message.chunk)
                    if size > limits.max_upload_bytes:
                        raise too_big(f"{uploads[-1][0].name} is over {limits.max_upload_bytes // 2**20} MiB")
                    if total > limits.max_ingest_bytes:
                        raise too_big(f"one IngestMotions call takes at most {limits.max_ingest_bytes // 2**20} MiB")
                    out.write(message.chunk)
        finally:
            if out is not None:
                out.close()
        return uploads

    @_handler
    def IngestMotions(self, request_iterator, context):
        report = pb.IngestResponse()
        with tempfile.TemporaryDirectory() as tmp:
            with self.streams.enter():
                uploads = self._receive_uploads(guarded(request_iterator, context, self.limits), Path(tmp))
            clips = []
            for meta, path in uploads:
                try:
                    check_bvh_cost(path.read_bytes(), self.limits, meta.name)
                    rig = self._rig(meta.rig_json)
                except Abort as error:
                    report.failed[meta.name] = public(error.message)
                    continue
                metadata = ClipMetadata(path_words(Path(meta.name)), content=meta.content, style=meta.style,
                                        licence=meta.licence, source=meta.source or "upload")  # fmt: skip
                clips.append(ClipInfo(path, Path(meta.name).stem, metadata, rig=rig, keep=True, replace=meta.replace))
            taken = [(clip.path.name, why) for clip in clips if (why := self.library.conflict(clip))]
            if taken:  # nothing is committed: a call either takes no existing id or says replace
                raise Abort(grpc.StatusCode.ALREADY_EXISTS, "; ".join(f"{name}: {why}" for name, why in taken[:5]))
            added = 0
            for clip in clips:  # the write lock is held per committed clip, never while a client sends
                self._check_active(context)
                with self.write_lock:
                    result = self.library.ingest([clip], progress=False)
                report.added.extend(motion_message(p) for p in result.added)
                report.unchanged.extend(result.unchanged)
                report.failed.update({name: public(why) for name, why in result.failed.items()})
                added += len(result.added)
        log.info("ingest: %d added, %d unchanged, %d failed", added, len(report.unchanged), len(report.failed))
        return report

    @_handler
    def DeleteMotions(self, request, context):
        ids = list(request.ids)
        if not ids:
            raise invalid("no ids to delete")
        if len(ids) > self.limits.max_delete_ids:
            raise too_big(f"one call deletes at most {self.limits.max_delete_ids} ids")
        for motion_id in ids:  # every id is checked before any is deleted
            check_id(motion_id)
        with self.write_lock:
            deleted, missing = self.library.delete(ids)
        return pb.DeleteMotionsResponse(deleted=deleted, not_found=missing)
