from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FusionMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FUSION_MODE_UNSPECIFIED: _ClassVar[FusionMode]
    FUSION_MODE_ON: _ClassVar[FusionMode]
    FUSION_MODE_OFF: _ClassVar[FusionMode]

class AudioEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIO_ENCODING_UNSPECIFIED: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_FILE: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_PCM_S16LE: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_PCM_F32LE: _ClassVar[AudioEncoding]
FUSION_MODE_UNSPECIFIED: FusionMode
FUSION_MODE_ON: FusionMode
FUSION_MODE_OFF: FusionMode
AUDIO_ENCODING_UNSPECIFIED: AudioEncoding
AUDIO_ENCODING_FILE: AudioEncoding
AUDIO_ENCODING_PCM_S16LE: AudioEncoding
AUDIO_ENCODING_PCM_F32LE: AudioEncoding

class SearchOptions(_message.Message):
    __slots__ = ("top_k", "filter", "include_mirrors", "fusion", "fusion_weight")
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_MIRRORS_FIELD_NUMBER: _ClassVar[int]
    FUSION_FIELD_NUMBER: _ClassVar[int]
    FUSION_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    top_k: int
    filter: Filter
    include_mirrors: bool
    fusion: FusionMode
    fusion_weight: float
    def __init__(self, top_k: _Optional[int] = ..., filter: _Optional[_Union[Filter, _Mapping]] = ..., include_mirrors: _Optional[bool] = ..., fusion: _Optional[_Union[FusionMode, str]] = ..., fusion_weight: _Optional[float] = ...) -> None: ...

class Filter(_message.Message):
    __slots__ = ("contents", "styles", "min_seconds", "max_seconds", "source", "tags", "folder")
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    STYLES_FIELD_NUMBER: _ClassVar[int]
    MIN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    FOLDER_FIELD_NUMBER: _ClassVar[int]
    contents: _containers.RepeatedScalarFieldContainer[str]
    styles: _containers.RepeatedScalarFieldContainer[str]
    min_seconds: float
    max_seconds: float
    source: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    folder: str
    def __init__(self, contents: _Optional[_Iterable[str]] = ..., styles: _Optional[_Iterable[str]] = ..., min_seconds: _Optional[float] = ..., max_seconds: _Optional[float] = ..., source: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., folder: _Optional[str] = ...) -> None: ...

class SearchTextRequest(_message.Message):
    __slots__ = ("text", "options")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    text: str
    options: SearchOptions
    def __init__(self, text: _Optional[str] = ..., options: _Optional[_Union[SearchOptions, _Mapping]] = ...) -> None: ...

class AudioConfig(_message.Message):
    __slots__ = ("encoding", "sample_rate_hz", "channels", "options")
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    encoding: AudioEncoding
    sample_rate_hz: int
    channels: int
    options: SearchOptions
    def __init__(self, encoding: _Optional[_Union[AudioEncoding, str]] = ..., sample_rate_hz: _Optional[int] = ..., channels: _Optional[int] = ..., options: _Optional[_Union[SearchOptions, _Mapping]] = ...) -> None: ...

