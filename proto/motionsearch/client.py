"""A thin typed client over the generated stub: the calls the CLI (``server/client.py``) and the Blender add-on make.

Depends only on grpcio and protobuf, so it ships inside the Blender extension unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
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
        request = pb.SearchMotionRequest(bvh=Path(bvh_file).read_bytes(), options=options)
        return self._call(self.stub.SearchMotion, request)

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
