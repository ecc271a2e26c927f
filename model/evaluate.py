"""Evaluate a training run: retrieval between motion and text, speech and video on the test split.

    python -m model.evaluate RUN_DIR [--checkpoint best] [--split test] [--out FILE]

For each direction (text->motion, motion->text, speech->motion, motion->speech,
video->motion, motion->video) it reports R@1/2/3/5/10 and MedR (``model.metrics``) under
*All* strict pairing, *All* with label relevance (same content and style; same content),
and *Small batches* of 32. Text is evaluated in both registers, speech on the test-only
voices clean and with 10 dB white noise, and the unseen-action probe separately. When
``cache/transcripts.json`` exists (``python -m model.cache --modalities transcripts``),
the ASR cascade (Whisper tiny.en transcript -> text encoder) is scored beside speech. Results
go to ``RUN_DIR/eval.json`` (or ``--out``) with the checkpoint, its epoch and the data hash.

``--augmented`` adds ``motion(augmented)->motion``: every item's centre crop as another capture of it
(``motion.augment.augment`` with its default mix, seed 0) searched among the clean items.

Also: every protocol macro-averaged over the query contents (``*_macro``) and, for
queries against motion, per content (``per_content``); where the dataset has held-out kinematic captions
(``dataset.captions``: test and unseen items), strict text->motion with them as queries (``kinematic_heldout`` per
split: instance-level, in phrasings training never saw); and with the ``unseen`` split, the unseen-action probe
ranked against the whole test library (``probe_in_test_library``: unseen queries, test + unseen gallery).

``--modalities text,...`` evaluates only those of the model's modalities (a dataset built without
speech or video renders can still score text). ``--token-bits N`` scores every direction a second
time with the motion tokens as an index stores them with N-bit codes (``common.tokens``) and reports
both and their largest difference (``compressed``, ``compressed_max_abs_diff``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from common.files import git_commit
from common.tokens import BITS, roundtrip
from dataset.annotations import KINEMATIC_HELDOUT
from model import metrics
from model.data import PAD_MULTIPLE, RetrievalData, View, pad
from model.load import load_run
from model.modeling import MotionSearchModel, Tokens
from motion.augment import AugmentConfig

VIEWS = {
    "text": [("descriptive", View("descriptive")), ("spoken", View("spoken"))],
    "speech": [("clean", View("spoken")), ("noisy-10dB", View("spoken", noisy=True))],
    "video": [("rendered", View())],
}


@torch.inference_mode()
def encode(model: MotionSearchModel, data: RetrievalData, modality: str, view: View, batch: int = 64,
           items: list[str] | None = None) -> Tokens:  # fmt: skip
    """Tokens of ``items`` (default: every item of ``data``) for one modality, padded to a common length."""
    items = data.items if items is None else items
    return concat([model.encode(modality, *data.batch(items[i : i + batch], rng=None, view=view)[modality])
                   for i in range(0, len(items), batch)])  # fmt: skip


def concat(parts: list[Tokens]) -> Tokens:
    """Batches of tokens as one, padded to the longest."""
    length = max(p.x.shape[1] for p in parts)

    def cat(name: str, fill) -> torch.Tensor:
        return torch.cat([torch.nn.functional.pad(getattr(p, name), _pad_spec(p, name, length), value=fill)
                          for p in parts])  # fmt: skip

    return Tokens(cat("x", 0.0), cat("mask", False), cat("weights", 0.0))


def _pad_spec(tokens: Tokens, name: str, length: int) -> tuple[int, ...]:
    missing = length - tokens.x.shape[1]
    return (0, 0, 0, missing) if name == "x" else (0, missing)


@torch.inference_mode()
def scores(model: MotionSearchModel, queries: Tokens, gallery: Tokens, chunk: int = 256) -> np.ndarray:
    rows = [model.similarity(_rows(queries, i, chunk), gallery).numpy() for i in range(0, len(queries.x), chunk)]
    return np.concatenate(rows)


def _rows(tokens: Tokens, start: int, chunk: int) -> Tokens:
    s = slice(start, start + chunk)
    return Tokens(tokens.x[s], tokens.mask[s], tokens.weights[s])


def protocols(sim: np.ndarray, data: RetrievalData, queries: list[str] | None = None, breakdown: bool = False) -> dict:
    """Metrics of a query x gallery matrix: the gallery is ``data.items`` in order, the queries ``queries`` (default
    the same items, a square matrix). ``*_macro``: R@k per query content averaged over the contents;
    ``breakdown`` adds ``per_content`` (content relevance, per query content)."""
    gallery = data.items
    square = queries is None
    queries = gallery if queries is None else queries
    strict = metrics.relevance(queries, gallery)
    labels = metrics.relevance([data.labels(i) for i in queries], [data.labels(i) for i in gallery]) | strict
    contents = [data.labels(i)[0] for i in queries]
    content = metrics.relevance(contents, [data.labels(i)[0] for i in gallery]) | strict
    label_ranks, content_ranks = metrics.ranks(sim, labels), metrics.ranks(sim, content)
    out = {
        "all_strict": metrics.summarize(metrics.ranks(sim, strict)),
        "all_labels": metrics.summarize(label_ranks),
        "all_content": metrics.summarize(content_ranks),
        "all_labels_macro": metrics.macro_summary(label_ranks, contents),
        "all_content_macro": metrics.macro_summary(content_ranks, contents),
    }
    if square and len(gallery) >= 32:
        out["small_batches_strict"] = metrics.small_batch_metrics(sim, strict, gallery)
    if breakdown:
        out["per_content"] = metrics.per_group(content_ranks, contents)
    return out


@torch.inference_mode()
def encode_texts(model: MotionSearchModel, texts: list[str], batch: int = 128) -> Tokens:
    """Raw strings through the frozen text backbone and the model's text encoder (the ASR cascade)."""
    from model.backbones import TextBackbone
    from model.data import pad

    backbone = TextBackbone()
    states = [s for i in range(0, len(texts), batch) for s in backbone([t or "." for t in texts[i : i + batch]])]
    return model.encode("text", *pad(states))


