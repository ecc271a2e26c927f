"""The cross-source protocol as the server ranks it: another source's clips as a user's own library (issue 15).

    python -m bench.cross_source --bundle BUNDLE --data XS [--source DIR] [--library DIR] [--out FILE]

``model.cross_source`` scores the learned model alone, in PyTorch. A user's library is ranked by the server,
which fuses that learned ranking with each clip's metadata (``server.fusion``); a library of clips without
words of their own (numbered takes, a new capture source) is fused at ``server.fusion.WORDLESS`` against what
the kinematic captioner says each body does.

This bench measures that: it indexes, as ``IngestMotions`` does, the clips of the copy ``XS`` that ``python -m
model.cross_source prepare`` wrote (the held-out source's clips and the other source's test clips, read from
``--source``) **without their words** (no labels, description, path words or tags; each in a folder named after
its split), queries with each held-out clip's first caption of each register and kind (its label caption; its
held-out kinematic caption where it has one) from ``XS/annotations.json``, encoded as the server encodes a typed
query, and ranks the clips (mirrors left out) among the held-out source's clips (the folder filter) and in the
whole library: the learned ranking alone, the metadata alone and fused as the server fuses this library. A hit
is a clip of the query clip's content; top-1 and top-5 per query, and per content.

``BUNDLE`` must hold a model trained on ``XS`` (``python -m exporter --run runs/cross-source``: its data hash is
the copy's), else the learned ranking has trained on the held-out clips and the bench refuses it;
``--in-distribution`` scores such a bundle anyway, as the reference. Results go to
``bench/results/cross_source.json``.
"""

from __future__ import annotations

import argparse
import os
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from bench.common import write_result
from dataset.annotations import KINEMATIC_HELDOUT, LABEL, load_annotations
from dataset.splits import HELDOUT, data_hash, read_split_files, source_id
from exporter.bundle import Bundle
from motion.sources import ClipMetadata
from preprocess.captions import REGISTERS
from server.encoders import Encoders
from server.fusion import WORDLESS, Fusion
from server.index import SearchFilter
from server.serve import ROOT, open_library, source_clips

# as bench.fusion ranks them: no fusion is the learned ranking alone (the index skips the metadata stage)
RANKINGS = {"learned": None, "metadata": Fusion("rrf", 1.0), "fused": WORDLESS}
TOP = 5


def gallery_clips(data: Path) -> dict[str, str]:
    """Clip id -> split, for the clips the bench indexes: the held-out source's and the other source's test
    clips of the prepared copy ``data`` (mirrored items left out: the library makes its own mirrors)."""
    split_of = read_split_files(data)
    if HELDOUT not in split_of.values():
        raise SystemExit(f"{data} holds no source out: make it with python -m model.cross_source prepare")
    return {i: s for i, s in split_of.items() if s in (HELDOUT, "test") and source_id(i) == i}


