"""Rig transfer: a real clip written as Mixamo, CMU and iClone export it reads back as that rig, and the
evaluation command scores a dataset written onto those rigs.

Tolerances. The writer gets the clip at its own 30 fps, and the file is read back at that rate too, so the
comparison is on the input's own frames (a 60 or 120 fps rig's frames in between are interpolated, and
differ from a linear interpolation of positions by the bones' shortening: centimetres in fast moves). On the
same body only the BVH text (6 decimals) and the rigid fit of the torso then separate the joints from the
clip's: measured at most 0.15 mm on 40 demo clips x 3 rigs. 1 mm is several times that, and far below what a
wrong map, a wrong unit or a wrong up axis does (centimetres to metres). On the rig's own body the joints
differ on purpose: they are compared with the clip re-proportioned (``reproportion``), and every bone's
direction, which a change of body keeps, with the clip's own (0.15 mm over the shortest bone, 4.5 cm, is
3e-3 rad; the bound is 1e-2 rad, a swapped or misplaced joint is off by tenths of a radian or more).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from motion import canonicalize, read_bvh, write_bvh
from motion.canonical import chain_length, place
from motion.rig_export import RIGS, STATURE_PER_CHAIN, export_rig, reproportion
from motion.rigs import resolve_rig
from motion.skeleton import INDEX, PARENTS

POSITION_TOLERANCE = 1e-3  # m, see the module docstring
DIRECTION_TOLERANCE = 1e-2  # rad


@pytest.fixture(scope="module")
def native(clip):
    """The demo clip canonicalised at its own frame rate (30 fps): what the writer gets."""
    motion = read_bvh(clip)
    return canonicalize(motion, fps=motion.fps)


def written(tmp_path, positions, fps, spec, name):
    path = tmp_path / f"{name}.bvh"
    write_bvh(path, export_rig(positions, fps, spec))
    return read_bvh(path)


@pytest.mark.parametrize("rig", list(RIGS))
def test_a_clip_written_as_a_rig_reads_back_as_that_rig(native, tmp_path, rig):
    spec = RIGS[rig]
    motion = written(tmp_path, native.positions, native.fps, spec, rig)
    names = spec.joint_names()
    assert set(names.values()) | {e.name for e in spec.extras} | ({spec.root} - {None}) == set(motion.skeleton.names)
    assert all(n.startswith(spec.prefix) for n in motion.skeleton.names if n != spec.root)
    moving = [n for n, c in zip(motion.skeleton.names, motion.skeleton.channels) if "Xposition" in c]
    assert moving == [n for n in (spec.root, names["pelvis"]) if n]  # rotations only below the pelvis
    assert motion.fps == pytest.approx(spec.fps)
    assert resolve_rig(motion.skeleton).rig.name == spec.rig  # detected with no hint
    back = canonicalize(motion)  # as the server reads a user's file: no rig, units or up axis given
    assert (back.rig, back.units, back.up) == (spec.rig, spec.units, spec.up)
    # on the same body the joints come back where they were
    same = written(tmp_path, native.positions, native.fps, dataclasses.replace(spec, stature=None, proportions={}),
                   f"{rig}-same")  # fmt: skip
    err = np.abs(canonicalize(same, fps=native.fps).positions - native.positions).max()
    assert err < POSITION_TOLERANCE, f"{rig}, original body: a joint is {err * 1000:.2f} mm off"
    # on the rig's body: the body asked for, with the clip's bone directions
    positions = canonicalize(motion, fps=native.fps).positions
    err = np.abs(positions - place(reproportion(native.positions, spec.stature, spec.proportions))).max()
    assert err < POSITION_TOLERANCE, f"{rig}: a joint is {err * 1000:.2f} mm off the re-proportioned clip"
    assert STATURE_PER_CHAIN * chain_length(positions) == pytest.approx(spec.stature, rel=1e-3)
    got, want = bones(positions), bones(native.positions)
    cosine = np.sum(got * want, axis=-1) / np.linalg.norm(got, axis=-1) / np.linalg.norm(want, axis=-1)
    assert np.arccos(np.clip(cosine, -1, 1)).max() < DIRECTION_TOLERANCE
    ratio = np.linalg.norm(got, axis=-1).mean(0) / np.linalg.norm(want, axis=-1).mean(0)
    assert ratio.max() / ratio.min() > 1.05  # the proportions did change, not only the size


def bones(positions: np.ndarray) -> np.ndarray:
    """(F, 21, 3) bone vectors, parent -> joint."""
    return positions[:, 1:] - positions[:, list(PARENTS[1:])]


def test_reproportion_scales_each_segment_and_keeps_directions(native):
    p = native.positions
    body = reproportion(p, None, {"arms": 1.2, "legs": 0.9})
    old, new = bones(p), bones(body)
    ratio = np.linalg.norm(new, axis=-1) / np.linalg.norm(old, axis=-1)
    assert np.allclose(ratio[:, INDEX["left_elbow"] - 1], 1.2) and np.allclose(ratio[:, INDEX["right_knee"] - 1], 0.9)
    assert np.allclose(ratio[:, INDEX["neck"] - 1], 1.0)
    cosine = np.sum(new * old, axis=-1) / np.linalg.norm(new, axis=-1) / np.linalg.norm(old, axis=-1)
    assert cosine.min() > 1 - 1e-9
    with pytest.raises(ValueError, match="unknown body segment"):
        reproportion(p, 1.7, {"tail": 2.0})


def test_rig_transfer_command_smoke(demo_dataset, tmp_path):
    """Three clips and their mirrors onto every rig, scored with the shipped model; the files read back as their
    rigs and retrieval among six motions finds each rig motion's original."""
    from model.rig_transfer import DEFAULT_RUN, main

    out = tmp_path / "rig-transfer.json"
    assert main([str(DEFAULT_RUN), "--data", str(demo_dataset), "--split", "test", "--limit", "3",
                 "--out", str(out)]) == 0  # fmt: skip
    report = json.loads(out.read_text())
    assert (report["clips"], report["items"]) == (3, 6)
    assert set(report["rigs"]) == set(RIGS)
    for name, entry in report["rigs"].items():
        spec = RIGS[name]
        assert entry["detected"] == {f"{spec.rig}/{spec.units}/{spec.up}-up": 3}
        assert set(entry["results"]) == set(report["original"]) | {"motion(rig)->motion(original)"}
        assert entry["results"]["motion(rig)->motion(original)"]["all_strict"]["R@1"] >= 50.0
        assert entry["within_1_point"] == (entry["largest_drop"] <= 1.0)
