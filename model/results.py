"""Regenerate ``docs/RESULTS.md`` from recorded runs: ``python -m model.results --ablations DIR``.

``python -m model.results --sections`` rewrites only the page's last part, *Beyond the test split*: the
bars of the open issues against the recorded benchmark and evaluation files (``bench/results``,
``docs/results``), each row naming its file, commit and protocol, "not measured" where a file is missing.
The full regeneration writes the same part at the end.

``DIR`` is the output of ``python -m model.ablate`` (one run folder per variant, each with
``eval.json``); the variant named ``cpu`` (the paper's design on the CPU budget) is the reference
every ablation changes one thing of, and the shipped model (``model/weights/default``, chosen by
``python -m model.release``'s rule) gets the full tables. Every number in the page
comes from those files, with the protocol, split, checkpoint epoch, data hash and git
commit beside it; the closing comparisons are computed, not written by hand.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path

from model.ablate import PROTOCOLS, table
from model.release import CROSS_SOURCE_TEXT, DEFAULT, FREE_FORM, SCORED, lookup

DIRECTIONS = ["text->motion/descriptive", "text->motion/spoken", "motion->text/descriptive", "motion->text/spoken",
              "speech->motion/clean", "speech->motion/noisy-10dB", "speech(asr)->motion/clean",
              "speech(asr)->motion/noisy-10dB", "motion->speech/clean", "video->motion/rendered",
              "motion->video/rendered"]  # fmt: skip


def load_reports(folder: Path) -> dict[str, dict]:
    """variant config name -> its eval.json plus meta.json and metrics.csv of the run."""
    reports = {}
    for eval_json in sorted(folder.glob("*/eval.json")):
        run = eval_json.parent
        report = json.loads(eval_json.read_text())
        report["meta"] = json.loads((run / "meta.json").read_text())
        report["curve"] = list(csv.DictReader((run / "metrics.csv").open()))
        reports[report["config"]] = report
    if "cpu" not in reports:
        raise FileNotFoundError(f"{folder} has no finished 'cpu' variant (run python -m model.ablate first)")
    return reports


def full_table(results: dict) -> str:
    head = ("| direction | strict R@1 | R@2 | R@3 | R@5 | R@10 | MedR | labels R@1 | R@5 | R@10 | MedR "
            "| content R@1 | batches of 32 R@1 | R@5 | R@10 |")  # fmt: skip
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for key in DIRECTIONS:
        if key not in results:
            continue
        r = results[key]
        s, lab, con = r["all_strict"], r["all_labels"], r["all_content"]
        small = r.get("small_batches_strict", {})
        cells = [s[k] for k in ("R@1", "R@2", "R@3", "R@5", "R@10")] + [s["MedR"]]
        cells += [lab[k] for k in ("R@1", "R@5", "R@10")] + [lab["MedR"], con["R@1"]]
        cells += [small.get(k, float("nan")) for k in ("R@1", "R@5", "R@10")]
        lines.append(f"| {key} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def r1(report: dict, key: str, protocol: str = "all_labels") -> float | None:
    r = report["splits"]["test"].get(key, {}).get(protocol)
    return None if r is None else r["R@1"]


def comparison(label: str, a: tuple[str, float | None], b: tuple[str, float | None], at_least: bool = False) -> str:
    (name_a, x), (name_b, y) = a, b
    if x is None or y is None:
        return f"- {label}: not measured (a variant is missing from the runs)."
    holds = x >= y if at_least else x > y
    verdict = "holds" if holds else "does **not** hold"
    return f"- {label}: {name_a} {x:.1f} vs {name_b} {y:.1f} ({x - y:+.1f} points) — {verdict}."


def findings(reports: dict[str, dict], shipped: str) -> str:
    """The issue's comparisons against the reference (always listed, 'not measured' when a variant is missing),
    the other ablations run, then the shipped model's end-to-end speech against the ASR cascade."""
    default = reports["cpu"]
    checks = [  # (variant, direction, claim, at least as good rather than better, always listed)
        ("global", "text->motion/descriptive", "Sequence-level beats the global-token baseline", False, True),
        ("global", "speech->motion/clean", "Sequence-level beats the global-token baseline", False, True),
        ("three-modal", "text->motion/descriptive", "4-modal at least as good as 3-modal", True, True),
        ("two-modal", "text->motion/descriptive", "4-modal at least as good as 2-modal (text+motion)", True, False),
        ("mean", "text->motion/descriptive", "Max beats mean aggregation", False, False),
        ("no-parts", "text->motion/descriptive", "Body parts beat one motion stream", False, False),
        ("no-recon", "text->motion/descriptive", "The reconstruction loss helps", False, False),
        ("speech-avgpool", "speech->motion/clean", "The memory-retrieval module beats average pooling", False, False),
        ("speech-conv1d", "speech->motion/clean", "The memory-retrieval module beats Conv1D", False, False),
        ("speech-cls", "speech->motion/clean", "The memory-retrieval module beats one CLS token", False, False),
        ("speech-memory-init", "speech->motion/clean", "A small memory initialisation beats std 1", False, False),
    ]
    lines = []
    for variant, key, claim, at_least, always in checks:
        report = reports.get(f"ablation-{variant}")
        if report or always:
            label = f"{claim}, {key.split('/')[0]} R@1 (label relevance)"
            other = r1(report, key) if report else None
            lines.append(comparison(label, ("reference", r1(default, key)), (variant, other), at_least))
    if shipped != "cpu":  # the three comparisons again, for the model users get (two changes from global)
        for variant, key, claim, at_least, _ in checks[:3]:
            other = reports.get(f"ablation-{variant}")
            lines.append(comparison(f"{claim} — shipped `{shipped}`, {key.split('/')[0]} R@1 (label relevance)",
                                    ("shipped", r1(reports[shipped], key)),
                                    (variant, r1(other, key) if other else None), at_least))  # fmt: skip
    for noise in ("clean", "noisy-10dB"):
        lines.append(comparison(f"Speech end to end ({shipped}, shipped) against the ASR cascade ({noise}), R@1 "
                                "(label relevance)", ("speech", r1(reports[shipped], f"speech->motion/{noise}")),
                                ("ASR cascade", r1(reports[shipped], f"speech(asr)->motion/{noise}"))))  # fmt: skip
    return "\n".join(lines)


