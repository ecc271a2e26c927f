"""Statistics of a built dataset folder: what ``python -m dataset stats`` prints.

Counts of motions and items per split, captions per (content, style) and
register, caption diversity, hours of audio and voices per split (when the
speech stage ran), video frames (when the video stage ran), and the measured
time of each build stage from ``build.json``.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from dataset.splits import read_split_files, source_id


def dataset_stats(out: Path) -> dict:
    out = Path(out)
    build = json.loads((out / "build.json").read_text()) if (out / "build.json").exists() else {}
    item_split = read_split_files(out)
    stats: dict = {
        "folder": str(out),
        "build": {k: build.get(k) for k in ("version", "source", "seed", "limit", "git_commit")},
        "motions": len({source_id(i) for i in item_split}),
        "items": len(item_split),
        "items_per_split": dict(Counter(item_split.values())),
        "stage_seconds": {k: v.get("seconds_total") for k, v in build.get("stages", {}).items()},
        "stage_seconds_last_run": {k: v.get("seconds_last_run") for k, v in build.get("stages", {}).items()},
    }
    videos = sorted((out / "video").glob("*.jpg")) if (out / "video").is_dir() else []
    if videos:
        stats["video"] = {"items": len(videos), "bytes": sum(p.stat().st_size for p in videos)}
    if "asr" in build.get("stages", {}):
        stats["asr"] = {k: build["stages"]["asr"][k] for k in ("sample", "word_accuracy")}
    annotations_path = out / "annotations.json"
    if annotations_path.exists():
        stats["captions"] = _caption_stats(json.loads(annotations_path.read_text()))
    manifest = out / "speech" / "manifest.jsonl"
    if manifest.exists():
        stats["speech"] = _speech_stats(manifest, item_split)
    return stats


def _caption_stats(annotations: dict) -> dict:
    per_pair: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    texts: dict[str, set[str]] = defaultdict(set)
    words: dict[str, set[str]] = defaultdict(set)
    for entry in annotations.values():
        for a in entry["annotations"]:
            per_pair[(entry["content"], entry["style"], a["register"])].add(a["text"])
            texts[a["register"]].add(a["text"])
            words[a["register"]].update(re.findall(r"[a-z']+", a["text"].lower()))
    fewest = min(per_pair.items(), key=lambda kv: len(kv[1]))
    return {
        "total": sum(len(e["annotations"]) for e in annotations.values()),
        "distinct_per_register": {r: len(t) for r, t in texts.items()},
        "distinct_words_per_register": {r: len(w) for r, w in words.items()},
        "min_distinct_per_content_style_register": len(fewest[1]),
        "fewest_at": list(fewest[0]),
    }


def _speech_stats(manifest: Path, item_split: dict[str, str]) -> dict:
    seconds: Counter = Counter()
    voices: dict[str, set[str]] = defaultdict(set)
    speakers: dict[str, set[str]] = defaultdict(set)
    count: Counter = Counter()
    for line in manifest.read_text().splitlines():
        row = json.loads(line)
        split = item_split.get(row["item"], "unknown")
        seconds[split] += row["seconds"]
        voices[split].add(row["voice"])
        speakers["test" if split in ("test", "unseen") else "train"].add(row["speaker"])
        count[split] += 1
    train_voices = voices.get("train", set()) | voices.get("val", set())
    test_voices = voices.get("test", set()) | voices.get("unseen", set())
    return {
        "utterances": dict(count),
        "hours": {k: round(v / 3600, 3) for k, v in seconds.items()},
        "hours_total": round(sum(seconds.values()) / 3600, 3),
        "voices_per_split": {k: len(v) for k, v in voices.items()},
        "voices_total": len(train_voices | test_voices),
        "test_only_voices": len(test_voices - train_voices),
        "shared_train_test_voices": sorted(train_voices & test_voices),
        "shared_train_test_speakers": sorted(speakers["train"] & speakers["test"]),
        "test_voices": sorted(test_voices),
    }


def print_stats(stats: dict) -> None:
    print(f"dataset   {stats['folder']}")
    b = stats["build"]
    print(f"built     from {b['source']} (seed {b['seed']}, limit {b['limit']}) at commit {b['git_commit']}")
    print(f"motions   {stats['motions']} clips, {stats['items']} items with mirrors: {stats['items_per_split']}")
    if "captions" in stats:
        c = stats["captions"]
        print(f"captions  {c['total']} in all; distinct per register {c['distinct_per_register']}")
        print(f"          distinct words per register {c['distinct_words_per_register']}")
        fewest = c["min_distinct_per_content_style_register"]
        print(f"          fewest distinct per (content, style, register): {fewest} at {c['fewest_at']}")
    if "speech" in stats:
        s = stats["speech"]
        print(f"speech    {sum(s['utterances'].values())} utterances, {s['hours_total']} h: {s['hours']}")
        voices = f"{s['voices_total']} ({s['test_only_voices']} test-only)"
        print(f"          voices {voices}, per split {s['voices_per_split']}")
        print(f"          test voices {s['test_voices']}; shared speakers {s['shared_train_test_speakers'] or 'none'}")
    if "video" in stats:
        v = stats["video"]
        print(f"video     {v['items']} items rendered, {v['bytes'] / 2**20:.1f} MiB")
    asr = stats.get("asr")
    if asr:
        print(f"asr       word accuracy on {asr['sample']} test utterances: {asr['word_accuracy']}")
    for stage, seconds in stats["stage_seconds"].items():
        last = stats["stage_seconds_last_run"][stage]
        print(f"stage     {stage:<9} {seconds:>9.1f} s over all runs ({last:.1f} s in the last run)")
