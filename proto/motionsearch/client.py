"""A thin typed client over the generated stub: the calls the CLI (``server/client.py``) and the Blender add-on make.

Depends only on grpcio and protobuf, so it ships inside the Blender extension unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import grpc

from motionsearch.v1 import motionsearch_pb2 as pb
from motionsearch.v1 import motionsearch_pb2_grpc as pb_grpc

CHUNK = 64 * 1024


class Client:
    """One channel to a motionsearch server; every call has a deadline and the optional bearer token."""

    def __init__(self, address: str = "127.0.0.1:50051", token: str | None = None, timeout: float = 30.0) -> None:
        self.channel = grpc.insecure_channel(address)
        self.stub = pb_grpc.MotionSearchStub(self.channel)
        self.metadata = [("authorization", f"Bearer {token}")] if token else None
        self.timeout = timeout

    def _call(self, method, request):
        return method(request, timeout=self.timeout, metadata=self.metadata)

    def search_text(self, text: str, options: pb.SearchOptions | None = None) -> pb.SearchResponse:
        return self._call(self.stub.SearchText, pb.SearchTextRequest(text=text, options=options))

    def search_audio(self, data: bytes, config: pb.AudioConfig) -> pb.SearchResponse:
        """Stream audio bytes (a WAV/FLAC file, or raw PCM as ``config`` declares) in 64 KiB chunks."""

        def messages() -> Iterator[pb.SearchSpeechRequest]:
            yield pb.SearchSpeechRequest(config=config)
            for i in range(0, len(data), CHUNK):
                yield pb.SearchSpeechRequest(chunk=data[i : i + CHUNK])

        return self._call(self.stub.SearchSpeech, messages())

    def search_speech(self, audio_file: Path, options: pb.SearchOptions | None = None) -> pb.SearchResponse:
        config = pb.AudioConfig(encoding=pb.AUDIO_ENCODING_FILE, options=options)
        return self.search_audio(Path(audio_file).read_bytes(), config)

    def search_motion(self, bvh_file: Path, options: pb.SearchOptions | None = None) -> pb.SearchResponse:
        return self.search_bvh(Path(bvh_file).read_bytes(), options)

    def search_bvh(self, bvh: bytes, options: pb.SearchOptions | None = None, rig_json: str = "") -> pb.SearchResponse:
        """Rank against an example motion given as BVH bytes; ``rig_json`` maps a rig not recognised by its names."""
        return self._call(self.stub.SearchMotion, pb.SearchMotionRequest(bvh=bvh, rig_json=rig_json, options=options))

    def search_frames(self, frames: list[bytes], fps: float = 0.0, options: pb.SearchOptions | None = None):
        """Rank against a video sent as encoded images (JPEG or PNG bytes), one per chunk, in time order."""

        def messages() -> Iterator[pb.SearchVideoRequest]:
            kind = pb.VideoConfig.KIND_IMAGE_FRAMES
            yield pb.SearchVideoRequest(config=pb.VideoConfig(kind=kind, fps=fps, options=options))
            for frame in frames:
                yield pb.SearchVideoRequest(chunk=frame)

        return self._call(self.stub.SearchVideo, messages())

    def ingest(self, files: list[Path], **metadata) -> pb.IngestResponse:
        """Upload BVH files (names without folders); ``metadata`` are IngestFile fields (content, style, ...)."""
        return self.ingest_bytes(((Path(path).name, Path(path).read_bytes()) for path in files), **metadata)

    def ingest_bytes(self, files: Iterable[tuple[str, bytes]], **metadata) -> pb.IngestResponse:
        """Upload (file name, BVH bytes) pairs, taken from ``files`` one at a time as the call sends them."""

        def messages() -> Iterator[pb.IngestRequest]:
            for name, data in files:
                yield pb.IngestRequest(file=pb.IngestFile(name=name, **metadata))
                for i in range(0, len(data), CHUNK):
                    yield pb.IngestRequest(chunk=data[i : i + CHUNK])

        return self._call(self.stub.IngestMotions, messages())

    def delete(self, ids: list[str]) -> pb.DeleteMotionsResponse:
        return self._call(self.stub.DeleteMotions, pb.DeleteMotionsRequest(ids=ids))

    def similar(self, motion_id: str, options: pb.SearchOptions | None = None) -> pb.SearchResponse:
        """Motions like one in the library: its stored BVH sent back as a motion query."""
        return self.search_bvh(self.get_motion(motion_id), options)

    def get_motion(self, motion_id: str, **options) -> bytes:
        """The whole BVH of one motion; ``options`` are GetMotionRequest fields (fps, in_place, mirror, ...)."""
        chunks = self._call(self.stub.GetMotion, pb.GetMotionRequest(id=motion_id, **options))
        return b"".join(chunk.data for chunk in chunks)

    def get_preview(self, motion_id: str, start_seconds: float = 0.0, end_seconds: float = 0.0) -> pb.Preview:
        """A small rendering of one motion, or of a time range of it (a hit's ``start_seconds``, ``end_seconds``)."""
        request = pb.GetPreviewRequest(id=motion_id, start_seconds=start_seconds, end_seconds=end_seconds)
        return self._call(self.stub.GetPreview, request)

    def list_motions(self, page_size: int = 100, page_token: str = "") -> pb.ListMotionsResponse:
        return self._call(self.stub.ListMotions, pb.ListMotionsRequest(page_size=page_size, page_token=page_token))

    def close(self) -> None:
        self.channel.close()
