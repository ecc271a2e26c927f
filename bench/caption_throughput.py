"""Kinematic captioning throughput (clips/s) on the Bandai Namco clips, and how often each label gets its event.

Per clip, each timed in the same run so the ratio is on one machine:

    load       motion.canonical.load_canonical (BVH parse, rig map, FK, 20 fps, placement)
    detect     motion.kinematic.detect (the measured events)
    phrase     motion.kinematic.generate (8 descriptive + 8 spoken captions)

The same run tabulates, per content label, the fraction of its clips whose
detected events include each column's event (a confusion-style table: the
expected column should be high, the others low), from the clip's name
``dataset-N_{content}_{style}_{id}.bvh``.

    python -m bench.caption_throughput --source DIR [--limit N] [--out FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tqdm import tqdm

from bench.common import add_clip_arguments, sampled_clips, write_result
from motion.canonical import load_canonical
from motion.kinematic import Description, detect, generate


def _has(kind: str, **attrs):
    def test(d: Description) -> bool:
        return any(
            all(getattr(e, k) in (v if isinstance(v, tuple) else (v,)) for k, v in attrs.items()) for e in d.of(kind)
        )

    return test


# column -> predicate over a clip's description
COLUMNS = {
    "walk_fwd": _has("locomotion", gait="walk", direction="forward"),
    "run_fwd": _has("locomotion", gait=("jog", "run", "sprint"), direction="forward"),
    "run_sprint": _has("locomotion", gait=("run", "sprint")),
    "backward": _has("locomotion", direction="backward"),
    "go_left": lambda d: any(
        e.direction == "left" or e.direction == "forward" and e.drift >= 20 for e in d.of("locomotion")
    ),
    "go_right": lambda d: any(
        e.direction == "right" or e.direction == "forward" and e.drift <= -20 for e in d.of("locomotion")
    ),
    "turn_left": lambda d: _has("turn", side="left")(d) or _has("locomotion", path="curve-left")(d),
    "turn_right": lambda d: _has("turn", side="right")(d) or _has("locomotion", path="curve-right")(d),
    "spin": _has("spin"),
    "wave_L": _has("wave", side="left"),
    "wave_R": _has("wave", side="right"),
    "wave_both": _has("wave", side="both"),
    "raise_L": _has("arm_raise", side="left"),
    "raise_R": _has("arm_raise", side="right"),
    "raise_both": _has("arm_raise", side="both"),
    "above_head": _has("arm_raise", level="above_head"),
    "beckon": _has("beckon"),
    "point": _has("point"),
    "punch": _has("punch"),
    "slash": _has("slash"),
    "kick": _has("kick"),
    "bow": _has("bow"),
    "bend": _has("bend"),
    "jump": _has("airborne"),
    "crouch": _has("lower"),
    "dance": _has("dance"),
    "still": _has("still"),
}
# the column(s) a label is expected to hit (any of them)
EXPECTED = {
    "walk": ["walk_fwd"],
    "run": ["run_fwd"],
    "dash": ["run_sprint"],
    "walk-back": ["backward"],
    "walk-left": ["go_left"],
    "walk-right": ["go_right"],
    "walk-turn-left": ["turn_left"],
    "walk-turn-right": ["turn_right"],
    "wave-left-hand": ["wave_L"],
    "wave-right-hand": ["wave_R"],
    "wave-both-hands": ["wave_both"],
    "raise-up-left-hand": ["raise_L"],
    "raise-up-right-hand": ["raise_R"],
    "raise-up-both-hands": ["raise_both"],
    "bow": ["bow"],
    "kick": ["kick"],
    "punch": ["punch"],
    "slash": ["slash"],
    "dance-short": ["dance"],
    "bye": ["wave_L", "wave_R", "wave_both"],
    "byebye": ["wave_L", "wave_R", "wave_both"],
    "call": ["beckon"],
    "guide": ["point"],
}


def label_of(path: Path) -> str:
    parts = path.stem.split("_")
    return parts[1] if len(parts) >= 4 else "?"


def confusion(labelled: list[tuple[str, Description]]) -> dict:
    """Per label: clips, the fraction hitting each column, and the fraction hitting an expected column."""
    table: dict[str, dict] = {}
    for label in sorted({lab for lab, _ in labelled}):
        descs = [d for lab, d in labelled if lab == label]
        row = {col: round(sum(test(d) for d in descs) / len(descs), 3) for col, test in COLUMNS.items()}
        hits = [any(COLUMNS[c](d) for c in EXPECTED.get(label, [])) for d in descs]
        table[label] = {
            "clips": len(descs),
            "expected": EXPECTED.get(label, []),
            "expected_rate": round(sum(hits) / len(descs), 3) if label in EXPECTED else None,
            "rates": row,
        }
    return table


def format_table(table: dict) -> str:
    cols = list(COLUMNS)
    lines = [f"{'label':<20}{'n':>5}{'hit':>6} " + " ".join(f"{c[:6]:>6}" for c in cols)]
    for label, row in table.items():
        hit = "" if row["expected_rate"] is None else f"{row['expected_rate']:.2f}"
        lines.append(f"{label:<20}{row['clips']:>5}{hit:>6} " + " ".join(f"{row['rates'][c]:>6.2f}" for c in cols))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.caption_throughput", description=__doc__.split("\n")[0])
    add_clip_arguments(parser)
    parser.add_argument("--out", type=Path, help="JSON path (default bench/results/caption_throughput.json)")
    args = parser.parse_args(argv)

    clips = sampled_clips(parser, args)

    seconds = dict.fromkeys(("load", "detect", "phrase"), 0.0)
    frames = captions = 0
    labelled = []
    for path in tqdm(clips, desc="bench", unit="clip"):
        t0 = time.perf_counter()
        canon = load_canonical(path)
        t1 = time.perf_counter()
        description = detect(canon.positions, canon.fps)
        t2 = time.perf_counter()
        captions += sum(len(generate(description, 8, reg, seed=0)) for reg in ("descriptive", "spoken"))
        t3 = time.perf_counter()
        seconds["load"] += t1 - t0
        seconds["detect"] += t2 - t1
        seconds["phrase"] += t3 - t2
        frames += canon.n_frames
        labelled.append((label_of(path), description))

    n = len(clips)
    caption = seconds["detect"] + seconds["phrase"]
    table = confusion(labelled)
    result = {
        "source": str(args.source),
        "clips": n,
        "frames_20fps": frames,
        "captions": captions,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "clips_per_s": {k: round(n / v, 1) for k, v in seconds.items()} | {"captioning": round(n / caption, 1)},
        "ratio_captioning_vs_load": round(seconds["load"] / caption, 2),
        "expected_event_rate": {k: v["expected_rate"] for k, v in table.items() if v["expected_rate"] is not None},
        "confusion": table,
    }
    path = write_result("caption_throughput", result, args.out)
    print(format_table(table))
    print(
        f"{n} clips: captioning {result['clips_per_s']['captioning']} clips/s "
        f"({result['ratio_captioning_vs_load']}x loading the clip); {path}"
    )
    return result


if __name__ == "__main__":
    main()
