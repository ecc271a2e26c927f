"""The ONNX bundle on disk and its manifest, torch-free (the server reads bundles with this module).

A bundle is one folder::

    manifest.json        format version, model identity, D, graphs' exact inputs/outputs,
                         preprocessing parameters, library versions, parity errors, sha256 of every file
    text.onnx            token ids + attention mask -> tokens, token mask, weights
    speech.onnx          log-mel + frame counts     -> tokens, weights
    video.onnx           prepared frames            -> tokens, weights
    motion.onnx          normalised features + mask -> tokens, token mask, weights
    sentence.onnx        token ids + attention mask -> the frozen text backbone's unit sentence embedding
                         (metadata search; bundles exported before it have none and serve without it)
    tokenizer/           the text backbone's tokenizer files (tokenizer.json, vocab.txt, ...)
    feature_stats.npz    the motion features' mean and std (``motion.normalize.FeatureStats``)

(a model trained without a modality has no graph for it). :meth:`Bundle.load` checks the
format version and every file's sha256 against the manifest, and raises :class:`BundleError`
naming what is wrong.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common.files import sha256_file, write_atomic

FORMAT = "motionsearch-onnx-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
STATS_FILE = "feature_stats.npz"
TOKENIZER_DIR = "tokenizer"
MODALITIES = ("text", "speech", "video", "motion")
SENTENCE = "sentence"  # the frozen sentence-embedding graph: not a modality of the model, beside its text graph
# the pose encoder's graph: the motion encoder fine-tuned on motion estimated from video
# (model/configs/pose-encoder.yaml), which SearchVideo's pose path encodes with; optional (the motion graph stands in)
POSE = "pose"
GRAPHS = (*MODALITIES, SENTENCE, POSE)


class BundleError(ValueError):
    """A folder that is not a complete, unmodified bundle of a format this code reads."""


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: its name, element type and shape (ints, or names of dynamic axes)."""

    name: str
    dtype: str  # float32 | int64 | bool
    shape: tuple[int | str, ...]


@dataclass(frozen=True)
class GraphSpec:
    """One ONNX graph of the bundle: its file and its exact inputs and outputs, in order."""

    file: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]


@dataclass(frozen=True)
class TextPreprocessing:
    """``preprocess.text.tokenize`` with the bundle's tokenizer folder, cut at ``max_tokens``."""

    tokenizer: str = TOKENIZER_DIR  # folder inside the bundle
    max_tokens: int = 32
    sentence_max_tokens: int = 128  # the sentence graph's cut (metadata strings are longer than queries)


@dataclass(frozen=True)
class SpeechPreprocessing:
    """``preprocess.audio.log_mel`` of 16 kHz mono audio; the graph pools encoder states over ``pooling`` frames."""

    sample_rate: int = 16000
    n_mels: int = 80
    n_fft: int = 400
    hop: int = 160
    max_seconds: float = 10.0
    pooling: int = 2
    states_per_second: int = 25


@dataclass(frozen=True)
class VideoPreprocessing:
    """``preprocess.frames.prepare_frames``: ``frames`` sampled uniformly, resized to ``size``, (x - mean) / std."""

    frames: int = 8
    size: int = 112
    mean: float = 127.0
    std: float = 128.0
    layout: str = "(batch, frames, 3, size, size) RGB"


@dataclass(frozen=True)
class MotionPreprocessing:
    """Raw ``motion.features`` rows at ``fps`` on the canonical skeleton, centre-cropped, normalised with ``stats``."""

    fps: float = 20.0
    max_frames: int = 196
    feature_dim: int = 263
    skeleton: str = "smpl-22"
    joints: tuple[str, ...] = ()
    stats: str = STATS_FILE  # file inside the bundle


@dataclass(frozen=True)
class Preprocessing:
    text: TextPreprocessing = field(default_factory=TextPreprocessing)
    speech: SpeechPreprocessing = field(default_factory=SpeechPreprocessing)
    video: VideoPreprocessing = field(default_factory=VideoPreprocessing)
    motion: MotionPreprocessing = field(default_factory=MotionPreprocessing)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Preprocessing:
        parts = {
            "text": TextPreprocessing,
            "speech": SpeechPreprocessing,
            "video": VideoPreprocessing,
            "motion": MotionPreprocessing,
        }
        values = {}
        for key, kind in parts.items():
            entry = dict(data.get(key, {}))
            if "joints" in entry:
                entry["joints"] = tuple(entry["joints"])
            try:
                values[key] = kind(**entry)
            except TypeError as error:
                raise BundleError(f"manifest preprocessing.{key}: {error}") from None
        return cls(**values)


def _tensor(data: dict) -> TensorSpec:
    return TensorSpec(data["name"], data["dtype"], tuple(data["shape"]))


