"""The package layering: no import circles anywhere, and the server free of torch, ``model`` and ``dataset``.

Every ``import`` statement of every module counts, those inside functions too (a lazy import
is still a dependency), read from the source with ``ast``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "motion", "pose", "dataset", "preprocess", "model", "exporter", "server", "bench")
SERVING = ("server", "pose")  # the server and what only it uses
TRAINING_ONLY = ("torch", "transformers", "model", "dataset")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """Every module ``path`` imports (first-party ones resolved to the deepest module that exists)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                out.add(name if name in known else node.module)
    return out


def test_no_import_circles():
    known = modules()
    graph = {name: sorted(i for i in imports(path, known) if i in known and i != name) for name, path in known.items()}
    # Tarjan's strongly connected components: any component of two or more modules is a circle
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    assert not circles, f"import circles: {circles}"


def test_the_server_imports_no_training_code():
    """No module of server/ or pose/ names torch, model or dataset, at the top or inside a function."""
    known = modules()
    bad = {
        name: sorted(i for i in imports(path, known) if i.split(".")[0] in TRAINING_ONLY)
        for name, path in known.items()
        if name.split(".")[0] in SERVING
    }
    assert not {k: v for k, v in bad.items() if v}, bad


def test_every_server_module_imports_without_torch():
    """In a Python where torch, transformers, model and dataset cannot be imported, all of server/ imports."""
    names = sorted(n for n in modules() if n.split(".")[0] == "server")
    code = (
        "import importlib, sys\n"
        "class Absent:  # as where these are not installed: importing them raises ModuleNotFoundError\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {TRAINING_ONLY!r}:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Absent())\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        f"assert not [m for m in sys.modules if m.split('.')[0] in {TRAINING_ONLY!r}]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
