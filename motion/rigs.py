"""Rig maps: which joints of a BVH skeleton are the canonical joints.

A rig map is a JSON file (presets live in ``motion/rigs/``):

    {"name": "mixamo", "units": "cm", "up": "y",
     "joints": {"pelvis": "Hips", "left_hip": ["LeftUpLeg", "L_Thigh"],
                "spine2": {"between": ["Spine", "Chest"], "t": 0.5}, ...},
     "requires": ["LowerBack"]}

Each canonical joint names one source joint, a list of accepted names (the
first present wins), or a point between two source joints. Matching ignores
case and a namespace prefix (``mixamorig:Hips`` matches ``Hips``). Source
joints that no entry names are dropped. ``units`` and ``up`` are optional
declarations; without them they are detected (see ``motion.canonical``).
``requires`` lists extra joints a file must have for the map to fit (a user
map may use it; the presets require nothing beyond their canonical joints).
When several presets fit a file, the one that uses most of its joints wins
(a Mixamo file has every joint the CMU map names, plus Spine2).

Two canonical joints at the same place (a zero-length bone, such as a Mixamo
spine joint exported at zero offset) have no direction, which the features
need: :func:`separate_coincident` maps the joint past its twin, halfway
between its neighbours on the chain, or names both when it cannot.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from motion.bvh import Skeleton
from motion.skeleton import JOINTS, PARENTS


class RigError(ValueError):
    """A skeleton that no rig map fits, or a rig map that is malformed."""

    def __init__(self, message: str, n_missing: int = 0):
        super().__init__(message)
        self.n_missing = n_missing  # joints a rig map did not find (0 for malformed maps)


@dataclass(frozen=True)
class RigMap:
    """A parsed rig map, not yet tied to a file."""

    name: str
    joints: dict[str, object]
    units: str | None = None
    up: str | None = None
    requires: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict, name: str = "custom") -> RigMap:
        if not isinstance(data, dict):
            raise RigError(f"rig map {name!r}: must be a JSON object, got {type(data).__name__}")
        joints = data.get("joints", data)
        if not isinstance(joints, dict):
            raise RigError(f"rig map {name!r}: 'joints' must be an object of canonical name -> source joint")
        unknown = sorted(set(joints) - set(JOINTS))
        if unknown:
            raise RigError(f"rig map {name!r}: unknown canonical joint(s) {unknown}; valid names: {', '.join(JOINTS)}")
        for canonical, entry in joints.items():
            if not _valid_entry(entry):
                raise RigError(
                    f"rig map {name!r}: {canonical} must be a joint name, a list of names, or"
                    f' {{"between": [name, name], "t": 0..1}}; got {entry!r}'
                )
        requires = data.get("requires", [])
        if not isinstance(requires, list | tuple) or not all(isinstance(r, str) for r in requires):
            raise RigError(f"rig map {name!r}: 'requires' must be a list of joint names, got {requires!r}")
        units, up = data.get("units"), data.get("up")
        if units not in (None, "m", "cm", "inch"):
            raise RigError(f"rig map {name!r}: units must be 'm', 'cm' or 'inch', got {units!r}")
        if up not in (None, "y", "z"):
            raise RigError(f"rig map {name!r}: up must be 'y' or 'z', got {up!r}")
        return cls(data.get("name", name), joints, units, up, tuple(requires))

    @classmethod
    def from_file(cls, path: str | Path) -> RigMap:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise RigError(f"cannot read rig map {path}: {err}") from None
        return cls.from_dict(data, name=path.stem)

    def bind(self, skeleton: Skeleton) -> BoundRig:
        """Resolve every canonical joint on ``skeleton``; raise naming what is missing."""
        lookup = {_plain(n): i for i, n in enumerate(skeleton.names)}
        missing = [r for r in self.requires if _plain(r) not in lookup]
        sources = np.zeros((len(JOINTS), 2), dtype=int)
        weights = np.zeros(len(JOINTS))
        absent: list[str] = []
        for c, canonical in enumerate(JOINTS):
            entry = self.joints.get(canonical)
            if isinstance(entry, dict):
                a, b = (_find(lookup, n) for n in entry.get("between", (None, None)))
                if a is None or b is None:
                    absent.append(f"{canonical} (between {entry.get('between')})")
                    continue
                sources[c], weights[c] = (a, b), float(entry.get("t", 0.5))
            else:
                found = _find(lookup, entry)
                if found is None:
                    absent.append(f"{canonical} ({_describe(entry)})")
                    continue
                sources[c] = (found, found)
        if absent or missing:
            parts = []
            if absent:
                parts.append(f"missing canonical joint(s): {', '.join(absent)}")
            if missing:
                parts.append(f"missing required joint(s): {', '.join(missing)}")
            message = f"rig {self.name!r} does not fit this skeleton: {'; '.join(parts)}"
            raise RigError(message, n_missing=len(absent) + len(missing))
        return BoundRig(self, sources, weights)


@dataclass(frozen=True)
class BoundRig:
    """A rig map resolved on one skeleton: canonical joint c = lerp(src[c,0], src[c,1], w[c])."""

    rig: RigMap
    sources: np.ndarray  # (22, 2) source joint indices
    weights: np.ndarray  # (22,) interpolation weight towards the second source

    def canonical_positions(self, world: np.ndarray) -> np.ndarray:
        """(F, J_src, 3) source world positions -> (F, 22, 3) canonical joint positions."""
        a, b = world[:, self.sources[:, 0]], world[:, self.sources[:, 1]]
        return a + (b - a) * self.weights[None, :, None]


def separate_coincident(bound: BoundRig, rest: np.ndarray) -> BoundRig:
    """``bound`` with every canonical joint that sits on its canonical parent (in ``rest``, the (22, 3) canonical
    positions of one frame) moved halfway between its parent and its only child, or, for a joint at the end of a
    chain, its parent moved halfway between its own parent and the joint. Raises :class:`RigError` naming the
    joints when neither fits."""
    sources, weights, rest = bound.sources.copy(), bound.weights.copy(), np.asarray(rest, dtype=np.float64).copy()
    tol = max(1e-4 * float(np.ptp(rest, axis=0).max()), 1e-12)
    children = [[k for k, p in enumerate(PARENTS) if p == j] for j in range(len(JOINTS))]

    def single(j: int) -> int | None:  # the one source joint a canonical joint is, or None for a point between two
        if sources[j, 0] == sources[j, 1] or weights[j] in (0.0, 1.0):
            return int(sources[j, int(weights[j] >= 1.0)])
        return None

    def between(j: int, a: int, b: int) -> bool:
        if single(a) is None or single(b) is None or np.linalg.norm(rest[a] - rest[b]) <= tol:
            return False
        sources[j], weights[j], rest[j] = (single(a), single(b)), 0.5, (rest[a] + rest[b]) / 2
        return True

    stuck = []
    for joint in range(1, len(JOINTS)):
        parent = PARENTS[joint]
        if np.linalg.norm(rest[joint] - rest[parent]) > tol:
            continue
        kids, grand = children[joint], PARENTS[parent]
        moved = len(kids) == 1 and between(joint, parent, kids[0])
        if not moved and len(children[parent]) == 1 and grand >= 0:
            moved = between(parent, grand, joint)
        if not moved:
            stuck.append(f"{JOINTS[parent]} and {JOINTS[joint]}")
    if stuck:
        raise RigError(f"rig {bound.rig.name!r}: joints at the same place ({'; '.join(stuck)}): a zero-length bone "
                       "has no direction; pass a rig map that places one of them elsewhere")  # fmt: skip
    if np.array_equal(sources, bound.sources) and np.array_equal(weights, bound.weights):
        return bound
    return BoundRig(bound.rig, sources, weights)


def _valid_entry(entry: object) -> bool:
    if isinstance(entry, str):
        return True
    if isinstance(entry, list | tuple):
        return bool(entry) and all(isinstance(n, str) for n in entry)
    if isinstance(entry, dict):
        between, t = entry.get("between"), entry.get("t", 0.5)
        pair = isinstance(between, list | tuple) and len(between) == 2 and all(isinstance(n, str) for n in between)
        return pair and isinstance(t, int | float) and not isinstance(t, bool) and 0 <= t <= 1
    return False


def _known(rig: RigMap, skeleton: Skeleton) -> int:
    """How many of the joint names ``rig`` mentions the skeleton has (ranks presets that do not fit)."""
    have = {_plain(n) for n in skeleton.names}
    names: set[str] = set()
    for entry in rig.joints.values():
        if isinstance(entry, dict):
            entry = entry.get("between", ())
        names.update([entry] if isinstance(entry, str) else entry)
    return sum(_plain(n) in have for n in names)


def _plain(name: str) -> str:
    return name.rsplit(":", 1)[-1].lower()


def _find(lookup: dict[str, int], entry: object) -> int | None:
    names = [entry] if isinstance(entry, str) else list(entry or ())
    return next((lookup[_plain(n)] for n in names if _plain(n) in lookup), None)


def _describe(entry: object) -> str:
    if entry is None:
        return "not in the map"
    return "no joint named " + " or ".join(repr(n) for n in ([entry] if isinstance(entry, str) else entry))


def presets() -> dict[str, RigMap]:
    """The rig maps shipped in ``motion/rigs/``, by name."""
    folder = resources.files("motion") / "rigs"
    files = [f for f in folder.iterdir() if f.name.endswith(".json")]
    maps = [RigMap.from_dict(json.loads(f.read_text(encoding="utf-8")), f.name[:-5]) for f in files]
    return {m.name: m for m in sorted(maps, key=lambda m: m.name)}


def resolve_rig(skeleton: Skeleton, rig: str | Path | RigMap | None = None) -> BoundRig:
    """Bind a preset name, a JSON map file, a RigMap, or (None) the first preset that fits."""
    if isinstance(rig, RigMap):
        return rig.bind(skeleton)
    available = presets()
    if rig is not None:
        if str(rig) in available:
            return available[str(rig)].bind(skeleton)
        if Path(rig).suffix == ".json" or Path(rig).is_file():
            return RigMap.from_file(rig).bind(skeleton)
        raise RigError(f"unknown rig {str(rig)!r}: use a preset ({', '.join(available)}) or a JSON map file")
    errors, fits = [], []
    for preset in available.values():
        try:
            fits.append(preset.bind(skeleton))
        except RigError as err:
            errors.append((err.n_missing, -_known(preset, skeleton), str(err)))
    if fits:  # the preset that uses most of the file's joints: Mixamo's Spine2 makes a Mixamo file Mixamo, not CMU
        return max(fits, key=lambda bound: len(set(bound.sources.ravel().tolist())))
    closest = min(errors)[2]
    raise RigError(
        f"unknown rig: no preset fits this skeleton (joints: {', '.join(skeleton.names[:12])}"
        f"{'…' if skeleton.n_joints > 12 else ''}). Closest: {closest}. "
        "Pass a JSON rig map (see motion/rigs/*.json for the format)."
    )


_SIDE_PATTERNS = [
    (r"(?i)left", r"right"), (r"(?i)right", r"left"),
    (r"_L$", "_R"), (r"_R$", "_L"), (r"_l$", "_r"), (r"_r$", "_l"),
    (r"\.L$", ".R"), (r"\.R$", ".L"), (r"^L_", "R_"), (r"^R_", "L_"), (r"^l_", "r_"), (r"^r_", "l_"),
    (r"_L_", "_R_"), (r"_R_", "_L_"), (r"^L(?=[A-Z])", "R"), (r"^R(?=[A-Z])", "L"),
    (r"^l(?=[A-Z])", "r"), (r"^r(?=[A-Z])", "l"),  # Daz: lCollar / rCollar
]  # fmt: skip


def mirror_partners(skeleton: Skeleton) -> np.ndarray:
    """For every joint, the index of its left/right counterpart (itself if central), by name."""
    index = {n: i for i, n in enumerate(skeleton.names)}
    partners = np.arange(skeleton.n_joints)
    for i, full in enumerate(skeleton.names):
        prefix, _, name = full.rpartition(":")
        for pattern, repl in _SIDE_PATTERNS:
            if not re.search(pattern, name):
                continue
            swapped = re.sub(pattern, lambda m, r=repl: _match_case(m.group(0), r), name)
            other = f"{prefix}:{swapped}" if prefix else swapped
            if other in index and other != full:
                partners[i] = index[other]
                break
    return partners


def _match_case(found: str, repl: str) -> str:
    if found.isupper():
        return repl.upper()
    if found[:1].isupper():
        return repl[:1].upper() + repl[1:]
    return repl