def runs_and_gaps(reports: dict[str, dict]) -> str:
    """Which variants ran (epochs, minutes, parameters) and which configs of model/configs did not."""
    lines = ["| variant | epochs | training minutes | trained parameters | best epoch | data hash | commit |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name in ["cpu"] + sorted(n for n in reports if n != "cpu"):
        r, meta = reports[name], reports[name]["meta"]
        lines.append(f"| {name} | {len(r['curve'])} | {r['train_seconds'] / 60:.0f} | {meta['parameters']:,} "
                     f"| {r['epoch'] + 1} | `{meta['data_hash']}` | `{meta['git_commit'][:7]}` |")  # fmt: skip
    configs = sorted(p.stem for p in (Path(__file__).parent / "configs").glob("ablation-*.yaml"))
    missing = [c for c in configs if c not in reports]
    lines += [
        "",
        "Variants run side by side on the same data, split, seed and CPU budget (the reference config `cpu` "
        "with one change each). Runs stopped part-way (for memory, when three trained at once) resumed from "
        "their last checkpoint (their minutes count the resumed part only). The data hash covers the splits, "
        "annotations, speech manifest and the feature-cache manifest, which also lists the test-split ASR "
        "transcripts the cascade reads: runs hashed before those were cached differ in it alone. "
        + (
            f"Not run in this budget (configs ready, `python -m model.ablate "
            f"--configs {','.join(missing)}`): {', '.join(missing)}."
            if missing
            else "Every ablation config ran."
        ),
    ]
    return "\n".join(lines) + "\n"


SPEECH_VARIANTS = {  # what each run changes for speech, in words
    "cpu": "memory-retrieval compression to 8 tokens, Eq. 8 (the paper's design, the reference)",
    "ablation-global": "one pooled token per modality, symmetric InfoNCE",
    "ablation-speech-avgpool": "average pooling instead of the memory module",
    "ablation-speech-memory-init": "the memory module with keys and values initialised at std 1, not 0.02",
    "ablation-speech-conv1d": "a strided Conv1D instead of the memory module",
    "ablation-speech-cls": "a single CLS token instead of the memory module",
    "ablation-mean": "mean instead of max aggregation",
    "ablation-no-recon": "no masked reconstruction loss",
    "ablation-no-parts": "one motion stream instead of 8 body parts",
}


def _headlines(report: dict) -> list[float]:
    return [float(r["val_headline"]) for r in report["curve"] if r.get("val_headline")]


def _still_rising(report: dict) -> bool:
    headline = _headlines(report)
    return all(b > a for a, b in zip(headline, headline[1:]))


def reading(reports: dict[str, dict], shipped: str) -> str:
    """What was tried for the comparisons that fail, and what the recorded curves say, computed from the runs."""
    default = reports["cpu"]
    headline = _headlines(default)
    rising = _still_rising(default)
    still = [n for n, r in reports.items() if _still_rising(r)]
    lines = [
        f"- The reference was {'still improving' if rising else 'no longer improving every epoch'} when its "
        f"budget ended: validation headline {headline[0]:.1f} after epoch 1, {headline[-1]:.1f} after epoch "
        f"{len(headline)}{', higher after every epoch' if rising else ''}; {len(still)} of the {len(reports)} "
        "variants' headlines rose at every epoch. Comparisons between models stopped before convergence "
        "can change with a longer schedule, small ones most of all.",
    ]
    for name in dict.fromkeys(["cpu", shipped]):
        first, last = reports[name]["curve"][0], reports[name]["curve"][-1]
        if "train_motion-speech" in first:
            speech = [float(first["train_motion-speech"]), float(last["train_motion-speech"])]
            text = [float(first["train_motion-text"]), float(last["train_motion-text"])]
            lines.append(
                f"- `{name}`: the speech-motion training loss went {speech[0]:.2f} -> {speech[1]:.2f} "
                f"({100 * (speech[1] / speech[0] - 1):+.0f}%), text-motion {text[0]:.2f} -> {text[1]:.2f} "
                f"({100 * (text[1] / text[0] - 1):+.0f}%) over the same epochs."
            )
    tried = [(name, what, r1(reports[name], "speech->motion/clean"))
             for name, what in SPEECH_VARIANTS.items() if name in reports]  # fmt: skip
    tried = [t for t in tried if t[2] is not None]
    asr = r1(default, "speech(asr)->motion/clean")
    lines.append(
        "- Tried for speech -> motion (clean, R@1 with label relevance), same data and budget: "
        + "; ".join(f"{what} {value:.1f}" for _, what, value in tried)
        + (f"; the ASR cascade beside them (Whisper tiny.en transcript -> the text encoder) {asr:.1f}." if asr else ".")
    )
    text, speech = "text->motion/descriptive", "speech->motion/clean"
    by_speech = {True: [], False: []}  # does the variant train speech -> (name, text R@1)
    for report in [default] + [r for n, r in sorted(reports.items()) if n != "cpu"]:
        if r1(report, text) is not None:
            by_speech[r1(report, speech) is not None].append((report["name"], r1(report, text)))
    if by_speech[True] and by_speech[False]:
        best = {k: max(v for _, v in pairs) for k, pairs in by_speech.items()}
        reaches = best[True] >= best[False]
        gap = "" if reaches else ("; the speech pairs add three loss terms over the same motion encoder, and whether "
                                  "a longer schedule closes the gap was not tested")  # fmt: skip
        lines.append(
            "- Text -> motion R@1 (label relevance) of every variant trained with speech: "
            + ", ".join(f"{n} {v:.1f}" for n, v in by_speech[True])
            + "; without speech: "
            + ", ".join(f"{n} {v:.1f}" for n, v in by_speech[False])
            + f". The best with speech ({best[True]:.1f}) {'reaches' if reaches else 'stays below'} the best "
            f"without ({best[False]:.1f}) in this budget{gap}."
        )
    if shipped != "cpu":
        mine, theirs = _headlines(reports[shipped])[-1], headline[-1]
        lines.append(
            f"- Shipped: `{shipped}`, by the release rule (mean R@1 with label relevance of "
            f"{' and '.join(SCORED)} on the test split, `python -m model.release`); its validation headline "
            f"after the last epoch was {mine:.1f} against the reference's {theirs:.1f}"
            + (", so validation picks it too." if mine > theirs else ": validation would not have picked it.")
        )
    lines.append(
        "- Not tried here: training past the CPU budget (`model/configs/paper.yaml`, the paper-size model, is "
        "for a GPU and none was available) and a larger speech backbone (Whisper base is not wired in). The "
        "server's speech search is the end-to-end model measured above, not the cascade."
    )
    return "\n".join(lines)


def curve(report: dict) -> str:
    rows = report["curve"]
    lines = ["| epoch | train loss | validation headline |", "|---|---|---|"]
    lines += [f"| {r['epoch']} | {float(r['train_loss']):.3f} | {r.get('val_headline', '')} |" for r in rows]
    return "\n".join(lines) + "\n"


def render(folder: Path, shipped: str) -> str:
    reports = load_reports(folder)
    if shipped not in reports:
        raise FileNotFoundError(f"{folder} has no run of the shipped model {shipped!r}")
    default = reports[shipped]
    meta = default["meta"]
    variants = [reports[name] for name in ["cpu"] + sorted(n for n in reports if n != "cpu")]
    epochs = len(default["curve"])
    out = [
        "# Results",
        "",
        f"Generated by `python -m model.results --ablations {folder}` on {time.strftime('%Y-%m-%d')} from the "
        f"recorded runs in that folder; do not edit by hand.",
        "",
        f"- Shipped model (`model/weights/default`): run `{shipped}`, config `model/configs/{shipped}.yaml`, "
        f"{meta['parameters']:,} trained parameters, "
        f"{epochs} epochs on 2 CPU cores in {default['train_seconds'] / 60:.0f} min; checkpoint `best` "
        f"(epoch {default['epoch'] + 1}, by validation headline).",
        f"- Code: git commit `{meta['git_commit']}`; data hash `{meta['data_hash']}` "
        f"({meta['train_items']} training items, {meta['val_items']} validation items).",
        "- Protocols: *All* ranks every test item against every other (strict: only the paired item is relevant; "
        "labels: any item with the same content and style label counts; content: the same content label); "
        "*batches of 32*: sorted ids, seeded shuffle, averaged over batches. Ties share the average rank. "
        "Text queries are each item's first caption of a register; speech queries are utterances of the "
        "five test-only voices, clean and with white noise at 10 dB SNR; the ASR cascade transcribes the "
        "same audio with Whisper tiny.en and encodes the transcript with the text encoder.",
        "",
        "## Shipped model, test split",
        "",
        "R@k in %, MedR in ranks.",
        "",
        full_table(default["splits"]["test"]),
        "## Shipped model, unseen-action probe",
        "",
        "Contents `bow` and `wave-both-hands` are never trained on; retrieval among the probe items only.",
        "",
        full_table(default["splits"]["unseen"]),
        "## Baselines and ablations, same data and budget",
        "",
        *[table(variants, "test", protocol) for protocol in PROTOCOLS],
        "## Runs",
        "",
        runs_and_gaps(reports),
        "## What the numbers say",
        "",
        findings(reports, shipped),
        "",
        "## What was tried, and what the runs suggest",
        "",
        reading(reports, shipped),
        "",
        "## Training curve of the shipped model",
        "",
        curve(default),
        sections(),
    ]
    return "\n".join(out)


ROOT = Path(__file__).resolve().parent.parent
SECTIONS = "## Beyond the test split"
BASELINE = "b6dea7c"  # the bars compare with the model shipped at main b6dea7c (model/weights/speech-avgpool)


@dataclass(frozen=True)
class Bar:
    """One quantity measured from recorded JSON files under ROOT for the shipped model and the b6dea7c model
    (None: not measured), and the bar it must meet: ``at_least`` / ``at_most`` a value, ``times`` the b6dea7c
    model's value, or ``within`` so many points below it (below ``reference``, other keys of the same file,
    when given)."""

    label: str
    keys: tuple[str, ...]  # path into the JSON; the last may be "a|b|c" (the largest of those)
    shipped: str | None
    baseline: str | None
    protocol: str
    at_least: float | None = None
    at_most: float | None = None
    times: float | None = None
    within: float | None = None
    reference: tuple[str, ...] | None = None
    baseline_keys: tuple[str, ...] | None = None  # where the b6dea7c file keeps it, when not at ``keys``

    def limit(self, baseline: float | None) -> tuple[str, float | None, bool]:
        """(the bar in words, its threshold, whether higher is better); ``baseline``: the b6dea7c model's value
        (or the reference's)."""
        if self.at_least is not None:
            return f"≥ {self.at_least:g}", self.at_least, True
        if self.at_most is not None:
            return f"≤ {self.at_most:g}", self.at_most, False
        if self.times is not None:
            value = None if baseline is None else self.times * baseline
            return f"≥ {self.times:g} × {BASELINE}" + (f" = {value:.1f}" if value is not None else ""), value, True
        if self.within is not None:
            value = None if baseline is None else baseline - self.within
            whose = "original" if self.reference else BASELINE
            return f"≥ {whose} − {self.within:g}" + (f" = {value:.1f}" if value is not None else ""), value, True
        return "—", None, True


FREEFORM = (
    "eval/queries.jsonl test part (210 queries never tuned on: 130 of the first batch, 80 written blind), "
    "whole library, mirrors left out"
)
# (the shipped model's file, the b6dea7c model's)
GENERAL = ("docs/results/generalization-kinematic-text.json", "docs/results/generalization-b6dea7c.json")
# the strict row's queries are the held-out kinematic captions of today's captioner (with manners, 1e6dbff): both
# models scored again on them (python -m model.evaluate RELEASE --modalities motion,text --splits test)
STRICT = ("docs/results/strict-manner-shipped.json", "docs/results/strict-manner-b6dea7c.json")
FUSION = ("bench/results/fusion-synonyms.json", "bench/results/fusion.json")
POSE = ("bench/results/video_pose.json", "bench/results/video_pose-b6dea7c-100clips.json")
RIGS = ("docs/results/rig-transfer-kinematic-text.json", "docs/results/rig-transfer.json")
SPOKEN = ("bench/results/spoken-synonyms.json", "bench/results/spoken.json")
TOKENS = ("docs/results/generalization-kinematic-text.json", "docs/results/compressed-tokens-16bit.json")
CROSS = ("docs/results/cross-source-kinematic-text.json", "docs/results/cross-source-b6dea7c.json")
# the same protocol through the server (python -m bench.cross_source): the cross-source model's bundle, and the shipped
# one as the in-distribution reference; the b6dea7c server had no kinematic captions to rank a library without words
SERVED_CROSS = "bench/results/cross_source.json"
SERVED_CROSS_REFERENCE = "bench/results/cross_source-in-distribution.json"
M1 = "bench/results/index_search-1000000.json"  # the index benches score synthetic tokens: no model in them
TEXT_LABEL_R1 = ("text->motion/descriptive", "all_labels", "R@1")
STRICT_R10 = ("splits", "test", "kinematic_heldout", "text->motion/descriptive", "all_strict", "R@10")


def pose_bars(sample: str, files: tuple[str, str | None], protocol: str) -> list[Bar]:
    """The pose path's rows of one ``bench.video_pose`` sample: over the three camera angles, each angle, and
    the spread between them (issue 19's bars)."""
    return [
        Bar(f"Video through body pose, label R@1 ({sample} x 3 camera angles)", ("pose", "all", "label_R@1"),
            *files, protocol, at_least=70.0),
        Bar(f"Video through body pose, content R@5 ({sample} x 3 camera angles)", ("pose", "all", "content_R@5"),
            *files, "as above", at_least=90.0),
        *[Bar(f"Video through body pose, label R@1, {view} view only ({sample})", ("pose", view, "label_R@1"), *files,
              "as above, one camera angle (bar: the three within 10 points of each other)")
          for view in ("front", "side", "diagonal")],
        Bar(f"Video through body pose, label R@1 spread across the three angles, best minus worst ({sample})",
            ("pose", "all", "label_R@1_spread"), *files, "as above", at_most=10.0),
    ]  # fmt: skip


# (sample, (shipped file, b6dea7c file or None), protocol) of each recorded bench.video_pose run
POSE_SAMPLES = [
    ("100 clips", POSE, "rendered test clips from front, side and 45 degrees against the 428 test clips; `python -m "
     "bench.video_pose`; shipped: the bundle's pose encoder (`model/weights/default/pose`, stage 6)"),
    ("100 clips at 480 px", ("bench/results/video_pose-480px.json", None),
     "as above, the frames rendered at 480 px instead of 256 (`--clips 100 --size 480`)"),
    ("whole test split, 428 clips", ("bench/results/video_pose-test-split.json", None),
     "as above, every test clip a query (`--clips 428`)"),
    ("whole test split at 480 px", ("bench/results/video_pose-test-split-480px.json", None),
     "as above, every test clip a query, the frames rendered at 480 px (`--clips 428 --size 480`)"),
    ("whole test split, 428 clips, stage 5", ("bench/results/video_pose-test-split-stage5.json", None),
     "as above, every test clip a query (`--clips 428`), measured with the pose encoder shipped before (stage 5)"),
    *[(f"whole test split at {px} px, stage 5", (f"bench/results/video_pose-test-split-{px}px{tail}.json", None),
       f"as above, every test clip a query, the frames rendered at {px} px (`--clips 428 --size {px}`), stage 5")
      for px, tail in ((160, ""), (480, "-stage5"))],
    ("100 clips at 160 px, stage 5", ("bench/results/video_pose-160px.json", None),
     "as above, the frames rendered at 160 px (`--clips 100 --size 160`), stage 5"),
]  # fmt: skip


# the free-form query set's batches (eval/freeform.py): the first written by the project, the second blind
FREEFORM_BATCHES = [
    (
        "first batch",
        "first",
        "the 130 test queries of the first batch (their misses were read while the ranking "
        "was built; the b6dea7c model's file scored these alone)",
    ),
    (
        "blind batch",
        "blind",
        "the 80 test queries written by a separate session that saw neither the repository nor "
        "the first batch, before the grammar's synonyms were written",
    ),
]
BARS = [
    Bar("Free-form queries typed, top-5 content (server default: learned + metadata fused)", FREE_FORM,
        FUSION[0], None, FREEFORM + "; `python -m bench.fusion`", at_least=90.0),
    *[Bar(f"Free-form queries typed, top-5 content (server default), {part}", ("test", "fused", "by_batch", batch,
          "top5"), FUSION[0], FUSION[1] if batch == "first" else None, protocol,
          baseline_keys=("test", "fused", "top5"))
      for part, batch, protocol in FREEFORM_BATCHES],
    Bar("Free-form queries typed, top-5 content (learned model alone), first batch", ("test", "learned", "by_batch",
        "first", "top5"), *FUSION, "as above, the learned Eq. 8 ranking without metadata",
        baseline_keys=("test", "learned", "top5")),
    Bar("Free-form queries spoken, top-5 content (`serve --asr`)", ("test", "shipped", "top5"), SPOKEN[0], None,
        "the same test queries spoken by the five test-only voices (1,050 utterances), end-to-end speech fused with "
        "the Whisper tiny.en transcript (primed with the motion vocabulary); `python -m bench.spoken`", at_least=80.0),
    Bar("Free-form queries spoken, top-5 content (`serve --asr`), first batch", ("test", "shipped", "by_batch",
        "first", "top5"), *SPOKEN, "as above, the 130 queries of the first batch (650 utterances)",
        baseline_keys=("test", "shipped", "top5")),
    Bar("Free-form queries spoken, top-5 content (speech model alone, the default server)", ("test", "speech", "top5"),
        SPOKEN[0], None, "as above, all 210 test queries, without speech recognition", at_least=80.0),
    Bar("Label R@1, text->motion descriptive, test split (in distribution)", ("splits", "test", "results",
        *TEXT_LABEL_R1), *GENERAL, "`python -m model.evaluate` (All protocol, label relevance, first label "
        "caption)", within=1.0),
    Bar("Label R@1, text->motion spoken register, test split", ("splits", "test", "results",
        "text->motion/spoken", "all_labels", "R@1"), *GENERAL, "as above", within=1.0),
    Bar("Label R@1, speech->motion clean, test split", ("splits", "test", "results", "speech->motion/clean",
        "all_labels", "R@1"), *GENERAL, "as above, the test-only voices", within=1.0),
    Bar("Label R@1, video (frame encoder)->motion, test split", ("splits", "test", "results",
        "video->motion/rendered", "all_labels", "R@1"), *GENERAL, "as above, the rendered test videos", within=1.0),
    Bar("Label R@1, motion (another body, noise, pose-like)->motion, test split", ("splits", "test", "results",
        "motion(augmented)->motion", "all_labels", "R@1"), *GENERAL, "`python -m model.evaluate --augmented`: each "
        "test clip through motion.augment (seed 0) searched among the clean test clips"),
    Bar("Strict R@10, text->motion, held-out kinematic captions", STRICT_R10, *STRICT, "856 test items, each queried "
        "by a caption of what its body does (its manner too) in phrasings no training caption uses "
        "(`dataset.captions`), only the item itself relevant", times=2.0),
    Bar("Strict R@10, text->motion, held-out kinematic captions: stage 4, tried and not shipped",
        STRICT_R10,
        "docs/results/strict-manner-stage4.json", STRICT[1], "as above, the shipped model's text encoder trained 5 "
        "more epochs on the captions with manners (`model/configs/kinematic-manner.yaml`; docs/model.md, *Stage 4*)",
        times=2.0),
    Bar("Strict R@10, text->motion, held-out kinematic captions: the motion encoder learning the instance, tried",
        STRICT_R10,
        "docs/results/strict-motion-instance.json", STRICT[1], "as above, the shipped model's motion and text "
        "encoders trained 2 more epochs on the captions with manners, distilled from the shipped motion encoder "
        "(`model/configs/motion-instance.yaml`; docs/model.md, *Stage 4*); not shipped: its pose, rig and "
        "free-form checks were not run", times=2.0),
    Bar("Per-content macro R@5 (content), text->motion descriptive, test split", ("splits", "test", "results",
        "text->motion/descriptive", "all_content_macro", "R@5"), *GENERAL,
        "recall averaged over the 18 test contents (rare actions count as much as walks)"),
    Bar("Unseen-action probe in the whole test library, text R@5 (label relevance)", ("probe_in_test_library",
        "results", "text->motion/descriptive", "all_labels", "R@5"), *GENERAL, "the 446 probe items (bow, "
        "wave-both-hands: never trained on) ranked among all 1,302 test and probe motions", at_least=50.0),
    Bar("Cross-source text->motion content R@5, among the dataset-1 clips", ("models", "cross-source", "results",
        *CROSS_SOURCE_TEXT), *CROSS, "`python -m model.cross_source`: the shipped recipe on dataset-2 only (cpu.yaml "
        "base training on text and motion, the robust fine-tune, then kinematic-text.yaml); b6dea7c column: the "
        "base training alone; "
        "queries: each of the 174 dataset-1 clips' first descriptive label caption", at_least=80.0),
    Bar("Cross-source text->motion content R@5, in the whole library", ("models", "cross-source", "results",
        "text->motion/descriptive/label", "in_library", "all_content", "R@5"), *CROSS, "as above, ranked among the "
        "dataset-1 clips and the 404 dataset-2 test clips", at_least=80.0),
    *[Bar(f"Cross-source text->motion content R@5, {where}, as the server ranks a library without words",
          ("results", "text->motion/descriptive/label", gallery, "fused", "top5"), SERVED_CROSS, None,
          "`python -m bench.cross_source`: the cross-source recipe (above) trained again on today's captions (its "
          "learned ranking alone, in PyTorch: 37.9 / 32.2 in `docs/results/cross-source-manner.json`, below the "
          "recorded run's 47.7 / 37.4), exported and served; the clips indexed without their words (numbered takes:"
          " no labels, description or path words), so the server fuses its learned ranking with what the kinematic "
          "captioner says each body does (`server.fusion.WORDLESS`; that metadata alone: 83.3 / 70.7); same queries. "
          "Trained again with seed 1: fused 79.3 / 64.4 (`bench/results/cross_source-seed1.json`)",
          at_least=80.0)
      for where, gallery in (("among the dataset-1 clips", "among_source"), ("in the whole library", "in_library"))],
    Bar("In-distribution reference: the served cross-source row for the shipped model", ("results",
        "text->motion/descriptive/label", "among_source", "fused", "top5"), SERVED_CROSS_REFERENCE, None,
        "as above, the shipped bundle, which trained on most of those clips (`--in-distribution`)"),
    Bar("Cross-source motion->motion content R@5, among the dataset-1 clips", ("models", "cross-source", "results",
        "motion->motion", "among_source", "all_content", "R@5"), *CROSS, "as above, each dataset-1 clip against the "
        "others (contents with one clip not queried)"),
    Bar("In-distribution reference: the cross-source text->motion row for models trained on dataset-1",
        ("models", "in-distribution", "results", *CROSS_SOURCE_TEXT), *CROSS, "the cross-source protocol's queries and "
        "gallery, scored by the shipped and the b6dea7c models, which trained on most of those clips"),
    *[Bar(f"Rig transfer to {rig} (another body), text->motion label R@1", ("rigs", rig, "results", *TEXT_LABEL_R1),
          *RIGS, f"`python -m model.rig_transfer`: the test split written as {rig} would export it, on another "
          "body, read back as a user's file, encoded on the reference body as the server does (`motion.body`)",
          within=1.0, reference=("original", *TEXT_LABEL_R1))
      for rig in ("mixamo", "cmu", "iclone")],
    *[Bar(f"Rig transfer to {rig}: largest drop of text<->motion label R@1, label R@5 or strict R@10 (points)",
          ("rigs", rig, "largest_drop"), *RIGS, "as above, both directions and both caption registers against the "
          "original test split", at_most=1.0)
      for rig in ("mixamo", "cmu", "iclone")],
    *[bar for sample in POSE_SAMPLES for bar in pose_bars(*sample)],
    Bar("Video through the frame encoder, label R@1 (100 clips x 3 angles)", ("frames", "all", "label_R@1"), *POSE,
        "as above, the frame-feature video encoder (`serve --video-encoder frames`)"),
    Bar("Largest change of any R@k through the index's 16-bit tokens, test split",
        ("splits", "test", "compressed_max_abs_diff", "R@1|R@2|R@3|R@5|R@10"),
        *TOKENS, "`python -m model.evaluate --token-bits 16`: every "
        "direction (text, speech clean and noisy, video), motion tokens as the index stores them vs float32",
        at_most=0.3),
    Bar("Largest change of any R@k through the index's 16-bit tokens, unseen probe",
        ("splits", "unseen", "compressed_max_abs_diff", "R@1|R@2|R@3|R@5|R@10"),
        *TOKENS, "as above", at_most=0.3),
    Bar("1,000,000 synthetic motions: text-like query p50 (ms)", ("settings", "0", "two_stage_ms", "p50"),
        M1, None, "`python -m bench.index_search --motions 1000000`, 2 cores, default prefetch", at_most=50.0),
    Bar("1,000,000 synthetic motions: top-10 overlap with exact float32 Eq. 8", ("settings", "0", "top10_overlap"),
        M1, None, "as above, exact float32 Eq. 8 over every motion in the same run", at_least=0.99),
    Bar("1,000,000 synthetic motions: RSS after the searches (MiB)", ("rss_mib", "after_searches"), M1, None,
        "as above", at_most=12288.0),
    Bar("100,000 synthetic motions: text-like query p50 (ms)", ("settings", "0", "two_stage_ms", "p50"),
        "bench/results/index_search-100000.json", None, "`python -m bench.index_search --motions 100000` "
        "(b6dea7c recorded 16.7)", at_most=16.7),
    Bar("Real library, 163 free-form queries: share with the exact float32 top 10", ("settings", "0",
        "queries_with_exact_top10"), "bench/results/index_search-real.json", None,
        "`python -m bench.index_search --real`: the Bandai library indexed as the server does", at_least=0.99),
    Bar("Full library over gRPC: SearchText p50 (ms), fusion off", ("text_unfused_ms", "p50"),
        "bench/results/server_latency.json", None, "`python -m bench.server_latency`: the learned ranking alone, "
        "the path b6dea7c measured (9.57 ms then)", at_most=9.6),
    Bar("Full library over gRPC: SearchText p50 (ms), metadata fusion on (the default since)", ("text_ms", "p50"),
        "bench/results/server_latency.json", None, "as above, the server's default"),
]  # fmt: skip


def _load(rel: str | None) -> tuple[dict | None, str]:
    """A recorded file and where it came from (file, commit, date); (None, ...) when there is none."""
    if rel is None or not (ROOT / rel).exists():
        return None, f"`{rel}` (missing)" if rel else ""
    data = json.loads((ROOT / rel).read_text())
    machine = data.get("machine", {})
    commit = machine.get("git_commit") or data.get("git_commit") or "?"
    when = (machine.get("date") or data.get("date") or "")[:10]
    return data, f"`{rel}` ({commit[:7]}{', ' + when if when else ''})"


def _holds(value: float | None, limit: float | None, higher: bool) -> str:
    if value is None or limit is None:
        return "—"
    return "yes" if (value >= limit if higher else value <= limit) else "**no**"


def sections() -> str:
    """The open issues' bars: the shipped model beside the b6dea7c model, row by row from the recorded files."""
    lines = [SECTIONS, "", "Generated by `python -m model.results --sections` from the recorded files named in each "
             "row (the shipped model's first, then the b6dea7c model's); do not edit by hand. *Shipped*: "
             "`model/weights/default`, the robust fine-tune (docs/model.md, *Fine-tuning for robustness*) with its "
             "speech and video encoders re-aligned (*Re-aligning the speech encoder*) and its text encoder trained "
             "on what each clip's body does (*Stage 3: kinematic captions as instance positives*; its motion encoder "
             "is the robust fine-tune's, so the rows that use only motion were measured on it), with its pose encoder "
             "(`model/weights/default/pose`, *The pose encoder*) for video through body pose; the free-form rows "
             "are the server's ranking, whose metadata vectors blend in each clip's action (`server.metadata`, "
             "docs/server.md); "
             f"*{BASELINE} model*: the model shipped at main {BASELINE} (`model/weights/speech-avgpool`), which "
             "the tables above (generated from the ablation runs) call the shipped model. *Not measured*: no "
             "recorded run of that model.", "",
             f"| measure | shipped | {BASELINE} model | bar | holds | protocol | files (commit, date) |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for bar in BARS:
        (mine, mine_file), (base, base_file) = _load(bar.shipped), _load(bar.baseline)
        value = None if mine is None else lookup(mine, bar.keys)
        baseline = None if base is None else lookup(base, bar.baseline_keys or bar.keys)
        reference = baseline if not bar.reference else None if mine is None else lookup(mine, bar.reference)
        words, limit, higher = bar.limit(reference)
        cells = [f"{v:.1f}" if v is not None else "not measured" for v in (value, baseline)]
        files = "; ".join(f for f in (mine_file, base_file) if f)
        lines.append(f"| {bar.label} | {cells[0]} | {cells[1]} | {words} | {_holds(value, limit, higher)} "
                     f"| {bar.protocol} | {files} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def update_sections(page: Path) -> None:
    """Rewrite the part of ``page`` from :data:`SECTIONS` on (appended when the page has none)."""
    text = page.read_text()
    head = text.split(SECTIONS)[0].rstrip("\n")
    page.write_text(head + "\n\n" + sections())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.results", description=__doc__.split("\n")[0])
    parser.add_argument("--ablations", type=Path, help="the output folder of python -m model.ablate")
    parser.add_argument("--sections", action="store_true", help=f"rewrite only the page's '{SECTIONS[3:]}' part")
    parser.add_argument("--out", type=Path, default=Path("docs") / "RESULTS.md")
    parser.add_argument(
        "--shipped", help="the run shipped as the default model (default: the one in model/weights/default)"
    )
    args = parser.parse_args(argv)
    if args.sections:
        update_sections(args.out)
        print(f"updated {args.out}")
        return 0
    if not args.ablations:
        parser.error("--ablations is required (or --sections)")
    shipped = args.shipped or json.loads((DEFAULT / "manifest.json").read_text())["run"]
    args.out.write_text(render(args.ablations, shipped))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
