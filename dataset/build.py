"""The dataset build: source BVH folder -> a versioned multimodal dataset folder.

Stages run in order; each writes its outputs atomically (temporary file,
then rename), skips outputs that already exist, and records its time in
``build.json``. An interrupted build run again resumes where it stopped.

    motion     joints/{item}.npy (F, 22, 3) float32 and features/{item}.npy (F-1, 263)
               for every clip and its mirror (item id "M" + clip id)
    splits     splits/{train,val,test,unseen}.txt (clip and mirror ids) and
               stats/feature_mean_std.npz fitted on the training items only
    captions   annotations.json: TMR-style, both registers per item: label, kinematic and combined captions,
               plus held-out kinematic ones on test and unseen items (dataset.captions)
    speech     speech/{file} (16 kHz mono FLAC) for SPEECH_PER_REGISTER label captions per item and
               register, each in a random voice of the item's side of the speaker split;
               speech_noisy/{file} (white noise, 10 dB SNR) for test and unseen items;
               speech/manifest.jsonl (utt, file, item, register, text, voice, speaker, pitch,
               rate, seconds). The file name is the utterance id plus a digest of what was
               synthesised (text, voice, prosody, noise seed), so a rerun after the voice
               catalogue or a caption changed makes new files instead of trusting stale ones.
    asr        the offline ASR's word accuracy on a seeded sample of clean and noisy test
               utterances (recorded in build.json)
    video      video/{item}.jpg: VIDEO_FRAMES rendered frames of a mannequin, random camera and look
    pose       pose/{item}.npy (F, 22, 3) float32: the clip as SearchVideo's pose path sees it (``pose.video``):
               the whole clip rendered at ``POSE_FPS`` (random camera all round and look), BlazePose world
               landmarks, the canonical skeleton at 20 fps; a mirror's is its clip's mirrored; with
               ``--pose-views N`` also pose/{item}.view{k}.npy, k = 1 .. N - 1, each from another camera
               (``--pose-yaws axes``: the cameras this run adds look from near the front, back or a side;
               ``--pose-sizes 160-512``: the frames of the views this run adds are rendered at a size drawn per
               clip from that range instead of ``POSE_SIZE``, as videos come at any resolution). Fine-tunes
               train the motion encoder on them (``AugmentConfig.real_pose``); ``build.json`` counts the clips
               in which no person was found (they get no file)

Per-item stages run on all cores (``workers``); every random choice is drawn
from a generator seeded by (build seed, item), so reruns and resumes agree.
``splits`` (``--splits test,unseen``) limits the speech, video and pose stages to the
items of those splits, e.g. to evaluate a model without synthesising the
training speech; files of other splits are kept, and the speech manifest then
lists the chosen splits' utterances only.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.files import git_commit, write_atomic
from dataset.annotations import LABEL, Annotation, AnnotationEntry, write_annotations
from dataset.splits import SPLITS, assign_splits, mirror_id, read_split_files, source_id
from motion.bvh import BvhError, read_bvh
from motion.canonical import canonicalize
from motion.features import motion_features
from motion.mirror import mirror_label, mirror_positions
from motion.normalize import FeatureStats
from motion.resample import TARGET_FPS
from motion.rigs import RigError
from motion.sources import Clip, find_clips
from preprocess.captions import REGISTERS

VERSION = 1
SPEECH_PER_REGISTER = 2  # captions per item and register that are also synthesised: the first ones of SPEECH_KINDS
SPEECH_KINDS = (LABEL,)  # label captions only, so adding kinematic captions changed no utterance (docs/dataset.md)
NOISY_SNR_DB = 10.0
VIDEO_FRAMES = 16
VIDEO_SIZE = 160
POSE_SIZE = 256  # rendered frame size of the pose stage (what bench.video_pose renders)


@dataclass
class Build:
    """One build: where from, where to, and what is known so far."""

    source: Path
    out: Path
    seed: int = 0
    limit: int | None = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    splits: tuple[str, ...] | None = None  # the speech, video and pose stages' items (None: all)
    pose_views: int = 1  # cameras per clip in the pose stage
    pose_yaws: str = "round"  # how the pose stage draws the cameras it adds (motion.render.sample_camera)
    pose_sizes: tuple[int, int] = (POSE_SIZE, POSE_SIZE)  # frame sizes (px) the pose stage draws from, inclusive
    clips: list[Clip] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self.clips = find_clips(self.source)[: self.limit] if self.limit else find_clips(self.source)

    @property
    def items(self) -> list[tuple[str, Clip, bool]]:
        """(item id, source clip, mirrored) for every clip and its mirror."""
        return [(i, c, m) for c in self.clips for i, m in ((c.id, False), (mirror_id(c.id), True))]

    def path(self, *parts: str) -> Path:
        return self.out.joinpath(*parts)

    def log(self) -> dict:
        path = self.path("build.json")
        return json.loads(path.read_text()) if path.exists() else {"version": VERSION, "stages": {}}

    def record(self, stage: str, seconds: float, **info) -> None:
        log = self.log()
        log.update(source=str(self.source), seed=self.seed, limit=self.limit, git_commit=git_commit())
        previous = log["stages"].get(stage, {})
        total = previous.get("seconds_total", 0.0) + seconds
        log["stages"][stage] = {"seconds_last_run": round(seconds, 2), "seconds_total": round(total, 2), **info}
        write_atomic(self.path("build.json"), json.dumps(log, indent=2).encode())

    def content(self, item: str) -> str:
        clip = self.clip(item)
        return mirror_label(clip.content) if item != clip.id else clip.content

    def clip(self, item: str) -> Clip:
        return self._by_id[source_id(item)]

    def rng(self, *keys: str) -> random.Random:
        """A generator for one item's random choices, the same on every run."""
        return random.Random(":".join((str(self.seed), *keys)))

    def split_of_items(self) -> dict[str, str]:
        return read_split_files(self.out)

    def chosen(self, items: Iterable[str]) -> list[str]:
        """``items`` in the build's ``splits`` (all of them when it has none)."""
        if self.splits is None:
            return list(items)
        split_of = self.split_of_items()
        return [i for i in items if split_of[i] in self.splits]

    @cached_property
    def _by_id(self) -> dict[str, Clip]:
        return {c.id: c for c in self.clips}


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save``, atomically."""
    write_atomic(path, lambda f: np.save(f, array))


def stage_motion(build: Build) -> dict:
    failures = {}
    todo = [c for c in build.clips if not build.path("features", mirror_id(c.id) + ".npy").exists()]
    for clip in tqdm(todo, desc="motion", unit="clip"):
        try:
            canon = canonicalize(read_bvh(clip.path))
        except (BvhError, RigError) as err:
            failures[clip.id] = str(err)
            continue
        for item, positions in ((clip.id, canon.positions), (mirror_id(clip.id), mirror_positions(canon.positions))):
            save_npy(build.path("joints", item + ".npy"), positions.astype(np.float32))
            save_npy(build.path("features", item + ".npy"), motion_features(positions, canon.fps))
    if failures:
        raise RuntimeError(f"{len(failures)} clips failed: " + "; ".join(f"{k}: {v}" for k, v in failures.items()))
    return {"items": len(build.items), "fps": 20}


def stage_splits(build: Build) -> dict:
    splits = assign_splits(build.clips)
    counts = {}
    for name in SPLITS:
        ids = sorted(i for i, c, _ in build.items if splits[c.id] == name)
        write_atomic(build.path("splits", f"{name}.txt"), "".join(f"{i}\n" for i in ids).encode())
        counts[name] = len(ids)
    train = [i for i, c, _ in build.items if splits[c.id] == "train"]
    features = (np.load(build.path("features", i + ".npy")) for i in tqdm(train, desc="stats", unit="item"))
    stats = FeatureStats.fit(features)
    build.path("stats").mkdir(exist_ok=True)
    stats.save(build.path("stats", "feature_mean_std.npz"))
    return {"items_per_split": counts}


def _caption_job(job: tuple[str, str, str, str, str, int, bool]) -> tuple[int, list[Annotation]]:
    """(frames, every caption) of one item (``dataset.captions.item_captions``)."""
    from dataset.captions import item_captions

    item, joints_path, content, style, clip, seed, heldout = job
    joints = np.load(joints_path)
    return len(joints), item_captions(content, style, joints, item, clip, seed, heldout)


def stage_captions(build: Build) -> dict:
    split_of = build.split_of_items()
    jobs = [(item, str(build.path("joints", item + ".npy")), build.content(item), clip.style, clip.id, build.seed,
             split_of.get(item) in ("test", "unseen")) for item, clip, _ in build.items]  # fmt: skip
    entries = {}
    for (item, clip, mirrored), (n_frames, texts) in zip(
        build.items, parallel_map(_caption_job, jobs, build.workers, "captions")
    ):
        entries[item] = AnnotationEntry(
            path=clip.path.relative_to(build.source).as_posix(),
            duration=round((n_frames - 1) / 20, 3),
            content=build.content(item),
            style=clip.style,
            mirror=mirrored,
            annotations=texts,
        )
    write_annotations(build.path("annotations.json"), entries)
    kinds = Counter(a.kind for e in entries.values() for a in e.annotations)
    return {
        "items": len(entries),
        "captions": sum(kinds.values()),
        "captions_per_kind": dict(sorted(kinds.items())),
        "items_without_kinematic": sum(all(a.kind == LABEL for a in e.annotations) for e in entries.values()),
    }


def parallel_map(fn: Callable, jobs: list, workers: int, desc: str) -> Iterable:
    """``map(fn, jobs)`` over ``workers`` processes (in this process when 1), with a progress bar."""
    if workers <= 1 or len(jobs) < 2:
        yield from tqdm(map(fn, jobs), total=len(jobs), desc=desc, unit="item")
        return
    with ProcessPoolExecutor(workers) as pool:
        yield from tqdm(pool.map(fn, jobs, chunksize=8), total=len(jobs), desc=desc, unit="item")


@dataclass(frozen=True)
class SpeechJob:
    utt: str
    file: str
    item: str
    register: str
    text: str
    voice: str
    pitch: float
    rate: float
    path: str
    noisy_path: str | None
    noise_seed: int


def _speech_job(job: SpeechJob) -> dict:
    """Synthesise one utterance (unless its files exist) and return its manifest row."""
    from dataset.speech import Prosody, add_noise, read_audio, synthesize, write_flac
    from dataset.voices import voice_by_id

    path = Path(job.path)
    if path.exists():
        audio = read_audio(path)
    else:
        audio = synthesize(job.text, voice_by_id(job.voice), Prosody(pitch=job.pitch, rate=job.rate))
        write_flac(path, audio)
    if job.noisy_path and not Path(job.noisy_path).exists():
        write_flac(Path(job.noisy_path), add_noise(audio, NOISY_SNR_DB, np.random.default_rng(job.noise_seed)))
    voice = voice_by_id(job.voice)
    row = {k: v for k, v in vars(job).items() if k not in ("path", "noisy_path")}
    return row | {"speaker": voice.speaker, "engine": voice.engine, "seconds": round(len(audio) / 16000, 3),
                  "noisy": job.noisy_path is not None}  # fmt: skip


def stage_speech(build: Build) -> dict:
    from dataset.annotations import load_annotations
    from dataset.speech import sample_prosody
    from dataset.voices import voices_for

    annotations = load_annotations(build.path("annotations.json"))
    split_of = build.split_of_items()
    jobs = []
    for item in build.chosen(annotations):
        entry = annotations[item]
        voices = voices_for(split_of[item])
        for register in REGISTERS:
            for k, text in enumerate(entry.texts(register, SPEECH_KINDS)[:SPEECH_PER_REGISTER]):
                utt = f"{item}.{register}.{k}"
                rng = build.rng("speech", utt)
                voice = rng.choice(voices)
                prosody = sample_prosody(rng)
                noisy = split_of[item] in ("test", "unseen")
                noise_seed = rng.randrange(2**31)
                digest = hashlib.sha1(f"{text}|{voice.id}|{prosody}|{noise_seed}".encode()).hexdigest()[:10]
                file = f"{utt}.{digest}.flac"
                jobs.append(SpeechJob(
                    utt, file, item, register, text, voice.id, prosody.pitch, prosody.rate,
                    str(build.path("speech", file)), str(build.path("speech_noisy", file)) if noisy else None,
                    noise_seed,
                ))  # fmt: skip
    rows = list(parallel_map(_speech_job, jobs, build.workers, "speech"))
    manifest = "".join(json.dumps(row) + "\n" for row in rows)
    write_atomic(build.path("speech", "manifest.jsonl"), manifest.encode())
    wanted = {Path(p) for job in jobs for p in (job.path, job.noisy_path) if p}
    stale = [p for d in ("speech", "speech_noisy") for p in build.path(d).glob("*.flac") if p not in wanted]
    if build.splits is not None:  # other splits' files are not stale, only not asked for
        stale = []
    for path in stale:  # from an earlier catalogue or seed: no manifest row names them
        path.unlink()
    return {
        "utterances": len(rows),
        "noisy_utterances": sum(r["noisy"] for r in rows),
        "hours": round(sum(r["seconds"] for r in rows) / 3600, 3),
        "voices": len({r["voice"] for r in rows}),
        "stale_files_removed": len(stale),
    }


ASR_SAMPLE = 60


def stage_asr(build: Build) -> dict:
    from dataset.asr import word_accuracy
    from dataset.speech import read_audio
    from preprocess.asr import Transcriber

    rows = [json.loads(line) for line in build.path("speech", "manifest.jsonl").read_text().splitlines()]
    noisy = [r for r in rows if r["noisy"]]
    sample = build.rng("asr").sample(noisy, min(ASR_SAMPLE, len(noisy)))
    transcriber = Transcriber()
    scores: dict[str, list[float]] = {"clean": [], "noisy_10db": []}
    for row in tqdm(sample, desc="asr", unit="utt"):
        for name, folder in (("clean", "speech"), ("noisy_10db", "speech_noisy")):
            heard = transcriber.transcribe(read_audio(build.path(folder, row["file"])))
            scores[name].append(word_accuracy(row["text"], heard))
    return {
        "sample": len(sample),
        "voices": sorted({r["voice"] for r in sample}),
        "word_accuracy": {k: round(float(np.mean(v)), 3) if v else None for k, v in scores.items()},
    }


def _video_job(job: tuple[str, str, int]) -> str:
    from dataset.render import render_frames, save_frames

    joints_path, out_path, seed = job
    if not Path(out_path).exists():
        frames = render_frames(np.load(joints_path), fps=20, n_frames=VIDEO_FRAMES, size=VIDEO_SIZE, seed=seed)
        save_frames(Path(out_path), frames)
    return out_path


def stage_video(build: Build) -> dict:
    jobs = [
        (str(build.path("joints", item + ".npy")), str(build.path("video", item + ".jpg")),
         build.rng("video", item).randrange(2**31))
        for item in build.chosen(i for i, _, _ in build.items)
    ]  # fmt: skip
    done = list(parallel_map(_video_job, jobs, build.workers, "video"))
    return {"items": len(done), "frames_per_item": VIDEO_FRAMES, "size": VIDEO_SIZE}


_ESTIMATOR = None  # one BlazePose per worker process (pose stage)


def _pose_job(job: tuple[str, str, str, int, str, tuple[int, int]]) -> bool:
    """Rebuild one clip through rendering and BlazePose (unless its files exist); False when no person was seen."""
    global _ESTIMATOR
    from motion.render import render_frames, sample_camera
    from pose.blazepose import PoseEstimator
    from pose.skeleton import track_positions
    from pose.video import POSE_FPS

    joints_path, out_path, mirror_path, seed, yaws, sizes = job
    if Path(mirror_path).exists():
        return True
    joints = np.load(joints_path).astype(np.float64)
    rng = np.random.default_rng(seed)
    n_frames = max(2, int(round((len(joints) - 1) / TARGET_FPS * POSE_FPS)) + 1)
    camera = sample_camera(rng, joints, yaws=yaws)
    # drawn after the camera, and only from a range: a fixed size leaves every earlier view's draws as they were
    size = int(rng.integers(sizes[0], sizes[1] + 1)) if sizes[1] > sizes[0] else sizes[0]
    frames = render_frames(joints, TARGET_FPS, n_frames, size, seed=seed, camera=camera)
    _ESTIMATOR = _ESTIMATOR or PoseEstimator(threads=1)
    track = _ESTIMATOR.track(iter(frames))
    if not track.found.any():
        return False
    rate = (n_frames - 1) * TARGET_FPS / max(len(joints) - 1, 1)  # render_frames spreads the frames over the clip
    positions = track_positions(track.world, track.found, rate)
    save_npy(Path(out_path), positions.astype(np.float32))
    save_npy(Path(mirror_path), mirror_positions(positions).astype(np.float32))
    return True


def pose_file(item: str, view: int) -> str:
    """The pose stage's file name of one item seen from camera ``view`` (0: the first camera)."""
    return f"{item}.npy" if view == 0 else f"{item}.view{view}.npy"