def asr_cascade(model: MotionSearchModel, data: RetrievalData, motion: Tokens) -> dict:
    """Speech -> Whisper tiny.en transcript -> text encoder, against motion (a baseline the paper does not try)."""
    path = data.folder / "cache" / "transcripts.json"
    if "text" not in model.cfg.modalities or not path.exists():
        return {}
    heard = json.loads(path.read_text())
    results = {}
    for name, view in VIEWS["speech"]:
        if view.noisy and not data.has_noisy_speech:
            continue
        keys = [data.utterance(item, None, view) for item in data.items]
        if not all(k in heard for k in keys):
            continue
        sim = scores(model, encode_texts(model, [heard[k] for k in keys]), motion)
        results[f"speech(asr)->motion/{name}"] = protocols(sim, data)
    return results


def compressed(tokens: Tokens, bits: int = BITS) -> Tokens:
    """Motion tokens as an index stores them: ``bits``-bit codes and a scale per token (``common.tokens``)."""
    return Tokens(torch.from_numpy(roundtrip(tokens.x.numpy(), bits)), tokens.mask, tokens.weights)


def evaluate(model: MotionSearchModel, data: RetrievalData, progress: bool = True, cascade: bool = False,
             bits: int = 0, motion: Tokens | None = None) -> dict:  # fmt: skip
    """Every direction between motion and the other modalities of ``data``, under every protocol; ``bits``:
    the motion tokens compressed as an index stores them with codes of that width (0: as encoded); ``motion``:
    the items' motion tokens when already encoded."""
    model.eval()
    motion = encode(model, data, "motion", View()) if motion is None else motion
    if bits:
        motion = compressed(motion, bits)
    results = {}
    jobs = _jobs(model, data)
    for modality, name, view in tqdm(jobs, desc=f"evaluate {data.split}", disable=not progress):
        other = encode(model, data, modality, view)
        sim = scores(model, other, motion)
        results[f"{modality}->motion/{name}"] = protocols(sim, data, breakdown=True)
        results[f"motion->{modality}/{name}"] = protocols(sim.T.copy(), data)
    if cascade:
        results |= asr_cascade(model, data, motion)
    return results


@torch.inference_mode()
def augmented_retrieval(model: MotionSearchModel, data: RetrievalData, config: AugmentConfig, seed: int = 0,
                        batch: int = 64, clean: Tokens | None = None) -> dict:  # fmt: skip
    """``motion(augmented)->motion``: each item's centre crop augmented (seeded) against every clean item
    (``clean``: their tokens when already encoded)."""
    model.eval()
    rng = np.random.default_rng(seed)
    queries = [data.augmented(i, data.crop_start(i, None), rng, config) for i in data.items]
    augmented = concat([model.encode("motion", *pad(queries[i : i + batch], PAD_MULTIPLE["motion"]))
                        for i in range(0, len(queries), batch)])  # fmt: skip
    clean = encode(model, data, "motion", View()) if clean is None else clean
    return {"motion(augmented)->motion": protocols(scores(model, augmented, clean), data)}


def heldout_kinematic(model: MotionSearchModel, data: RetrievalData, motion: Tokens | None = None) -> dict:
    """Text -> motion with each item's first held-out kinematic caption (``kinematic-heldout``: what this motion
    does, in phrasings no training caption uses) as the query, against every item of ``data`` (``motion``: their
    tokens when already encoded); items without one are not queried. Empty when the dataset has none (built
    before kinds, or a training split)."""
    if "text" not in model.cfg.modalities or "text" not in data.modalities:
        return {}
    results = {}
    for register, _ in VIEWS["text"]:
        queries = [i for i in data.items if data.annotations[i].texts(register, (KINEMATIC_HELDOUT,))]
        if not queries:
            continue
        motion = encode(model, data, "motion", View()) if motion is None else motion
        view = View(register, kind=KINEMATIC_HELDOUT)
        sim = scores(model, encode(model, data, "text", view, items=queries), motion)
        results[f"text->motion/{register}"] = {"queries": len(queries)} | protocols(sim, data, queries)
    return results


