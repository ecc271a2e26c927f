"""The Blender extension in real Blender (``bpy`` from PyPI in its own venv) against a live server on loopback.

The extension zip is built for this platform (``blender_addon/build.py``), installed the
standard way, and driven by ``tests/blender/scenario.py``; this side checks what it saw.
Blender's Python comes from ``$MOTIONSEARCH_BLENDER_PYTHON`` or ``.venv-blender/`` (CI
creates it; see README); without it the tests skip locally and fail under CI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from dataset.speech import synthesize
from dataset.voices import voices_for
from motion.bvh import read_bvh
from motion.kinematics import forward_kinematics

ROOT = Path(__file__).resolve().parents[1]
BLENDER_PYTHON = Path(os.environ.get("MOTIONSEARCH_BLENDER_PYTHON", ROOT / ".venv-blender" / "bin" / "python"))
INSTALL = "python3.11 -m venv .venv-blender && .venv-blender/bin/pip install bpy==5.0.1"
MM = 0.1  # the Bandai Namco clips are in centimetres


def blender_python() -> Path:
    if not BLENDER_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Blender Python at {BLENDER_PYTHON}: {INSTALL}")
        pytest.skip(f"no Blender Python at {BLENDER_PYTHON}: {INSTALL}")
    return BLENDER_PYTHON


def run_blender(script: Path, *args: str, cwd: Path, env: dict | None = None, timeout: int = 600):
    done = subprocess.run([str(blender_python()), str(script), *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=timeout)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="session")
def addon_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("addon")
    platform = {"linux": "linux-x64", "darwin": "macos-arm64", "win32": "windows-x64"}[sys.platform]
    build = [sys.executable, str(ROOT / "blender_addon" / "build.py"), "--platform", platform, "--out", str(out)]
    subprocess.run(build, check=True, capture_output=True)
    (path,) = out.glob("*.zip")
    return path


def dead_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"  # closed again when the block ends


def rename_map() -> dict[str, str]:
    """Bandai Namco bone name -> Mixamo bone name, through the canonical joints of motion/rigs."""
    rigs = ROOT / "motion" / "rigs"
    bandai = json.loads((rigs / "bandai_namco.json").read_text())["joints"]
    mixamo = json.loads((rigs / "mixamo.json").read_text())["joints"]
    return {bandai[j]: mixamo[j] for j in bandai if isinstance(bandai[j], str) and isinstance(mixamo.get(j), str)}


@pytest.fixture(scope="session")
def scenario(tmp_path_factory, addon_zip, server_address) -> dict:
    out = tmp_path_factory.mktemp("blender")
    audio = out / "query.wav"
    soundfile.write(audio, synthesize("a person waves with the left hand", voices_for("test")[0]), 16000)
    (out / "rename.json").write_text(json.dumps(rename_map()))
    args = {"zip": str(addon_zip), "address": server_address, "dead_address": dead_address(),
            "query": "a person waves with the left hand", "audio": str(audio), "out": str(out),
            "rename": str(out / "rename.json")}  # fmt: skip
    (out / "args.json").write_text(json.dumps(args))
    run_blender(ROOT / "tests" / "blender" / "scenario.py", str(out / "args.json"), cwd=out,
                env={"BLENDER_USER_RESOURCES": str(out / "blender-user")})  # fmt: skip
    result = json.loads((out / "result.json").read_text())
    result["bvh"] = out / "top.bvh"
    return result


def expected_positions(bvh: Path, frames: list[int]) -> tuple[list[str], np.ndarray]:
    """World joint positions by numpy FK, in Blender's axes (x, -z, y); Blender frame f is BVH frame f - 1."""
    motion = read_bvh(bvh)
    world, _ = forward_kinematics(motion)
    picked = world[[f - 1 for f in frames]]
    return list(motion.skeleton.names), np.stack([picked[..., 0], -picked[..., 2], picked[..., 1]], axis=-1)


