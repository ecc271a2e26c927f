"""The motion command line on real clips: inspect, features, convert, check."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np

from motion import load_canonical, read_bvh
from motion.mirror import mirror_positions


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "motion", *args], capture_output=True, text=True)


def test_inspect_shows_rig_and_mapping(clip):
    out = run("inspect", str(clip))
    assert out.returncode == 0, out.stderr
    assert "rig       bandai_namco (units cm, up y)" in out.stdout
    assert "left_wrist      <- Hand_L" in out.stdout
    assert "dropped   joint_Root" in out.stdout


def test_features_saves_array(clip, tmp_path):
    out = run("features", str(clip), "--out", str(tmp_path / "f.npy"))
    assert out.returncode == 0, out.stderr
    feats = np.load(tmp_path / "f.npy")
    assert feats.shape[1] == 263 and "finite: True" in out.stdout


def test_convert_resamples_crops_and_mirrors(clip, tmp_path):
    out_path = tmp_path / "out.bvh"
    out = run("convert", str(clip), str(out_path), "--fps", "20", "--start", "1", "--end", "3", "--mirror")
    assert out.returncode == 0, out.stderr
    converted = read_bvh(out_path)
    assert abs(converted.fps - 20) < 1e-6 and converted.n_frames == 41
    original = load_canonical(clip).positions
    # the converted clip is seconds 1..3 of the mirrored original, compared in each clip's own placement
    mine = load_canonical(out_path).positions
    theirs = mirror_positions(original[20:61])
    assert np.abs((mine - mine[:1, :1]) - (theirs - theirs[:1, :1]))[..., 1].max() < 1e-3
    assert abs(mine[:, 21, 1].max() - theirs[:, 21, 1].max()) < 1e-3


def test_convert_rejects_an_empty_range(clip, tmp_path):
    out = run("convert", str(clip), str(tmp_path / "x.bvh"), "--start", "500")
    assert out.returncode == 2 and "outside the clip" in out.stderr


def test_check_reports_failures_by_name(demo_clips, tmp_path):
    for path in demo_clips[:3]:
        shutil.copy(path, tmp_path)
    (tmp_path / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n")
    report = tmp_path / "report.json"
    out = run("check", str(tmp_path), "--report", str(report))
    assert out.returncode == 1
    assert "3/4 clips" in out.stdout and "failures: 1" in out.stdout and "broken.bvh" in out.stdout
    data = json.loads(report.read_text())
    assert data["ok"] == 3 and list(data["failures"]) == ["broken.bvh"]
