"""The cross-source protocol's data copy (model.cross_source) on the demo clips built for real: one source held out."""

from __future__ import annotations

import numpy as np
import pytest

from dataset.build import Build, run
from dataset.splits import HELDOUT, read_split_files, source_id
from model.cross_source import clips, hold_out, main, motion_to_motion, prepare
from model.data import RetrievalData
from motion.normalize import FeatureStats


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_clips):
    """The demo library (16 clips of each source) through the motion, splits and captions stages (seconds)."""
    out = tmp_path_factory.mktemp("built")
    run(Build(demo_clips[0].parent, out, workers=1), ["motion", "splits", "captions"])
    return out


def test_prepare_holds_the_whole_source_out_and_refits_the_statistics(tmp_path, built):
    before = {p.name: p.read_bytes() for p in (built / "splits").iterdir()}
    original = read_split_files(built)
    copy = tmp_path / "xs"
    sizes = prepare(built, copy)

    splits = read_split_files(copy)
    assert splits.keys() == original.keys()
    held = sorted(i for i, s in splits.items() if s == HELDOUT)
    assert held == sorted(i for i in original if source_id(i).startswith("dataset-1_"))
    assert len(held) == 32 and sum(i.startswith("M") for i in held) == 16  # every clip with its mirror
    assert all(splits[i] == s for i, s in original.items() if source_id(i).startswith("dataset-2_"))
    assert sizes[HELDOUT] == 32 and sum(sizes.values()) == len(original)
    assert "dataset-1" not in " ".join(RetrievalData(copy, "train+val+test+unseen", ["motion"]).items)
    assert RetrievalData(copy, HELDOUT, ["motion"]).items == held

    # the features are the original files, hard-linked; the statistics are fitted on the new training items only
    feature = next((built / "features").iterdir())
    assert (copy / "features" / feature.name).stat().st_ino == feature.stat().st_ino
    train = sorted(i for i, s in splits.items() if s == "train")
    refit = FeatureStats.fit(np.load(built / "features" / f"{i}.npy") for i in train)
    stats = FeatureStats.load(copy / "stats" / "feature_mean_std.npz")
    np.testing.assert_allclose(stats.mean, refit.mean)
    assert not np.allclose(stats.mean, FeatureStats.load(built / "stats" / "feature_mean_std.npz").mean)
    assert {p.name: p.read_bytes() for p in (built / "splits").iterdir()} == before  # the source folder untouched

    with pytest.raises(FileExistsError):
        prepare(built, copy)
    with pytest.raises(ValueError, match="no item of source"):
        prepare(built, tmp_path / "none", source="dataset-9")
    assert main(["prepare", "--data", str(built), "--out", str(tmp_path / "cli"), "--source", "dataset-2"]) == 0
    assert all(source_id(i).startswith("dataset-2_") for i, s in read_split_files(tmp_path / "cli").items()
               if s == HELDOUT)  # fmt: skip


def test_hold_out_moves_mirrors_with_their_clips():
    splits = {"dataset-1_walk_x_001": "train", "Mdataset-1_walk_x_001": "train", "dataset-2_run_y_002": "test"}
    assert hold_out(splits) == {"dataset-1_walk_x_001": HELDOUT, "Mdataset-1_walk_x_001": HELDOUT,
                                "dataset-2_run_y_002": "test"}  # fmt: skip


def test_motion_to_motion_never_finds_the_query_itself(tmp_path, built):
    prepare(built, tmp_path / "xs")
    queries = RetrievalData(tmp_path / "xs", HELDOUT, ["motion"])
    gallery = RetrievalData(tmp_path / "xs", f"{HELDOUT}+train+val+test+unseen", ["motion"])
    queries.items, gallery.items = clips(queries.items), clips(gallery.items)
    q, g = ([d.labels(i)[0] for i in d.items] for d in (queries, gallery))
    itself = np.array([[a == b for b in gallery.items] for a in queries.items])
    same = np.array([[a == b for b in g] for a in q])
    # each clip scores itself highest, then the clips of other contents, then those of its own content
    sim = np.where(itself, 3.0, np.where(same, 1.0, 2.0))
    result = motion_to_motion(sim, queries, gallery)
    alone = sorted({c for c in q if g.count(c) == 1})
    assert alone and result["left_out"] == alone and 0 < result["queries"] == len(q) - len(alone)
    assert result["all_content"]["R@1"] == 0.0  # itself excluded: another content ranks first
    assert motion_to_motion(np.where(itself, 3.0, 4.0 - sim), queries, gallery)["all_content"]["R@1"] == 100.0


def test_bench_ranks_the_held_out_clips_as_a_library_without_words(tmp_path, built, onnx_bundle, demo_clips):
    """bench.cross_source on the demo copy with the shipped bundle: the held-out clips are indexed without their
    words and searched as the server searches such a library; a bundle not trained on the copy needs
    --in-distribution."""
    from bench import cross_source
    from exporter.bundle import Bundle
    from server.encoders import Encoders
    from server.serve import open_library

    prepare(built, tmp_path / "xs")
    arguments = ["--bundle", str(onnx_bundle), "--data", str(tmp_path / "xs"), "--source", str(demo_clips[0].parent),
                 "--library", str(tmp_path / "library"), "--out", str(tmp_path / "out.json")]  # fmt: skip
    with pytest.raises(SystemExit) as refused:
        cross_source.main(arguments)
    assert refused.value.code == 2 and not (tmp_path / "out.json").exists()

    result = cross_source.main([*arguments, "--in-distribution"])
    assert not result["bundle"]["trained_on_copy"]
    clips = result["protocol"]["clips"]
    assert clips["among_source"] == 16 and clips["in_library"] > 16
    table = result["results"]["text->motion/descriptive/label"]
    assert [q for q, _ in table["examples"]] == sorted(q for q, _ in table["examples"])
    for gallery in ("among_source", "in_library"):
        assert set(table[gallery]) == {"learned", "metadata", "fused"}
        for s in table[gallery].values():
            assert s["queries"] == 16 and 0 <= s["top1"] <= s["top5"] <= 100
    # a gallery of 16 clips of ~10 contents: the metadata alone finds most contents in its top 5
    assert table["among_source"]["metadata"]["top5"] >= 50

    # the library holds the clips without their words: no labels, no description, no path words in the metadata
    # (only what the kinematic captioner says of the body, which may name the action: "bends forward in a bow")
    bundle = Bundle.load(onnx_bundle)
    library = open_library(bundle, Encoders.open(bundle.path), tmp_path / "library", None)
    assert library.wordless and len(library) == 2 * clips["in_library"]  # each clip and its mirror
    for record in (library.record(q) for q, _ in table["examples"]):
        style, metadata = record.payload["id"].split("_")[2], record.payload["metadata"].lower()
        assert not record.payload["content"] and not record.payload["style"] and record.payload["motion_caption"]
        assert style not in metadata and "namco" not in metadata
        assert record.payload["folders"] == [HELDOUT]
