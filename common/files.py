"""File helpers shared by every stage (dataset, model, exporter, server), torch-free and numpy-free.

* :func:`write_atomic`: a file is either complete or absent (temporary file beside it, then
  rename), so a rerun can trust what exists and a reader never sees half a file;
* :func:`sha256_file`: the sha256 of a file, read in blocks;
* :func:`git_commit`: the commit the code runs from, recorded in builds, runs and releases.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

ROOT = Path(__file__).resolve().parents[1]
UMASK = os.umask(0o022)  # read once, at import: os.umask can only be read by setting it, which races threads
os.umask(UMASK)


def write_atomic(path: str | Path, data: bytes | Callable[[BinaryIO], object], mode: int | None = None) -> None:
    """Write ``data`` (bytes, or a function writing into an open binary file) to a temporary file beside
    ``path``, then rename it into place; ``mode``: the file's permissions (default: as ``open`` would
    create it, 0o666 less the umask, not mkstemp's 0o600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
        os.chmod(tmp, mode if mode is not None else 0o666 & ~UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: str | Path) -> str:
    """The hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_commit(folder: str | Path = ROOT) -> str | None:
    """The commit checked out in ``folder`` (default this repository), or None outside a git checkout."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip()