def observed(result: dict, key: str, names: list[str], rename: dict[str, str] | None = None) -> np.ndarray:
    frames = result[key]
    return np.array([[frames[str(f)][(rename or {}).get(n, n)] for n in names] for f in result["frames"]])


def test_the_extension_installs_and_imports_grpc_inside_blender(scenario):
    assert scenario["registered"]
    assert scenario["grpc_version"] == __import__("grpc").__version__
    assert "Connected" in scenario["connect_status"] and "motions" in scenario["connect_status"]


def test_text_and_audio_file_searches_fill_the_results(scenario):
    assert len(scenario["text_hits"]) == 10 and len(scenario["audio_hits"]) == 10
    text_scores = [score for _, _, score in scenario["text_hits"]]
    assert text_scores == sorted(text_scores, reverse=True)
    assert "wave-left-hand" in [content for _, content, _ in scenario["text_hits"][:3]]


def test_every_result_shows_a_thumbnail_of_its_motion(scenario):
    assert len(scenario["thumbnails"]) == len(scenario["text_hits"]) == 10
    # the icon the results list draws is this preview (headless Blender gives previews no icon ids: no UI)
    for thumbnail in scenario["thumbnails"]:
        assert thumbnail["exists"] and thumbnail["size"] == [128, 128]  # one square frame of the preview strip
        assert thumbnail["spread"] > 0.2  # a drawn figure, not a blank image


def test_import_onto_an_identical_rig_reproduces_the_joint_positions(scenario):
    names, expected = expected_positions(scenario["bvh"], scenario["frames"])
    got = observed(scenario, "identical", names)
    assert "onto identical" in scenario["identical_status"]
    assert np.ptp(expected[:, names.index("Hand_L")], axis=0).max() > 10  # the clip moves: rest poses cannot pass
    assert np.abs(got - expected).max() < 1 * MM


def test_import_onto_a_renamed_rig_keeps_the_motion(scenario):
    rename = rename_map()
    names, expected = expected_positions(scenario["bvh"], scenario["frames"])
    mapped = [n for n in names if n in rename]
    got = observed(scenario, "renamed", mapped, rename) - np.array(scenario["renamed_offset"])
    assert "onto renamed" in scenario["renamed_status"]
    assert np.abs(got - expected[:, [names.index(n) for n in mapped]]).max() < 1 * MM


def test_similar_to_the_active_action_finds_the_driving_clip_first(scenario):
    top = scenario["text_hits"][0][0]
    assert scenario["similar_identical"][0] == top
    assert scenario["similar_renamed"][0] == top  # a Mixamo-named armature, through its bone map


def test_the_active_action_is_added_to_the_library_and_found(scenario):
    assert scenario["add_status"] == "Added my-blender-take to the library", scenario["add_status"]
    assert scenario["similar_after_add"][0] in ("my-blender-take", scenario["text_hits"][0][0])
    assert "my-blender-take" in scenario["similar_after_add"][:2]
    assert scenario["deleted"] == 2  # the take and its mirror


def test_a_dead_server_is_a_readable_report(scenario):
    assert "cannot reach the motionsearch server" in scenario["down_error"]
    assert "Traceback" not in scenario["down_error"]
    assert scenario["down_status"].startswith("Error: cannot reach")


def test_the_preview_render_shows_the_posed_armature(tmp_path, addon_zip, server_address):
    from PIL import Image

    png = tmp_path / "preview.png"
    done = run_blender(ROOT / "blender_addon" / "preview.py", "--zip", str(addon_zip), "--address", server_address,
                       "--query", "a person waves with the left hand", "--out", str(png), "--size", "480", "270",
                       cwd=tmp_path)  # fmt: skip
    assert "wave-left-hand" in done.stdout
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    body = (rgb[..., 0] - rgb[..., 2] > 60) & (rgb[..., 0] > 100)  # the orange limbs on grey and white
    rows = np.nonzero(body.any(axis=1))[0]
    assert body.mean() > 0.003 and rows.max() - rows.min() > 0.4 * rgb.shape[0]  # a standing figure, not a speck