@dataclass(frozen=True)
class Bundle:
    """A loaded, verified bundle. ``model`` holds name, run, epoch, data_hash, git_commit and config."""

    path: Path
    format_version: int
    dim: int
    model: dict[str, Any]
    similarity: dict[str, Any]
    graphs: dict[str, GraphSpec]
    preprocessing: Preprocessing
    files: dict[str, str]  # relative path -> sha256
    versions: dict[str, str]
    parity: dict[str, Any]
    created: str = ""

    @property
    def modalities(self) -> list[str]:
        return [m for m in MODALITIES if m in self.graphs]

    @property
    def digest(self) -> str:
        """sha256 over every file's sha256: changes whenever a graph, the tokenizer or the statistics change."""
        return hashlib.sha256(json.dumps(self.files, sort_keys=True).encode()).hexdigest()

    def graph_path(self, modality: str) -> Path:
        if modality not in self.graphs:
            raise BundleError(f"{self.path} has no {modality} graph (the model's modalities: {self.modalities})")
        return self.path / self.graphs[modality].file

    @property
    def tokenizer_path(self) -> Path:
        return self.path / self.preprocessing.text.tokenizer

    @property
    def stats_path(self) -> Path:
        return self.path / self.preprocessing.motion.stats

    @classmethod
    def load(cls, path: str | Path, verify: bool = True) -> Bundle:
        """Read ``path/manifest.json``; with ``verify`` (the default) check every file's sha256 against it."""
        path = Path(path)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise BundleError(
                f"{path} is not an ONNX bundle: it has no {MANIFEST} "
                f"(export one with python -m exporter --run RUN --out {path})"
            )
        try:
            data = json.loads(manifest_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise BundleError(f"{manifest_path} is unreadable: {error}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BundleError(f"{manifest_path} is not a {FORMAT} manifest")
        if data.get("format_version") != FORMAT_VERSION:
            raise BundleError(
                f"{manifest_path} has format version {data.get('format_version')}; this code reads "
                f"version {FORMAT_VERSION}: re-export the model with python -m exporter"
            )
        try:
            graphs = {
                m: GraphSpec(g["file"], tuple(map(_tensor, g["inputs"])), tuple(map(_tensor, g["outputs"])))
                for m, g in data["graphs"].items()
            }
            bundle = cls(
                path=path,
                format_version=data["format_version"],
                dim=int(data["dim"]),
                model=data["model"],
                similarity=data.get("similarity", {}),
                graphs=graphs,
                preprocessing=Preprocessing.from_dict(data["preprocessing"]),
                files=dict(data["files"]),
                versions=dict(data.get("versions", {})),
                parity=dict(data.get("parity", {})),
                created=data.get("created", ""),
            )
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, BundleError):
                raise
            raise BundleError(f"{manifest_path} is incomplete or malformed: {error!r}") from None
        unknown = sorted(set(graphs) - set(GRAPHS))
        if unknown:
            raise BundleError(f"{manifest_path} lists unknown graph(s) {unknown}")
        needed = [g.file for g in graphs.values()] + [bundle.preprocessing.motion.stats]
        if "text" in graphs:
            needed.append(f"{bundle.preprocessing.text.tokenizer}/tokenizer.json")
        unlisted = [f for f in needed if f not in bundle.files]
        if unlisted:
            raise BundleError(f"{manifest_path} has no sha256 for {unlisted}")
        if verify:
            bundle.verify()
        return bundle

    def verify(self) -> None:
        """Check that every listed file exists and has the manifest's sha256; :class:`BundleError` if not."""
        problems = []
        for rel, expected in sorted(self.files.items()):
            file = self.path / rel
            if not file.is_file():
                problems.append(f"{rel} is missing")
                continue
            actual = sha256_file(file)
            if actual != expected:
                problems.append(f"{rel} has sha256 {actual[:12]}… but the manifest says {expected[:12]}…")
        if problems:
            raise BundleError(
                f"bundle {self.path} failed verification: "
                + "; ".join(problems)
                + " (a file was changed or truncated after export: re-export with python -m exporter)"
            )


def release_sha256(folder: Path) -> str | None:
    """The sha256 of the weights a release folder records (``manifest.json``, ``model.release``); None for a
    run directory or a missing folder. A bundle records its release's and its pose encoder's (``RUN/pose``), and
    the server exports again when either changes."""
    manifest = folder / "manifest.json"
    return json.loads(manifest.read_text()).get("sha256") if manifest.exists() else None


def write_manifest(folder: Path, manifest: dict, files: list[str]) -> Bundle:
    """Write ``folder/manifest.json`` (``manifest`` plus the format and the sha256 of ``files``) atomically,
    then load it back verified."""
    folder = Path(folder)
    data = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **manifest,
        "files": {rel: sha256_file(folder / rel) for rel in sorted(files)},
    }
    write_atomic(folder / MANIFEST, json.dumps(data, indent=1, default=_jsonable).encode())
    return Bundle.load(folder)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
