"""Any folder is a library: a folder of clips on rigs that are not Bandai Namco's, with sidecar metadata and a
broken file, indexed by the server's folder intake (real ONNX Runtime, real Qdrant Edge), then synced again
after files are deleted, changed and added."""

from __future__ import annotations

import json
import shutil

import pytest
from test_rigs import renamed, rig_variant

from motion.bvh import read_bvh, write_bvh
from motion.rigs import RigMap, presets
from server.encoders import Encoders
from server.index import open_index
from server.library import Library
from server.serve import REPORT, index_source


@pytest.fixture
def library(tmp_path, onnx_bundle):
    encoders = Encoders.open(onnx_bundle)
    lib = Library(tmp_path / "library", open_index(f"edge:{tmp_path / 'library' / 'index'}", encoders.dim), encoders)
    yield lib
    lib.index.close()


def studio(root, demo_clips):
    """Four demo clips as iClone / Mixamo files in folders, a CSV sidecar, a NAME.json and a broken file."""
    layout = {
        "Locomotion/Walk_Forward_01.bvh": ("walk", "iclone"),
        "Locomotion/Run_Fast.bvh": ("run", "mixamo"),
        "Gestures/WaveLeftHand.bvh": ("wave-left-hand", "iclone"),
        "Gestures/Bow_02.bvh": ("bow", "mixamo"),
    }
    sources = {}
    for rel, (content, rig) in layout.items():
        clip = next(c for c in demo_clips if c.name.split("_")[1] == content)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_bvh(root / rel, rig_variant(read_bvh(clip), rig))
        sources[rel] = clip
    (root / "Locomotion" / "motionsearch.csv").write_text(
        'file,description,tags,style\nWalk_Forward_01.bvh,a calm walk forward,"loop, street",normal\n'
    )
    (root / "Gestures" / "Bow_02.json").write_text(json.dumps({"description": "a polite bow", "tags": ["greeting"]}))
    (root / "Broken").mkdir()
    (root / "Broken" / "half.bvh").write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
    return sources


def test_a_foreign_rig_folder_is_indexed_with_its_metadata_and_synced(tmp_path, library, demo_clips):
    root = tmp_path / "studio"
    sources = studio(root, demo_clips)
    report = index_source(library, root, progress=False)
    assert len(report.added) == 4 and len(library) == 8  # every clip and its mirror
    broken = str(root / "Broken" / "half.bvh")
    assert list(report.failed) == [broken] and report.failed[broken]
    written = json.loads((library.folder / REPORT).read_text())
    assert written["failed"] == {broken: report.failed[broken]} and len(written["added"]) == 4

    walk = library.record("Locomotion.Walk_Forward_01").payload
    assert (walk["description"], walk["tags"], walk["style"]) == ("a calm walk forward", ["loop", "street"], "normal")
    assert walk["words"] == "locomotion walk forward" and walk["source_folder"] == "Locomotion"
    assert walk["source"] == "studio" and walk["caption"] == "a calm walk forward"
    bow = library.record("Gestures.Bow_02").payload
    assert (bow["description"], bow["tags"], bow["words"]) == ("a polite bow", ["greeting"], "gestures bow")
    # an iClone file is the same motion as the Bandai clip it was made from: the clip finds it first
    _, (own, _) = library.embed(sources["Gestures/WaveLeftHand.bvh"])
    assert library.index.search(*own, top_k=1)[0].id == "Gestures.WaveLeftHand"

    again = index_source(library, root, progress=False)
    assert not again.added and len(again.unchanged) == 4 and not again.removed
    (root / "Locomotion" / "motionsearch.csv").write_text("file,description\nRun_Fast.bvh,a sprint\n")
    edited = index_source(library, root, progress=False)  # metadata edited, motions not: stored, not re-encoded
    assert not edited.added and len(edited.unchanged) == 4
    assert library.record("Locomotion.Run_Fast").payload["caption"] == "a sprint"
    assert library.record("MLocomotion.Run_Fast").payload["description"] == "a sprint"
    assert library.record("Locomotion.Walk_Forward_01").payload["tags"] == []

    (root / "Locomotion" / "Run_Fast.bvh").unlink()
    shutil.copyfile(root / "Gestures" / "Bow_02.bvh", root / "Gestures" / "Bow_again.bvh")  # same content: skipped
    write_bvh(root / "Gestures" / "WaveLeftHand.bvh", rig_variant(read_bvh(sources["Locomotion/Walk_Forward_01.bvh"]),
                                                                  "mixamo"))  # fmt: skip
    synced = index_source(library, root, progress=False)
    assert synced.removed == ["Locomotion.Run_Fast"] and len(library) == 6
    assert [p["id"] for p in synced.added] == ["Gestures.WaveLeftHand"]  # changed content: encoded again
    with pytest.raises(KeyError):
        library.record("Locomotion.Run_Fast")
    assert index_source(library, root, progress=False).added == []


def test_an_unknown_rig_is_reported_until_a_rig_map_is_given(tmp_path, library, clip):
    preset = presets()["bandai_namco"]
    names = {name: f"bone{i:02d}" for i, name in enumerate(read_bvh(clip).skeleton.names)}
    root = tmp_path / "custom"
    root.mkdir()
    write_bvh(root / "odd.bvh", renamed(read_bvh(clip), names))
    report = index_source(library, root, progress=False)
    assert not report.added and "rig" in report.failed[str(root / "odd.bvh")]

    def rename(entry):
        return {**entry, "between": [names[n] for n in entry["between"]]} if isinstance(entry, dict) else names[entry]

    rig = RigMap.from_dict({"joints": {k: rename(v) for k, v in preset.joints.items()}, "units": "cm", "up": "y"})
    report = index_source(library, root, rig, progress=False)
    assert [p["id"] for p in report.added] == ["odd"] and not report.failed
