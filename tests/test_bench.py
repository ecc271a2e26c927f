"""Smoke runs of the benchmarks on a few real clips: they run and write sane JSON."""

from __future__ import annotations

import json

from bench import motion_throughput


def test_motion_throughput_smoke(tmp_path, demo_clips):
    out = tmp_path / "motion.json"
    result = motion_throughput.main(["--source", str(demo_clips[0].parent), "--limit", "3", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["clips"] == result["clips"] == 3
    assert saved["machine"]["cpu_count"] >= 1
    assert all(v > 0 for v in saved["clips_per_s"].values())
    assert saved["source_frames"] > 3 * 19  # the shortest clip has 19 frames


def test_render_throughput_smoke(tmp_path, demo_clips):
    from bench import render_throughput

    out = tmp_path / "render.json"
    result = render_throughput.main(["--source", str(demo_clips[0].parent), "--limit", "2", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["clips"] == result["clips"] == 2
    assert saved["render_frames_per_s"] > 0 and saved["kb_per_item"]["npy"] > saved["kb_per_item"]["jpeg"] > 1


def test_server_latency_smoke(tmp_path, onnx_bundle, demo_clips):
    from bench import server_latency

    out = tmp_path / "server.json"
    result = server_latency.main(["--bundle", str(onnx_bundle), "--source", str(demo_clips[0].parent), "--smoke",
                                  "--out", str(out)])  # fmt: skip
    saved = json.loads(out.read_text())
    assert saved["library"]["motions"] == 2 * len(demo_clips) == result["library"]["motions"]
    assert saved["load"]["errors"] == 0 and saved["text_ms"]["p50"] > 0 and saved["stream_mb_per_s"] > 0
    assert saved["providers"][-1] == "CPUExecutionProvider"
    assert saved["text_top10_overlap_with_exact"] >= 0.9 and saved["index_depth_prefetch_candidates"] == [100, 100]
    assert saved["text_fusion"] and saved["text_stages_ms"]["index_fused_p50"] > 0  # the demo clips carry metadata
    assert saved["text_unfused_ms"]["n"] == saved["text_ms"]["n"] > 0


def test_fusion_smoke(tmp_path, onnx_bundle, demo_clips):
    from bench import fusion

    out = tmp_path / "fusion.json"
    result = fusion.main(["--bundle", str(onnx_bundle), "--source", str(demo_clips[0].parent),
                          "--library", str(tmp_path / "library"), "--out", str(out)])  # fmt: skip
    saved = json.loads(out.read_text())
    assert saved["library"]["motions"] == 2 * len(demo_clips) and saved["queries"]["validation"] >= 25
    assert set(saved["test"]) == {"learned", "metadata", "fused"}
    assert saved["chosen_on_validation"] in saved["grid_test"]
    assert saved["test"]["fused"] == result["test"]["fused"]
    assert all(0 <= s["top1"] <= s["top5"] <= 100 for s in saved["test"].values())
    assert saved["metadata_stage_p50_ms"]["qdrant_edge_exact"] > 0
    # the share sweep replays the server's metadata vectors in numpy: at the shipped share it ranks as the index does
    shipped = saved["action_shares"][f"{saved['action_share_shipped']:g}"]
    assert set(saved["action_shares"]) == {f"{s:g}" for s in fusion.SHARES}
    assert shipped["test"] == saved["grid_test"][fusion.label(fusion.DEFAULT)]


def test_index_search_smoke(tmp_path):
    from bench import index_search

    out, kept = tmp_path / "index.json", tmp_path / "kept"
    argv = ["--motions", "2500", "--tokens", "24", "--dim", "32", "--queries", "10", "--out", str(out),
            "--depths", "default,250,500", "--index", str(kept)]  # fmt: skip
    result = index_search.main(argv)
    saved = json.loads(out.read_text())
    assert saved["library"]["motions"] == 2500 and saved["queries"] == 10 and saved["ingest_motions_per_s"] > 0
    assert saved["disk_bytes_per_motion"] > 24 * (32 + 8)  # the int8 rows, the shard's pooled vector and payload
    default, *others = saved["settings"]
    assert default["default"] and default["prefetch"] == 100  # a small library: the floor
    assert [s["prefetch"] for s in others] == [250, 500]
    assert all(s["two_stage_ms"]["n"] == 10 for s in saved["settings"])
    assert default["top10_overlap"] == result["settings"][0]["top10_overlap"] >= 0.9
    again = index_search.main(argv)  # the kept index is reused: no ingest, the same exact top 10
    assert again["ingest_motions_per_s"] is None
    assert again["exact_rank10_minus_rank11_score_median"] == saved["exact_rank10_minus_rank11_score_median"]


def test_index_search_real_smoke(tmp_path, onnx_bundle, demo_clips):
    from bench import index_search

    out = tmp_path / "real.json"
    result = index_search.main(["--real", "--bundle", str(onnx_bundle), "--source", str(demo_clips[0].parent),
                                "--depths", "default", "--out", str(out)])  # fmt: skip
    saved = json.loads(out.read_text())
    assert saved["library"]["kind"] == "real" and saved["library"]["motions"] == 2 * len(demo_clips)  # and mirrors
    assert saved["queries"]["count"] >= 150 and saved["disk_bytes_per_motion"] > 0
    # 16-bit codes: the compressed index's exact scan and its two-stage search find the float32 top 10
    assert result["exact_scan_of_compressed_tokens_same_top10"] >= 0.99
    assert result["settings"][0]["queries_with_exact_top10"] >= 0.99