def probe_in_library(model: MotionSearchModel, folder: Path, modalities: list[str]) -> dict:
    """The unseen-action probe ranked against the whole test library: queries are the ``unseen`` items, the
    gallery every ``test`` and ``unseen`` motion (label captions, the first utterance, the video)."""
    library = RetrievalData(folder, "test+unseen", modalities)
    queries = RetrievalData(folder, "unseen", modalities).items
    motion = encode(model, library, "motion", View())
    results = {}
    for modality, name, view in _jobs(model, library):
        sim = scores(model, encode(model, library, modality, view, items=queries), motion)
        results[f"{modality}->motion/{name}"] = protocols(sim, library, queries, breakdown=True)
    return {"queries": len(queries), "gallery": len(library.items), "results": results}


def _jobs(model: MotionSearchModel, data: RetrievalData) -> list[tuple[str, str, View]]:
    """(modality, view name, view) of every non-motion modality both the model and ``data`` have."""
    return [(m, name, view) for m in model.cfg.modalities if m in data.modalities and m != "motion"
            for name, view in VIEWS[m] if not view.noisy or data.has_noisy_speech]  # fmt: skip


def headline(results: dict) -> float:
    """One number to pick the best checkpoint: mean R@1+R@5+R@10 of the strict All protocol."""
    values = [r["all_strict"][k] for r in results.values() for k in ("R@1", "R@5", "R@10")]
    return float(np.mean(values)) if values else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--checkpoint", default="best", help="best or last")
    parser.add_argument("--splits", default="test,unseen")
    parser.add_argument("--data", help="dataset folder (default: the run's)")
    parser.add_argument("--modalities", help="comma-separated subset of the model's modalities (default: all)")
    parser.add_argument(
        "--augmented",
        action="store_true",
        help="also score motion(augmented)->motion (motion.augment, seed 0) against clean motion",
    )
    parser.add_argument("--token-bits", type=int, default=0, help="also score motion tokens stored with 8/16-bit codes")
    parser.add_argument("--out", type=Path, help="default RUN_DIR/eval.json")
    args = parser.parse_args(argv)
    model, config, state = load_run(args.run, args.checkpoint)
    model.eval()
    modalities = config.model.modalities
    if args.modalities:
        modalities = ["motion"] + [m for m in args.modalities.split(",") if m in modalities and m != "motion"]
    report = {"run": str(args.run), "checkpoint": args.checkpoint, "epoch": state["epoch"],
              "data_hash": state.get("data_hash"), "modalities": modalities, "git_commit": git_commit(),
              "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "splits": {}}  # fmt: skip
    for split in [s.strip() for s in args.splits.split(",") if s.strip()]:
        data = RetrievalData(Path(args.data or config.data), split, modalities)
        motion = encode(model, data, "motion", View())  # once per split, for every protocol below
        results = evaluate(model, data, cascade=True, motion=motion)
        report["splits"][split] = {"items": len(data.items), "results": results}
        if args.augmented:
            results |= augmented_retrieval(model, data, AugmentConfig(), clean=motion)
        print_table(split, results)
        heldout = heldout_kinematic(model, data, motion)
        if heldout:
            report["splits"][split]["kinematic_heldout"] = heldout
            print_table(f"{split}, held-out kinematic captions as text queries", heldout)
        if split == "unseen":
            probe = report["probe_in_test_library"] = probe_in_library(model, data.folder, modalities)
            print_table("unseen-action probe against the whole test library", probe["results"])
        if args.token_bits:
            stored = evaluate(model, data, bits=args.token_bits, motion=motion)
            worst = largest_difference(report["splits"][split]["results"], stored)
            report["splits"][split] |= {"token_bits": args.token_bits, "compressed": stored,
                                        "compressed_max_abs_diff": worst}  # fmt: skip
            print(f"{split}, motion tokens with {args.token_bits}-bit codes: largest change of any metric {worst}")
    out = args.out or args.run / "eval.json"
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")
    return 0


def largest_difference(a: dict, b: dict) -> dict:
    """Per metric (R@k in points, MedR in ranks), the largest absolute difference between two results."""
    worst: dict[str, float] = {}
    for key, protocols_ in b.items():
        for protocol, values in protocols_.items():
            for metric, value in values.items():
                if isinstance(value, (int, float)):
                    d = abs(float(value) - float(a[key][protocol][metric]))
                    worst[metric] = round(max(worst.get(metric, 0.0), d), 3)
    return worst


def print_table(split: str, results: dict) -> None:
    print(f"\n{split}: All (strict) | All (same content+style) | small batches of 32 | content macro R@1 R@5")
    for key, r in results.items():
        cells = [" ".join(f"{r[p][k]:6.2f}" for k in ("R@1", "R@5", "R@10")) + f" MedR {r[p]['MedR']:6.1f}"
                 for p in ("all_strict", "all_labels", "small_batches_strict") if p in r]  # fmt: skip
        cells.append(" ".join(f"{r['all_content_macro'][k]:6.2f}" for k in ("R@1", "R@5")))
        print(f"  {key:<28} " + " | ".join(cells))


if __name__ == "__main__":
    raise SystemExit(main())