class SearchSpeechRequest(_message.Message):
    __slots__ = ("config", "chunk")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    config: AudioConfig
    chunk: bytes
    def __init__(self, config: _Optional[_Union[AudioConfig, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class VideoConfig(_message.Message):
    __slots__ = ("kind", "fps", "options")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[VideoConfig.Kind]
        KIND_IMAGE_FRAMES: _ClassVar[VideoConfig.Kind]
    KIND_UNSPECIFIED: VideoConfig.Kind
    KIND_IMAGE_FRAMES: VideoConfig.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    kind: VideoConfig.Kind
    fps: float
    options: SearchOptions
    def __init__(self, kind: _Optional[_Union[VideoConfig.Kind, str]] = ..., fps: _Optional[float] = ..., options: _Optional[_Union[SearchOptions, _Mapping]] = ...) -> None: ...

class SearchVideoRequest(_message.Message):
    __slots__ = ("config", "chunk")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    config: VideoConfig
    chunk: bytes
    def __init__(self, config: _Optional[_Union[VideoConfig, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class SearchMotionRequest(_message.Message):
    __slots__ = ("bvh", "rig_json", "options")
    BVH_FIELD_NUMBER: _ClassVar[int]
    RIG_JSON_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    bvh: bytes
    rig_json: str
    options: SearchOptions
    def __init__(self, bvh: _Optional[bytes] = ..., rig_json: _Optional[str] = ..., options: _Optional[_Union[SearchOptions, _Mapping]] = ...) -> None: ...

class Motion(_message.Message):
    __slots__ = ("id", "name", "content", "style", "seconds", "fps", "frames", "source", "licence", "mirror", "caption")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    MIRROR_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    content: str
    style: str
    seconds: float
    fps: float
    frames: int
    source: str
    licence: str
    mirror: bool
    caption: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., content: _Optional[str] = ..., style: _Optional[str] = ..., seconds: _Optional[float] = ..., fps: _Optional[float] = ..., frames: _Optional[int] = ..., source: _Optional[str] = ..., licence: _Optional[str] = ..., mirror: _Optional[bool] = ..., caption: _Optional[str] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("motion", "score", "rank", "start_seconds", "end_seconds")
    MOTION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    motion: Motion
    score: float
    rank: int
    start_seconds: float
    end_seconds: float
    def __init__(self, motion: _Optional[_Union[Motion, _Mapping]] = ..., score: _Optional[float] = ..., rank: _Optional[int] = ..., start_seconds: _Optional[float] = ..., end_seconds: _Optional[float] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "library_size", "server_ms", "transcript")
    HITS_FIELD_NUMBER: _ClassVar[int]
    LIBRARY_SIZE_FIELD_NUMBER: _ClassVar[int]
    SERVER_MS_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    library_size: int
    server_ms: float
    transcript: str
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ..., library_size: _Optional[int] = ..., server_ms: _Optional[float] = ..., transcript: _Optional[str] = ...) -> None: ...

class GetMotionRequest(_message.Message):
    __slots__ = ("id", "fps", "start_seconds", "end_seconds", "in_place", "mirror")
    ID_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    IN_PLACE_FIELD_NUMBER: _ClassVar[int]
    MIRROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    fps: float
    start_seconds: float
    end_seconds: float
    in_place: bool
    mirror: bool
    def __init__(self, id: _Optional[str] = ..., fps: _Optional[float] = ..., start_seconds: _Optional[float] = ..., end_seconds: _Optional[float] = ..., in_place: _Optional[bool] = ..., mirror: _Optional[bool] = ...) -> None: ...

class BvhChunk(_message.Message):
    __slots__ = ("data", "total_bytes")
    DATA_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    total_bytes: int
    def __init__(self, data: _Optional[bytes] = ..., total_bytes: _Optional[int] = ...) -> None: ...

class ListMotionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: Filter
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[_Union[Filter, _Mapping]] = ...) -> None: ...

class ListMotionsResponse(_message.Message):
    __slots__ = ("motions", "next_page_token", "total")
    MOTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    motions: _containers.RepeatedCompositeFieldContainer[Motion]
    next_page_token: str
    total: int
    def __init__(self, motions: _Optional[_Iterable[_Union[Motion, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total: _Optional[int] = ...) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ("file", "chunk")
    FILE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    file: IngestFile
    chunk: bytes
    def __init__(self, file: _Optional[_Union[IngestFile, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class IngestFile(_message.Message):
    __slots__ = ("name", "content", "style", "source", "licence", "rig_json", "replace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    RIG_JSON_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    content: str
    style: str
    source: str
    licence: str
    rig_json: str
    replace: bool
    def __init__(self, name: _Optional[str] = ..., content: _Optional[str] = ..., style: _Optional[str] = ..., source: _Optional[str] = ..., licence: _Optional[str] = ..., rig_json: _Optional[str] = ..., replace: _Optional[bool] = ...) -> None: ...

class IngestResponse(_message.Message):
    __slots__ = ("added", "unchanged", "failed")
    class FailedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ADDED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    added: _containers.RepeatedCompositeFieldContainer[Motion]
    unchanged: _containers.RepeatedScalarFieldContainer[str]
    failed: _containers.ScalarMap[str, str]
    def __init__(self, added: _Optional[_Iterable[_Union[Motion, _Mapping]]] = ..., unchanged: _Optional[_Iterable[str]] = ..., failed: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DeleteMotionsRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteMotionsResponse(_message.Message):
    __slots__ = ("deleted", "not_found")
    DELETED_FIELD_NUMBER: _ClassVar[int]
    NOT_FOUND_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    not_found: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, deleted: _Optional[int] = ..., not_found: _Optional[_Iterable[str]] = ...) -> None: ...

class GetPreviewRequest(_message.Message):
    __slots__ = ("id", "start_seconds", "end_seconds")
    ID_FIELD_NUMBER: _ClassVar[int]
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    start_seconds: float
    end_seconds: float
    def __init__(self, id: _Optional[str] = ..., start_seconds: _Optional[float] = ..., end_seconds: _Optional[float] = ...) -> None: ...

class Preview(_message.Message):
    __slots__ = ("animation", "animation_type", "strip", "frames", "start_seconds", "end_seconds")
    ANIMATION_FIELD_NUMBER: _ClassVar[int]
    ANIMATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    STRIP_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    animation: bytes
    animation_type: str
    strip: bytes
    frames: int
    start_seconds: float
    end_seconds: float
    def __init__(self, animation: _Optional[bytes] = ..., animation_type: _Optional[str] = ..., strip: _Optional[bytes] = ..., frames: _Optional[int] = ..., start_seconds: _Optional[float] = ..., end_seconds: _Optional[float] = ...) -> None: ...
