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

``--modalities text,...`` evaluates only those of the model's modalities (a dataset built without
speech or video renders can still score text). ``--token-bits N`` scores every direction a second
time with the motion tokens as an index stores them with N-bit codes (``common.tokens``) and reports
both and their largest difference (``compressed``, ``compressed_max_abs_diff``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from common.tokens import BITS, roundtrip
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
def encode(model: MotionSearchModel, data: RetrievalData, modality: str, view: View, batch: int = 64) -> Tokens:
    """Tokens of every item of ``data`` for one modality, padded to a common length."""
    return concat([model.encode(modality, *data.batch(data.items[i : i + batch], rng=None, view=view)[modality])
                   for i in range(0, len(data.items), batch)])  # fmt: skip


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


def protocols(sim: np.ndarray, data: RetrievalData) -> dict:
    """Metrics of a square query x gallery matrix over the same items in order."""
    items = data.items
    strict = np.eye(len(items), dtype=bool)
    labels = metrics.relevance([data.labels(i) for i in items], [data.labels(i) for i in items]) | strict
    content = metrics.relevance([data.labels(i)[0] for i in items], [data.labels(i)[0] for i in items]) | strict
    out = {
        "all_strict": metrics.summarize(metrics.ranks(sim, strict)),
        "all_labels": metrics.summarize(metrics.ranks(sim, labels)),
        "all_content": metrics.summarize(metrics.ranks(sim, content)),
    }
    if len(items) >= 32:
        out["small_batches_strict"] = metrics.small_batch_metrics(sim, strict, items)
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
             bits: int = 0) -> dict:  # fmt: skip
    """Every direction between motion and the other modalities of ``data``, under every protocol; ``bits``:
    the motion tokens compressed as an index stores them with codes of that width (0: as encoded)."""
    model.eval()
    motion = encode(model, data, "motion", View())
    if bits:
        motion = compressed(motion, bits)
    results = {}
    jobs = [(m, name, view) for m in model.cfg.modalities if m in data.modalities and m != "motion"
            for name, view in VIEWS[m] if not view.noisy or data.has_noisy_speech]  # fmt: skip
    for modality, name, view in tqdm(jobs, desc=f"evaluate {data.split}", disable=not progress):
        other = encode(model, data, modality, view)
        sim = scores(model, other, motion)
        results[f"{modality}->motion/{name}"] = protocols(sim, data)
        results[f"motion->{modality}/{name}"] = protocols(sim.T.copy(), data)
    if cascade:
        results |= asr_cascade(model, data, motion)
    return results


@torch.inference_mode()
def augmented_retrieval(model: MotionSearchModel, data: RetrievalData, config: AugmentConfig, seed: int = 0,
                        batch: int = 64) -> dict:  # fmt: skip
    """``motion(augmented)->motion``: each item's centre crop augmented (seeded) against every clean item."""
    model.eval()
    rng = np.random.default_rng(seed)
    queries = [data.augmented(i, data.crop_start(i, None), rng, config) for i in data.items]
    augmented = concat([model.encode("motion", *pad(queries[i : i + batch], PAD_MULTIPLE["motion"]))
                        for i in range(0, len(queries), batch)])  # fmt: skip
    clean = encode(model, data, "motion", View())
    return {"motion(augmented)->motion": protocols(scores(model, augmented, clean), data)}


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
    modalities = config.model.modalities
    if args.modalities:
        modalities = ["motion"] + [m for m in args.modalities.split(",") if m in modalities and m != "motion"]
    report = {"run": str(args.run), "checkpoint": args.checkpoint, "epoch": state["epoch"],
              "data_hash": state.get("data_hash"), "modalities": modalities, "splits": {}}  # fmt: skip
    for split in [s.strip() for s in args.splits.split(",") if s.strip()]:
        data = RetrievalData(Path(args.data or config.data), split, modalities)
        report["splits"][split] = {"items": len(data.items), "results": evaluate(model, data, cascade=True)}
        if args.augmented:
            report["splits"][split]["results"] |= augmented_retrieval(model, data, AugmentConfig())
        print_table(split, report["splits"][split]["results"])
        if args.token_bits:
            stored = evaluate(model, data, bits=args.token_bits)
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
    print(f"\n{split}: All (strict) | All (same content+style) | small batches of 32")
    for key, r in results.items():
        cells = [" ".join(f"{r[p][k]:6.2f}" for k in ("R@1", "R@5", "R@10")) + f" MedR {r[p]['MedR']:6.1f}"
                 for p in ("all_strict", "all_labels", "small_batches_strict") if p in r]  # fmt: skip
        print(f"  {key:<28} " + " | ".join(cells))


if __name__ == "__main__":
    raise SystemExit(main())
