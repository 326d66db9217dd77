"""Technology data with sources: loading and validation.

Every number in ``data/*.json`` is a leaf ``{"value", "unit", "source", "confidence"}``
(plus ``derived`` where it was computed). The loader checks every leaf and reports all
problems at once, naming the file and the field.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from tokenfab.errors import UsageError

DATA = Path(__file__).parent / "data"
CONFIDENCE = ("S", "M", "W", "D")
UNITS = {"1": 1.0, "um2": 1e-12, "mm2": 1e-6, "fJ": 1e-15, "pJ": 1e-12, "nJ": 1e-9, "J": 1.0,
         "W": 1.0, "USD": 1.0, "per_cm2": 1e4}


def _validate(node, path, errors):
    if isinstance(node, dict) and "value" in node:
        where = ".".join(path)
        if isinstance(node["value"], bool) or not isinstance(node["value"], (int, float)):
            errors.append(f"{where}.value must be a number, not {node['value']!r}")
        if not isinstance(node.get("source"), str) or not node.get("source"):
            errors.append(f"{where}.source must be a non-empty string")
        if node.get("confidence") not in CONFIDENCE:
            errors.append(f"{where}.confidence must be one of {', '.join(CONFIDENCE)}, "
                          f"not {node.get('confidence')!r}")
        if node.get("unit") not in UNITS:
            errors.append(f"{where}.unit must be one of {', '.join(UNITS)}, "
                          f"not {node.get('unit')!r}")
        if node.get("confidence") == "D" and not node.get("derived"):
            errors.append(f"{where}.derived must say how a derived number was derived")
        return
    if isinstance(node, dict):
        for key, val in node.items():
            if not key.startswith("_"):
                _validate(val, path + [key], errors)
        return
    errors.append(f"{'.'.join(path)} must be a data leaf or a group, not {node!r}")


def load_file(path) -> dict:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    errors: list[str] = []
    _validate(raw, [], errors)
    if errors:
        raise UsageError(f"{path}: " + "; ".join(errors))
    return raw


@functools.lru_cache(maxsize=None)
def tech() -> dict:
    return load_file(DATA / "tech.json")


def value(*path: str) -> float:
    """An SI value from the technology data, e.g. ``value("gates_28nm", "fa_area")``."""
    node = tech()
    for p in path:
        node = node[p]
    return float(node["value"]) * UNITS[node["unit"]]


def nodes() -> list[int]:
    return sorted(int(n) for n in tech()["scaling_vs_45nm"])


def check_node(node) -> int:
    try:
        n = int(str(node).removesuffix("nm"))
    except ValueError:
        n = None
    if n not in nodes():
        allowed = ", ".join(f"{x}nm" for x in nodes())
        raise UsageError(f"node must be one of {allowed}, not {node!r}")
    return n


def scale(node: int, kind: str, ref: int = 28) -> float:
    """Factor from ``ref`` nm to ``node`` nm for ``kind`` 'energy' or 'area'."""
    return value("scaling_vs_45nm", str(node), kind) / value("scaling_vs_45nm", str(ref), kind)
