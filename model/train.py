"""Train the model: ``python -m model.train --config model/configs/cpu.yaml [--data DIR] [--run DIR]``.

A run directory is self-describing: ``config.yaml`` (resolved), ``meta.json`` (git commit,
data hash, torch version, start time), ``metrics.csv`` (one row per epoch: losses,
validation R@k), ``checkpoints/last.pt`` and ``checkpoints/best.pt`` (by validation
headline, see ``model.evaluate.headline``). ``--resume`` continues from ``last.pt`` with
the optimiser and random states. AdamW; the learning rate is constant, then decays
linearly to ``lr_end`` (the paper's schedule shape). Several GPUs or processes: run it
under ``torchrun`` (DistributedDataParallel; each rank takes every world-th batch).

A config with a ``finetune`` section (e.g. ``model/configs/robust.yaml``) fine-tunes a trained model
instead (``model.finetune``): it starts from ``finetune.init`` (whose model config it takes), trains only
the encoders in ``finetune.train`` on augmented motion with self-distillation (the student's motion
encoder may start from another run, ``finetune.student``: the teacher stays init's), loads only
``finetune.modalities`` and also validates augmented motion against clean motion. The next batch's
augmentation and features are computed in a second thread while the model trains on the current one.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm import tqdm

from common.files import git_commit, write_atomic
from dataset.splits import data_hash
from model import finetune
from model.config import Config, load_config, read_yaml
from model.data import TEXTS, RetrievalData
from model.evaluate import augmented_retrieval, evaluate, headline
from model.load import load_run, part_columns
from model.modeling import MotionSearchModel


def learning_rate(config: Config, progress: float) -> float:
    t = config.train
    if progress <= t.decay_start:
        return t.lr
    return t.lr + (t.lr_end - t.lr) * (progress - t.decay_start) / max(1e-9, 1 - t.decay_start)


def train(config: Config, run: Path, resume: bool = False) -> dict:
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if distributed:
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu")
    data_folder = Path(config.data)
    torch.manual_seed(config.seed)
    ft = config.finetune
    if ft:
        model = load_run(ft.init_path)[0]
        config.model = model.cfg
        teacher = finetune.freeze(model, ft).to(device)
        if ft.student_path:  # e.g. more epochs of a pose encoder, still taught by the library's motion encoder
            model.encoders["motion"].load_state_dict(load_run(ft.student_path)[0].encoders["motion"].state_dict())
        model = model.to(device)
    else:
        model = MotionSearchModel(config.model, part_columns()).to(device)
    modalities = ft.modalities if ft else config.model.modalities
    train_data = RetrievalData(data_folder, "train", modalities, config.model.max_frames)
    val_data = RetrievalData(data_folder, "val", modalities, config.model.max_frames)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=config.train.lr, weight_decay=config.train.weight_decay)
    rng = random.Random(config.seed)
    start_epoch, best = 0, float("-inf")
    checkpoints = run / "checkpoints"
    if resume and (checkpoints / "last.pt").exists():
        state = torch.load(checkpoints / "last.pt", map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch, best = state["epoch"] + 1, state["best"]
    elif rank == 0:
        run.mkdir(parents=True, exist_ok=True)
        (run / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
        meta = {"git_commit": git_commit(), "data": str(data_folder), "data_hash": data_hash(data_folder),
                "torch": torch.__version__, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "train_items": len(train_data.items), "val_items": len(val_data.items),
                "parameters": sum(p.numel() for p in model.parameters())}  # fmt: skip
        (run / "meta.json").write_text(json.dumps(meta, indent=2))
    net = torch.nn.parallel.DistributedDataParallel(model) if distributed else model

    total_epochs = config.train.epochs
    prefetch = ThreadPoolExecutor(1)
    for epoch in range(start_epoch, total_epochs):
        if ft:
            finetune.set_train_mode(model, ft)
            np_rng = np.random.default_rng([config.seed, epoch])
            load = partial(train_data.augmented_batch, rng=rng, np_rng=np_rng, config=ft.augment,
                           share=ft.augment_share)  # fmt: skip
        else:
            model.train()
            load = partial(train_data.batch, rng=rng)

        batches = train_data.batches(config.train.batch_size, rng)[rank::world][: config.train.limit_batches]
        sums: dict[str, float] = {}
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{total_epochs}", disable=rank != 0)
        pending = prefetch.submit(load, batches[0]) if batches else None
        for step, items in enumerate(bar):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, (epoch + step / max(1, len(batches))) / total_epochs)
            batch = pending.result()
            if step + 1 < len(batches):  # the next batch is made while this one trains
                pending = prefetch.submit(load, batches[step + 1])
            texts = batch.pop(TEXTS, None)
            inputs = {m: (x.to(device), mask.to(device)) for m, (x, mask) in batch.items()}
            positives = train_data.positives(items).to(device)
            if ft:
                instance = ft.caption_positives == "instance"
                by_caption = train_data.positives(items, texts).to(device) if instance else None
                out = finetune.losses(model, teacher, inputs, positives, ft, by_caption)
            else:
                out = net(inputs, positives)
            optimizer.zero_grad(set_to_none=True)
            out["loss"].backward()
            torch.nn.utils.clip_grad_norm_(trained, config.train.grad_clip)
            optimizer.step()
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            bar.set_postfix(loss=f"{sums['loss'] / (step + 1):.3f}")
        if rank != 0:
            continue
        row = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"]}
        row |= {f"train_{k}": round(v / max(1, len(batches)), 5) for k, v in sums.items()}
        if (epoch + 1) % config.train.validate_every == 0 or epoch + 1 == total_epochs:
            results = evaluate(model, val_data, progress=False)
            if ft:
                results |= augmented_retrieval(model, val_data, ft.augment, config.seed)
            row["val_headline"] = round(headline(results), 3)
            for key, r in results.items():
                row[f"val_{key}_R@1"] = r["all_strict"]["R@1"]
                row[f"val_{key}_R@10"] = r["all_strict"]["R@10"]
        _append_csv(run / "metrics.csv", row)
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                 "rng": rng.getstate(), "torch_rng": torch.get_rng_state(), "best": best,
                 "model_config": config.model.to_dict(), "data_hash": data_hash(data_folder)}  # fmt: skip
        if row.get("val_headline", float("-inf")) > best:
            best = state["best"] = row["val_headline"]
            _save(state, checkpoints / "best.pt")
        _save(state, checkpoints / "last.pt")
        print(f"epoch {epoch + 1}: " + ", ".join(f"{k}={v}" for k, v in row.items() if not k.startswith("val_") or
                                                  k == "val_headline"))  # fmt: skip
    if distributed:
        torch.distributed.destroy_process_group()
    return {"best": best, "run": str(run)}


def _save(state: dict, path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomic(path, buffer.getvalue())


def _append_csv(path: Path, row: dict) -> None:
    rows = list(csv.DictReader(path.open())) if path.exists() else []
    rows.append({k: str(v) for k, v in row.items()})
    text = io.StringIO()
    writer = csv.DictWriter(text, list(dict.fromkeys(k for r in rows for k in r)))
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, text.getvalue().encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--data", help="the built dataset folder (python -m dataset build --out)")
    parser.add_argument("--run", type=Path, help="run directory (default runs/NAME-TIMESTAMP)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --run from its last checkpoint")
    parser.add_argument("--init", help="a fine-tune's starting run or release (default: the config's finetune.init)")
    parser.add_argument("--student", help="a fine-tune's starting motion encoder (default: the config's, else init's)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--limit-batches", type=int, help="smoke runs: batches per epoch")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides: dict = {"train": {}}
    if args.data:
        overrides["data"] = args.data
    if args.epochs:
        overrides["train"]["epochs"] = args.epochs
    if args.limit_batches:
        overrides["train"]["limit_batches"] = args.limit_batches
    if args.resume and not args.run:
        parser.error("--resume needs --run")
    for flag, value in (("init", args.init), ("student", args.student)):
        if value:
            if "finetune" not in read_yaml(args.config):
                parser.error(f"--{flag} needs a config with a finetune section")
            overrides.setdefault("finetune", {})[flag] = value
    config = load_config(args.run / "config.yaml" if args.resume else args.config, overrides)
    if not config.data:
        parser.error("--data DIR is required: the dataset folder python -m dataset build --out wrote")
    run = args.run or Path("runs") / f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    result = train(config, run, resume=args.resume)
    print(f"run {result['run']}: best validation headline {result['best']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
