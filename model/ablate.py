"""Baselines and ablations side by side: same data, same seed, same budget, one table.

    python -m model.ablate --data DIR [--configs cpu,ablation-global,...] [--epochs N] [--out DIR]

Trains every config (default: ``cpu.yaml`` and every ``ablation-*.yaml``) for the same
number of epochs into ``OUT/NAME``, evaluates each on the test split (and the
unseen-action probe), and writes ``OUT/results.json`` and ``OUT/table.md``: R@1/R@5/R@10
under the *All* protocol (strict pairing and label relevance) per direction, one row per variant, with the ASR cascade
as its own row. Finished variants (with ``eval.json``) are skipped, so the command resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from model.config import load_config
from model.data import RetrievalData
from model.evaluate import evaluate
from model.load import load_run
from model.train import train

CONFIGS = Path(__file__).with_name("configs")
COLUMNS = ["text->motion/descriptive", "text->motion/spoken", "motion->text/descriptive", "speech->motion/clean",
           "speech->motion/noisy-10dB", "video->motion/rendered"]  # fmt: skip


def default_configs() -> list[str]:
    return ["cpu"] + sorted(p.stem for p in CONFIGS.glob("ablation-*.yaml"))


def run_variant(name: str, data: str, out: Path, train_overrides: dict) -> dict:
    run = out / name
    if (run / "eval.json").exists():
        return json.loads((run / "eval.json").read_text())
    overrides: dict = {"data": data, "train": train_overrides}
    config = load_config(CONFIGS / f"{name}.yaml", overrides)
    start = time.perf_counter()
    train(config, run, resume=(run / "checkpoints" / "last.pt").exists())
    model, config, state = load_run(run, "best")
    seconds = round(time.perf_counter() - start, 1)
    report = {"name": config.name, "config": name, "epoch": state["epoch"], "train_seconds": seconds, "splits": {}}
    for split in ("test", "unseen"):
        split_data = RetrievalData(Path(data), split, config.model.modalities)
        report["splits"][split] = evaluate(model, split_data, cascade=True)
    (run / "eval.json").write_text(json.dumps(report, indent=1))
    return report


PROTOCOLS = {"all_strict": "strict pairing", "all_labels": "label relevance (same content and style)"}


def table(reports: list[dict], split: str = "test", protocol: str = "all_strict") -> str:
    columns = COLUMNS + ["speech(asr)->motion/clean", "speech(asr)->motion/noisy-10dB"]
    lines = [f"Split `{split}`, *All* protocol, {PROTOCOLS[protocol]}: R@1 / R@5 / R@10 (%). "
             "— = modality not trained.", "",
             "| variant | epochs | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]  # fmt: skip
    for report in reports:
        results = report["splits"][split]
        cells = []
        for column in columns:
            r = results.get(column, {}).get(protocol)
            cells.append(f"{r['R@1']:.1f} / {r['R@5']:.1f} / {r['R@10']:.1f}" if r else "—")
        lines.append(f"| {report['name']} | {report['epoch'] + 1} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.ablate", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--configs", default=",".join(default_configs()))
    parser.add_argument("--epochs", type=int, help="the same budget for every variant (default: each config's)")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--limit-batches", type=int, help="smoke runs: batches per epoch")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=Path("runs") / f"ablations-{time.strftime('%Y%m%d-%H%M%S')}")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    missing = [n for n in names if not (CONFIGS / f"{n}.yaml").exists()]
    if missing:
        parser.error(f"no config(s) {missing} in {CONFIGS}")
    args.out.mkdir(parents=True, exist_ok=True)
    budget = {k: v for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size),
                                 ("limit_batches", args.limit_batches)) if v}  # fmt: skip
    reports = [run_variant(name, args.data, args.out, budget) for name in names]
    (args.out / "results.json").write_text(json.dumps(reports, indent=1))
    text = "\n".join(table(reports, split, p) for split in ("test", "unseen") for p in PROTOCOLS)
    (args.out / "table.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