def summary(hits: list[int], contents: list[str]) -> dict:
    """Top-1/top-5 content accuracy (%) of queries whose first hit of their content was at ``hits`` (1-based,
    0: not in the top 5), over all queries and averaged per content."""
    ranks = np.array(hits)
    found = {k: (ranks >= 1) & (ranks <= k) for k in (1, TOP)}
    per: dict[str, list[int]] = defaultdict(list)
    for i, content in enumerate(contents):
        per[content].append(i)
    return {
        "queries": len(hits),
        "top1": round(100 * float(found[1].mean()), 1),
        "top5": round(100 * float(found[TOP].mean()), 1),
        "top5_macro": round(100 * float(np.mean([found[TOP][ix].mean() for ix in per.values()])), 1),
        "top5_per_content": {c: round(100 * float(found[TOP][ix].mean()), 1) for c, ix in sorted(per.items())},
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.cross_source", description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, required=True, help="a bundle exported from a run trained on --data")
    parser.add_argument("--data", type=Path, required=True, help="the copy python -m model.cross_source prepare wrote")
    parser.add_argument("--source", type=Path, default=os.environ.get("MOTIONSEARCH_DATASET"),
                        help="the Bandai Namco folder (default $MOTIONSEARCH_DATASET)")  # fmt: skip
    parser.add_argument("--library", type=Path, default=ROOT / "build" / "library-cross-source")
    parser.add_argument("--in-distribution", action="store_true", help="score a bundle not trained on --data")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.source is None:
        parser.error("--source (or $MOTIONSEARCH_DATASET) is required: the Bandai Namco folder")
    threadpool_limits(1, user_api="blas")  # as the server runs its index products (server.serve.build_server)
    bundle = Bundle.load(args.bundle)
    trained_on, copy = bundle.model.get("data_hash"), data_hash(args.data)
    if trained_on != copy and not args.in_distribution:
        parser.error(f"{args.bundle}'s model trained on data {trained_on}, not on {args.data} ({copy}): export a run "
                     "trained on the copy, or pass --in-distribution to score it as the reference")  # fmt: skip

    wanted = gallery_clips(args.data)
    clips = [c for c in source_clips(args.source)[0] if c.id in wanted]
    if len(clips) != len(wanted):
        raise SystemExit(f"{args.source} lacks {len(wanted) - len(clips)} of the copy's clips")
    content_of = {c.id: c.metadata.content for c in clips}
    # numbered takes: no words of their own; each lies in a folder named after its split, for the folder filter
    numbered = [replace(c, metadata=ClipMetadata(source=c.metadata.source, source_folder=wanted[c.id])) for c in clips]
    encoders = Encoders.open(bundle.path)
    library = open_library(bundle, encoders, args.library, None)
    if library.ingest(numbered).added:
        library.index.optimize()
    if not (library.has_metadata and library.wordless):
        raise SystemExit(f"the library at {library.folder} is not a library without words: remove it")

    galleries = {"among_source": SearchFilter(include_mirrors=False, folder=HELDOUT),
                 "in_library": SearchFilter(include_mirrors=False)}  # fmt: skip
    annotations = load_annotations(args.data / "annotations.json")
    queried = sorted(i for i, s in wanted.items() if s == HELDOUT)
    results: dict[str, dict] = {}
    for register in REGISTERS:
        for kind in (LABEL, KINEMATIC_HELDOUT):
            queries = [(i, texts[0]) for i in queried if (texts := annotations[i].texts(register, (kind,)))]
            if not queries:
                continue
            encoded = [encoders.encode_query(text) for _, text in queries]
            contents = [content_of[i] for i, _ in queries]
            table: dict[str, dict] = {}
            for gallery, flt in galleries.items():
                for name, fusion in RANKINGS.items():
                    hits = []
                    for (item, meta), content in zip(encoded, contents):
                        found = [content_of[h.id] for h in library.index.search(*item, top_k=TOP, filter=flt,
                                                                                 meta=meta, fusion=fusion)]  # fmt: skip
                        hits.append(found.index(content) + 1 if content in found else 0)
                    table.setdefault(gallery, {})[name] = summary(hits, contents)
            results[f"text->motion/{register}/{kind}"] = {"examples": queries[:3]} | table

    result = {
        "protocol": {
            "data": str(args.data),
            "data_hash": copy,
            "library": "the held-out source's clips and the other source's test clips, indexed without their words "
            "(numbered takes), mirrors left out of the ranking",
            "clips": {"among_source": len(queried), "in_library": len(wanted)},
            "queries": "each held-out clip's first caption of each register and kind",
            "hit": "a clip of the query clip's content",
            "fused": f"server.fusion.WORDLESS {WORDLESS}",
        },
        "bundle": {
            "path": str(args.bundle),
            "digest": bundle.digest,
            "model": bundle.model["name"],
            "data_hash": trained_on,
            "trained_on_copy": trained_on == copy,
        },
        "results": results,
    }
    path = write_result("cross_source", result, args.out)
    for key, table in results.items():
        for gallery in galleries:
            line = ", ".join(f"{n} top1 {s['top1']} top5 {s['top5']}" for n, s in table[gallery].items())
            print(f"{key:<40} {gallery:<12} {line}")
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
