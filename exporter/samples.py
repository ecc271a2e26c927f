"""Real inputs for the parity check and the tests, torch-free: captions, demo BVH motions, speech, rendered video.

* text: captions from ``preprocess.captions`` (both registers) and one longer than the tokenizer's limit;
* motion: raw 263-d features of the committed demo clips (``data/demo/*.bvh``) through the motion
  layer, as ``dataset.build`` computes them (one long clip, one short, one cut to a few frames);
* speech: three short utterances committed as FLAC under ``exporter/speech_samples/`` (the captions
  above, spoken by espeak-ng voices), so that exporting needs no speech engine (a fresh machine has
  none); ``python -m exporter.samples`` synthesises them again (needs espeak-ng). Or the first FLACs of
  a built dataset folder;
* video: the demo clips rendered by ``dataset.render`` as the dataset renders them (16 frames, 160 px),
  or the first rendered stacks of a built dataset folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
DEMO_CLIPS = ("dataset-2_wave-left-hand_elderly_017", "dataset-1_dance-short_normal_001", "dataset-1_kick_normal_001")
CAPTIONS = (
    ("walk", "normal", "descriptive"),
    ("wave-left-hand", "elderly", "spoken"),
    ("kick", "angry", "descriptive"),
)
VOICES = ("espeak-en-us+m3", "espeak-en+f2", "espeak-en-gb-x-rp+m7")
RENDER_FRAMES, RENDER_SIZE = 16, 160  # dataset.build's VIDEO_FRAMES, VIDEO_SIZE
SPEECH = Path(__file__).resolve().parent / "speech_samples"
SPEECH_MANIFEST = SPEECH / "manifest.json"


@dataclass(frozen=True)
class Samples:
    """Raw inputs as the server receives them."""

    texts: list[str]
    audios: list[np.ndarray]  # float32 mono 16 kHz
    videos: list[np.ndarray]  # (n, H, W, 3) uint8 RGB
    motions: list[np.ndarray]  # (T, 263) raw features at 20 fps


def demo_clip(name: str) -> Path:
    path = DEMO / f"{name}.bvh"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the demo library data/demo/ is incomplete")
    return path


def caption_samples() -> list[str]:
    from preprocess.captions import generate_captions

    texts = [generate_captions(content, style, register, n=1, seed=0)[0] for content, style, register in CAPTIONS]
    return texts + [" and then ".join(texts)]  # past the tokenizer's 32 tokens: cut


def motion_samples() -> list[np.ndarray]:
    from motion.canonical import load_canonical
    from motion.features import motion_features

    features = []
    for name in DEMO_CLIPS:
        canon = load_canonical(demo_clip(name))
        features.append(motion_features(canon.positions, canon.fps))
    features[-1] = features[-1][:7]  # a very short motion: fewer frames than one pooled token covers
    return features


def speech_samples() -> list[np.ndarray]:
    """The committed utterances (float32 mono 16 kHz), read with soundfile: no speech engine needed."""
    from dataset.speech import read_audio

    if not SPEECH_MANIFEST.exists():
        raise FileNotFoundError(f"{SPEECH_MANIFEST} is missing: the committed speech samples are incomplete")
    rows = json.loads(SPEECH_MANIFEST.read_text())
    return [read_audio(SPEECH / row["file"]) for row in rows]


def write_speech_samples() -> list[dict]:
    """Synthesise the speech samples again (espeak-ng) into ``exporter/speech_samples/`` with their manifest."""
    import soundfile as sf

    from dataset.speech import SAMPLE_RATE, synthesize
    from dataset.voices import voice_by_id

    SPEECH.mkdir(exist_ok=True)
    rows = []
    for i, (text, voice) in enumerate(zip(caption_samples(), VOICES)):
        file = f"utterance-{i}.flac"
        sf.write(str(SPEECH / file), synthesize(text, voice_by_id(voice)), SAMPLE_RATE, subtype="PCM_16")
        rows.append({"file": file, "text": text, "voice": voice})
    SPEECH_MANIFEST.write_text(json.dumps(rows, indent=1) + "\n")
    return rows


def video_samples() -> list[np.ndarray]:
    from dataset.render import render_frames
    from motion.canonical import load_canonical

    return [
        render_frames(load_canonical(demo_clip(name)).positions, n_frames=RENDER_FRAMES, size=RENDER_SIZE, seed=i)
        for i, name in enumerate(DEMO_CLIPS)
    ]


def dataset_samples(data: Path, n: int = 3) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The first ``n`` utterances (FLAC) and rendered videos of a folder built by ``python -m dataset build``."""
    from dataset.render import load_frames
    from dataset.speech import read_audio

    rows = [json.loads(line) for line in (data / "speech" / "manifest.jsonl").read_text().splitlines()[:n]]
    audios = [read_audio(data / "speech" / row["file"]) for row in rows]
    videos = [load_frames(path) for path in sorted((data / "video").glob("*.jpg"))[:n]]
    if len(audios) < n or len(videos) < n:
        raise FileNotFoundError(f"{data} has fewer than {n} utterances or rendered videos")
    return audios, videos


def real_samples(data: Path | None = None) -> Samples:
    """Captions, demo motions, committed speech and rendered video (or speech and video read from ``data``)."""
    if data is not None:
        audios, videos = dataset_samples(Path(data))
    else:
        audios, videos = speech_samples(), video_samples()
    return Samples(caption_samples(), audios, videos, motion_samples())


if __name__ == "__main__":
    for row in write_speech_samples():
        print(f"{SPEECH / row['file']}: {row['voice']}: {row['text']}")
