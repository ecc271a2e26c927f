"""The four encoders on ONNX Runtime, torch-free: raw text, speech, video frames and motion features -> tokens.

``Encoders.open(bundle)`` loads a bundle written by ``python -m exporter`` (verifying its
sha256s), opens one ONNX Runtime session per graph on CUDA when ONNX Runtime offers it (the
``onnxruntime-gpu`` wheel on a machine with a GPU), else on the CPU, and reports the
providers really in use. Inputs are prepared with ``preprocess`` exactly as for training,
with the parameters recorded in the bundle:

* text: ``preprocess.text.tokenize`` with the bundle's tokenizer, batches of ``batch_size``;
* speech: float32 mono 16 kHz audio -> ``preprocess.audio.log_mel`` (at most ``max_seconds``);
* video: (T, H, W, 3) uint8 RGB frames -> ``preprocess.frames.prepare_frames`` (the bundle's frame
  count and size);
* motion: raw (T, 263) ``motion.features`` at 20 fps -> the centre ``max_frames`` frames,
  normalised with the bundle's feature statistics;
* sentence (when the bundle has the graph): the frozen text backbone's unit sentence embedding of a
  text (``encode_sentences``), for metadata search; cut at ``sentence_max_tokens``. A query's comes
  from the text graph's own pass (``encode_query``), cut where the query is (``max_tokens``).

Every method returns, per input, ``(tokens (L, D) float32 unit vectors, weights (L,) float32)``
with padding removed; invalid input raises ``ValueError`` saying what is wrong. Sessions
are thread-safe: one ``Encoders`` serves concurrent requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from exporter.bundle import POSE, SENTENCE, Bundle
from motion.normalize import FeatureStats
from preprocess.audio import log_mel
from preprocess.frames import prepare_frames
from preprocess.text import tokenize

Item = tuple[np.ndarray, np.ndarray]  # (tokens (L, D), weights (L,))
CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"


def default_providers() -> list[str]:
    """CUDA then CPU where ONNX Runtime has CUDA, else CPU alone."""
    return [CUDA, CPU] if CUDA in ort.get_available_providers() else [CPU]


@dataclass
class Encoders:
    bundle: Bundle
    sessions: dict[str, ort.InferenceSession]
    stats: FeatureStats
    batch_size: int = 64  # texts per ONNX run

    @classmethod
    def open(
        cls, bundle: Bundle | str | Path, providers: Sequence[str] | None = None, threads: int | None = None
    ) -> Encoders:
        """Sessions for every graph of ``bundle`` (a folder or a loaded :class:`Bundle`) on ``providers``
        (default :func:`default_providers`); ``threads``: ONNX Runtime's intra-op threads per session."""
        if not isinstance(bundle, Bundle):
            bundle = Bundle.load(bundle)
        providers = list(providers) if providers else default_providers()
        unknown = [p for p in providers if p not in ort.get_available_providers()]
        if unknown:
            raise ValueError(
                f"ONNX Runtime {ort.__version__} has no {', '.join(unknown)} "
                f"(available: {', '.join(ort.get_available_providers())})"
            )
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        graphs = bundle.modalities + [g for g in (SENTENCE, POSE) if g in bundle.graphs]
        sessions = {m: ort.InferenceSession(str(bundle.graph_path(m)), options, providers=providers) for m in graphs}
        return cls(bundle, sessions, FeatureStats.load(bundle.stats_path))

    @property
    def providers(self) -> list[str]:
        """The execution providers the sessions really use (CUDA falls back to CPU when it cannot start)."""
        used: list[str] = []
        for session in self.sessions.values():
            used += [p for p in session.get_providers() if p not in used]
        return used

    @property
    def dim(self) -> int:
        return self.bundle.dim

    @property
    def modalities(self) -> list[str]:
        return [m for m in self.sessions if m not in (SENTENCE, POSE)]

    @property
    def sentence_dim(self) -> int:
        """The size of the sentence embedding; 0 when the bundle has no sentence graph (exported before it)."""
        return int(self.bundle.graphs[SENTENCE].outputs[0].shape[-1]) if SENTENCE in self.sessions else 0

    def _outputs(self, modality: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        session = self.sessions.get(modality)
        if session is None:
            raise ValueError(f"this model has no {modality} encoder (it has {', '.join(self.sessions)})")
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(None, feeds)))

    def _run(self, modality: str, feeds: dict[str, np.ndarray]) -> list[Item]:
        return self._items(self._outputs(modality, feeds))

    @staticmethod
    def _items(outputs: dict[str, np.ndarray]) -> list[Item]:
        tokens, weights = outputs["tokens"], outputs["weights"]
        mask = outputs.get("token_mask")
        if mask is None:
            return [
                (np.ascontiguousarray(t, np.float32), np.ascontiguousarray(w, np.float32))
                for t, w in zip(tokens, weights)
            ]
        return [
            (np.ascontiguousarray(t[m], np.float32), np.ascontiguousarray(w[m], np.float32))
            for t, w, m in zip(tokens, weights, mask)
        ]

    def encode_text(self, texts: list[str]) -> list[Item]:
        """Tokens and weights of each text, in batches of ``batch_size``; empty or blank texts are an error."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise ValueError("encode_text takes a list of strings")
        if not texts:
            raise ValueError("no texts to encode")
        blank = [i for i, t in enumerate(texts) if not t.strip()]
        if blank:
            raise ValueError(f"empty text at position(s) {blank}")
        prep = self.bundle.preprocessing.text
        out: list[Item] = []
        for start in range(0, len(texts), self.batch_size):
            tokens = tokenize(texts[start : start + self.batch_size], self.bundle.tokenizer_path, prep.max_tokens)
            out += self._run("text", {"input_ids": tokens.ids, "attention_mask": tokens.mask})
        return out

    def encode_query(self, text: str, sentence: bool = True) -> tuple[Item, np.ndarray | None]:
        """A text query's tokens and weights and, with ``sentence``, its unit sentence embedding: from the same
        text-graph run when the graph gives it, else from the sentence graph; None when the bundle has neither."""
        if not text.strip():
            raise ValueError("empty text")
        tokens = tokenize([text], self.bundle.tokenizer_path, self.bundle.preprocessing.text.max_tokens)
        outputs = self._outputs("text", {"input_ids": tokens.ids, "attention_mask": tokens.mask})
        item = self._items(outputs)[0]
        if not sentence:
            return item, None
        if "sentence_embedding" in outputs:
            return item, np.ascontiguousarray(outputs["sentence_embedding"][0], np.float32)
        return item, self.encode_sentences([text])[0] if SENTENCE in self.sessions else None

    def encode_sentences(self, texts: list[str]) -> np.ndarray:
        """(N, sentence_dim) float32 unit sentence embeddings of ``texts`` (in batches of ``batch_size``)."""
        if SENTENCE not in self.sessions:
            raise ValueError("this bundle has no sentence graph: re-export it with python -m exporter")
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts) or not texts:
            raise ValueError("encode_sentences takes a non-empty list of strings")
        cut = self.bundle.preprocessing.text.sentence_max_tokens
        out = []
        for start in range(0, len(texts), self.batch_size):
            tokens = tokenize(texts[start : start + self.batch_size], self.bundle.tokenizer_path, cut)
            feeds = {"input_ids": tokens.ids, "attention_mask": tokens.mask}
            out.append(self._outputs(SENTENCE, feeds)["sentence_embedding"])
        return np.ascontiguousarray(np.concatenate(out), np.float32)

    def encode_speech(self, audio: np.ndarray) -> Item:
        """Tokens and weights of one utterance: float32 mono samples at 16 kHz (longer than ``max_seconds``: cut)."""
        prep = self.bundle.preprocessing.speech
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"expected mono audio (one dimension of samples), got shape {audio.shape}")
        if audio.size == 0:
            raise ValueError("empty audio")
        if audio.size < prep.n_fft:
            raise ValueError(
                f"audio of {audio.size} samples is too short: at least {prep.n_fft} "
                f"({1000 * prep.n_fft / prep.sample_rate:.0f} ms at {prep.sample_rate} Hz)"
            )
        if not np.isfinite(audio).all():
            raise ValueError("audio has NaN or infinite samples")
        mel = log_mel(audio, prep.max_seconds)
        return self._run("speech", {"log_mel": mel[None], "n_frames": np.array([mel.shape[1]], dtype=np.int64)})[0]

    def encode_video(self, frames: np.ndarray) -> Item:
        """Tokens and weights of one video: (T, H, W, 3) uint8 RGB frames in time order, T >= 1, any size."""
        prep = self.bundle.preprocessing.video
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"expected (frames, height, width, 3) uint8 RGB, got {frames.shape} {frames.dtype}")
        if len(frames) < 1 or min(frames.shape[1:3]) < 1:
            raise ValueError(f"too few frames: a video needs at least one non-empty frame, got shape {frames.shape}")
        prepared = prepare_frames(frames, prep.frames, prep.size)
        return self._run("video", {"frames": prepared[None]})[0]

    @property
    def has_pose_encoder(self) -> bool:
        """Whether the bundle carries the pose encoder (the motion encoder tuned to motion estimated from video)."""
        return POSE in self.sessions

    def encode_pose_motion(self, features: np.ndarray) -> Item:
        """:meth:`encode_motion` of a motion estimated from video (``pose.video``), by the bundle's pose encoder
        when it has one (into the same space: the library's motion tokens), else by the motion encoder."""
        return self.encode_motion(features, POSE if self.has_pose_encoder else "motion")

    def encode_motion(self, features: np.ndarray, graph: str = "motion") -> Item:
        """Tokens and weights of one motion: raw (T, 263) features at 20 fps, T >= 1; longer than ``max_frames``:
        its centre ``max_frames`` frames (as the model is evaluated)."""
        prep = self.bundle.preprocessing.motion
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != prep.feature_dim:
            raise ValueError(f"expected (frames, {prep.feature_dim}) motion features, got shape {features.shape}")
        if len(features) < 1:
            raise ValueError("too few frames: a motion needs at least one frame of features")
        if not np.isfinite(features).all():
            raise ValueError("motion features have NaN or infinite values")
        start = max(0, (len(features) - prep.max_frames) // 2)
        clip = self.stats.normalize(features[start : start + prep.max_frames])
        return self._run(graph, {"features": clip[None], "frame_mask": np.ones((1, len(clip)), dtype=bool)})[0]
