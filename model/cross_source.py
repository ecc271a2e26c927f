"""Cross-source protocol: train without one Bandai Namco source, test on it (issue 15, point 5).

    python -m model.cross_source prepare --data DATA --out XS
    python -m model.train --config model/configs/cross-source.yaml --data XS --run runs/cross-source
    python -m model.train --config model/configs/robust.yaml --init runs/cross-source --data XS --run runs/xs-robust
    python -m model.cross_source evaluate --data XS --model cross-source=runs/xs-robust \
        --model cross-source-base=runs/cross-source --model in-distribution=model/weights/default

``prepare`` makes a hard-link copy of a built dataset folder (``python -m dataset build`` and
``python -m model.cache``) whose ``splits/`` hold one source out: every item of ``--source`` (default
``dataset-1``: other performers, another action set), its mirrored copy included, goes to the ``heldout``
split; the other source keeps its train/val/test/unseen. The motion feature statistics are refitted on the new
training items, so nothing of the held-out source reaches training. Files are hard links (never written in
place by training or evaluation); ``splits/`` and ``stats/`` are new files.

``evaluate`` scores a trained model on the held-out source's clips (mirrors left out): text->motion with each
clip's first label caption of each register (and its first held-out kinematic caption, where it has one), ranked
among the held-out clips and in the whole library (held-out clips + the other source's test clips), and
motion->motion (each held-out clip against the others; itself excluded, its mirror is not in the gallery).
It writes ``docs/results/cross-source.json`` (``--out``) with every ``--model NAME=RUN`` (a run directory or a
release) scored on the same queries and galleries: the models trained on the copy, and one that did train on the
source (the shipped one) as the in-distribution reference.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np

from common.files import git_commit, write_atomic
from dataset.annotations import KINEMATIC_HELDOUT, LABEL
from dataset.splits import HELDOUT, SPLITS, read_split_files, source_id
from model import metrics
from model.data import RetrievalData, View
from model.evaluate import VIEWS, encode, protocols, scores
from model.load import load_run, trained_stats
from motion.normalize import FeatureStats

SOURCE = "dataset-1"
OUT = Path("docs") / "results" / "cross-source.json"
REBUILT = ("splits", "stats")  # written anew in the copy; everything else is a hard link


def hold_out(split_of: dict[str, str], source: str = SOURCE) -> dict[str, str]:
    """Item id -> split with every item of ``source`` (and its mirror) in ``heldout``, the others unchanged."""
    return {i: HELDOUT if source_id(i).startswith(source + "_") else s for i, s in split_of.items()}


def prepare(data: Path, out: Path, source: str = SOURCE) -> dict[str, int]:
    """Hard-link copy of the built dataset ``data`` at ``out`` with ``source`` held out; returns items per split."""
    data, out = Path(data), Path(out)
    split_of = read_split_files(data)
    if not split_of:
        raise FileNotFoundError(f"{data} has no splits/: build it with python -m dataset build")
    if out.exists():
        raise FileExistsError(f"{out} exists: remove it or choose another --out")
    splits = hold_out(split_of, source)
    if HELDOUT not in splits.values():
        raise ValueError(f"no item of source {source!r} in {data}")
    shutil.copytree(data, out, copy_function=os.link, ignore=lambda d, names: REBUILT if Path(d) == data else [])
    for name in (*SPLITS, HELDOUT):
        ids = sorted(i for i, s in splits.items() if s == name)
        write_atomic(out / "splits" / f"{name}.txt", "".join(f"{i}\n" for i in ids).encode())
    train = sorted(i for i, s in splits.items() if s == "train")
    stats = FeatureStats.fit(np.load(out / "features" / f"{i}.npy") for i in train)
    (out / "stats").mkdir()
    stats.save(out / "stats" / "feature_mean_std.npz")
    return dict(Counter(splits.values()))


def clips(items: list[str]) -> list[str]:
    """The clips among ``items`` (mirrored copies left out)."""
    return [i for i in items if source_id(i) == i]


def score_model(run: Path, data: Path, checkpoint: str = "best") -> dict:
    """Every protocol of the module docstring for the model of ``run`` (a run directory or a release) on the
    prepared copy ``data``; motion is normalised with the statistics the model was trained with."""
    model, config, state = load_run(run, checkpoint)
    stats = FeatureStats.load(trained_stats(run, Path(config.data) if config.data else None))
    source = RetrievalData(data, HELDOUT, ["motion", "text"])
    library = RetrievalData(data, f"{HELDOUT}+test", ["motion", "text"])
    for d in (source, library):
        d.items, d.stats = clips(d.items), stats
    motion = {"among_source": encode(model, source, "motion", View()),
              "in_library": encode(model, library, "motion", View())}  # fmt: skip
    galleries = {"among_source": source, "in_library": library}
    results: dict = {}
    for register, _ in VIEWS["text"]:
        for kind in (LABEL, KINEMATIC_HELDOUT):
            queries = [i for i in source.items if source.annotations[i].texts(register, (kind,))]
            if not queries:
                continue
            text = encode(model, source, "text", View(register, kind=kind), items=queries)
            results[f"text->motion/{register}/{kind}"] = {"queries": len(queries)} | {
                name: protocols(scores(model, text, motion[name]), gallery, queries, breakdown=name == "among_source")
                for name, gallery in galleries.items()}  # fmt: skip
    results["motion->motion"] = {name: motion_to_motion(scores(model, motion["among_source"], motion[name]), source,
                                                         gallery) for name, gallery in galleries.items()}  # fmt: skip
    return {"run": str(run), "checkpoint": checkpoint if (run / "checkpoints").is_dir() else "release",
            "training": training(run),
            "epoch": state["epoch"] + 1, "data_hash": state.get("data_hash"), "modalities": config.model.modalities,
            "clips": {"source": len(source.items), "library": len(library.items)}, "results": results}  # fmt: skip


def training(run: Path) -> dict:
    """A run directory's training record: its start (``meta.json``), items, epochs and minutes to its last
    checkpoint; empty for a release."""
    meta, last = run / "meta.json", run / "checkpoints" / "last.pt"
    if not (meta.exists() and last.exists()):
        return {}
    record = json.loads(meta.read_text())
    started = datetime.strptime(record["started"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
    epochs = len((run / "metrics.csv").read_text().splitlines()) - 1
    return {k: record[k] for k in ("started", "git_commit", "data_hash", "train_items", "val_items")} | {
        "epochs": epochs, "minutes": round((last.stat().st_mtime - started) / 60, 1)}  # fmt: skip


def motion_to_motion(sim: np.ndarray, queries: RetrievalData, gallery: RetrievalData) -> dict:
    """Content recall of each ``queries`` item's motion among ``gallery``'s (``sim``: their similarities), the
    query itself excluded; a query whose content has no other clip in the gallery is left out and named."""
    itself = metrics.relevance(queries.items, gallery.items)
    contents = [queries.labels(i)[0] for i in queries.items]
    relevant = metrics.relevance(contents, [gallery.labels(i)[0] for i in gallery.items]) & ~itself
    asked = relevant.any(axis=1)
    sim = np.where(itself, -np.inf, sim)
    rank = metrics.ranks(sim[asked], relevant[asked])
    asked_contents = [c for c, a in zip(contents, asked, strict=True) if a]
    return {
        "queries": int(asked.sum()),
        "left_out": sorted(set(contents) - set(asked_contents)),
        "all_content": metrics.summarize(rank),
        "all_content_macro": metrics.macro_summary(rank, asked_contents),
    }


def report(models: dict[str, Path], data: Path, source: str = SOURCE) -> dict:
    """The JSON ``evaluate`` writes: the protocol, the copy's split sizes and every model's results."""
    sizes = dict(Counter(read_split_files(data).values()))
    return {
        "protocol": {
            "source_held_out": source,
            "train": "the other source's train split only (mirrors included); feature statistics refitted on it",
            "queries": f"every {source} clip (mirrors left out); text: its first caption of each register and kind "
            "(label: the caption grammar; kinematic-heldout: phrasings no training caption uses, where the clip has "
            "one)",
            "galleries": {
                "among_source": f"the {source} clips",
                "in_library": f"the {source} clips and the other source's test clips (mirrors left out)",
            },
            "relevance": "all_content: same content; all_labels: same content and style; all_strict: the clip itself",
            "motion->motion": "each clip against the gallery without itself (its mirror is not in it), content "
            "relevance; a content with no other clip in the gallery is not queried",
        },
        "split_sizes": {"items": sizes, "clips": {k: v // 2 for k, v in sizes.items()}},
        "data": str(data),
        "git_commit": git_commit(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "models": {name: score_model(run, data) for name, run in models.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.cross_source", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="hard-link copy of a built dataset with one source held out")
    p.add_argument("--data", type=Path, required=True, help="a built, cached dataset folder")
    p.add_argument("--out", type=Path, required=True, help="the copy (must not exist)")
    p.add_argument("--source", default=SOURCE, help=f"the source to hold out (default {SOURCE})")
    e = sub.add_parser("evaluate", help="score models on the held-out source's clips")
    e.add_argument("--model", action="append", required=True, metavar="NAME=RUN",
                   help="a name and a run directory or release folder (repeatable)")  # fmt: skip
    e.add_argument("--data", type=Path, required=True, help="the copy prepare wrote")
    e.add_argument("--source", default=SOURCE)
    e.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        print(f"{args.out}: items per split {prepare(args.data, args.out, args.source)}")
        return 0
    models = dict(m.split("=", 1) for m in args.model)
    result = report({k: Path(v) for k, v in models.items()}, args.data, args.source)
    write_atomic(args.out, json.dumps(result, indent=1).encode())
    for name, m in result["models"].items():
        for key, r in m["results"].items():
            for gallery in ("among_source", "in_library"):
                c = r[gallery]["all_content"]
                print(f"{name:<16} {key:<40} {gallery:<12} content R@1 {c['R@1']:6.2f} R@5 {c['R@5']:6.2f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
