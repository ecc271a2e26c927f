"""Build the installable Blender extension zip: ``python blender_addon/build.py [--platform linux-x64 ...]``.

Run with the project's Python (it needs pip). The zip holds the add-on's modules,
the rig maps (``motion/rigs/*.json`` plus ``blender_addon/rigs/``), and the wheels
Blender installs for it: grpcio, protobuf and sounddevice for each platform, and
a small ``motionsearch-api`` wheel made here from ``proto/motionsearch`` (the
generated API and its typed client), at the versions this environment uses so
the generated code and its runtime agree. Blender's Python is 3.11 (4.2 to 5.0).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = "3.11"
# Blender platform -> pip platform tags (pip widens macOS tags to older versions and universal2 itself).
PLATFORMS = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"],
    "linux-arm64": ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"],
    "macos-arm64": ["macosx_14_0_arm64"],
    "macos-x64": ["macosx_14_0_x86_64"],
    "windows-x64": ["win_amd64"],
}
REQUIREMENTS = ("grpcio", "protobuf", "typing_extensions")  # grpcio needs typing_extensions
# The microphone; without it the add-on offers audio files only.
OPTIONAL = ("sounddevice==0.5.2", "cffi==2.0.0", "pycparser==2.23")
SKIP = {"build.py", "preview.py", "__pycache__", "dist", "wheels", "blender_manifest.toml"}


def download_wheels(platforms: list[str], folder: Path) -> list[Path]:
    pins = [f"{name}=={metadata.version(name)}" for name in REQUIREMENTS] + list(OPTIONAL)
    for platform in platforms:
        tags = [arg for tag in PLATFORMS[platform] for arg in ("--platform", tag)]
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--python-version", PYTHON, *tags, "--dest", str(folder), *pins], check=True)  # fmt: skip
    return sorted(folder.glob("*.whl"))


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def api_wheel(folder: Path) -> Path:
    """A pure-Python wheel of proto/motionsearch (the generated API and motionsearch.client)."""
    version = metadata.version("motionsearch")
    dist = f"motionsearch_api-{version}"
    sources = sorted((ROOT / "proto" / "motionsearch").rglob("*.py"))
    files = {str(p.relative_to(ROOT / "proto")): p.read_bytes() for p in sources}
    meta = f"Metadata-Version: 2.1\nName: motionsearch-api\nVersion: {version}\n"
    files[f"{dist}.dist-info/METADATA"] = meta.encode()
    files[f"{dist}.dist-info/WHEEL"] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files.items()]
    files[f"{dist}.dist-info/RECORD"] = ("\n".join(record + [f"{dist}.dist-info/RECORD,,"]) + "\n").encode()
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
    return path


def manifest(wheels: list[Path], platforms: list[str]) -> str:
    text = (HERE / "blender_manifest.toml").read_text(encoding="utf-8")
    tomllib.loads(text)  # fail early on a broken manifest
    head, tables = text.split("\n[", 1)  # top-level keys must come before the first table
    lines = ["wheels = ["] + [f'  "./wheels/{w.name}",' for w in wheels] + ["]"]
    if len(platforms) < len(PLATFORMS):
        lines.append("platforms = [" + ", ".join(f'"{p}"' for p in platforms) + "]")
    return head.rstrip() + "\n" + "\n".join(lines) + "\n\n[" + tables


def build(platforms: list[str], out: Path) -> Path:
    version = tomllib.loads((HERE / "blender_manifest.toml").read_text(encoding="utf-8"))["version"]
    suffix = "" if len(platforms) == len(PLATFORMS) else "-" + "-".join(platforms)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"motionsearch-{version}{suffix}.zip"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wheels = download_wheels(platforms, folder) + [api_wheel(folder)]
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("blender_manifest.toml", manifest(wheels, platforms))
            for file in sorted(HERE.rglob("*")):
                relative = file.relative_to(HERE)
                if file.is_file() and not SKIP & set(relative.parts):
                    zf.write(file, str(relative))
            for rig in sorted((ROOT / "motion" / "rigs").glob("*.json")):
                zf.write(rig, f"rigs/{rig.name}")
            for wheel in wheels:
                zf.write(wheel, f"wheels/{wheel.name}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS),
                        help="build for these platforms only (default: all)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=HERE / "dist")
    args = parser.parse_args(argv)
    path = build(args.platform or list(PLATFORMS), args.out)
    print(f"{path} ({path.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
