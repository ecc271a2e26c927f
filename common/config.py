"""Config dataclasses read from YAML mappings, torch-free: one check that a mapping names only known fields."""

from __future__ import annotations

from dataclasses import fields


def reject_unknown(cls: type, data: dict, what: str) -> None:
    """A ``ValueError`` naming every key of ``data`` that is not a field of the dataclass ``cls``."""
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(f"unknown {what} key(s): {', '.join(unknown)}")