def stage_pose(build: Build) -> dict:
    clips = build.chosen(c.id for c in build.clips)
    jobs = [(str(build.path("joints", i + ".npy")), str(build.path("pose", pose_file(i, v))),
             str(build.path("pose", pose_file(mirror_id(i), v))),
             build.rng("pose", i, *([str(v)] if v else [])).randrange(2**31), build.pose_yaws, build.pose_sizes)
            for v in range(build.pose_views) for i in clips]  # fmt: skip
    build.path("pose").mkdir(exist_ok=True)
    seen = list(parallel_map(_pose_job, jobs, build.workers, "pose"))
    return {"clips": len(clips), "views": build.pose_views, "yaws": build.pose_yaws, "no_person": len(seen) - sum(seen),
            "size": list(build.pose_sizes)}  # fmt: skip


STAGES: dict[str, Callable[[Build], dict]] = {
    "motion": stage_motion,
    "splits": stage_splits,
    "captions": stage_captions,
    "speech": stage_speech,
    "asr": stage_asr,
    "video": stage_video,
    "pose": stage_pose,
}


def run(build: Build, stages: list[str] | None = None) -> None:
    for name in stages or list(STAGES):
        start = time.perf_counter()
        info = STAGES[name](build)
        seconds = time.perf_counter() - start
        build.record(name, seconds, **info)
        print(f"stage {name}: {seconds:.1f} s {info}")
