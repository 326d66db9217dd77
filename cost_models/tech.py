"""Technology and cost data with sources: loading, validation and SI conversion.

Every number in ``data/*.json`` is a leaf ``{"value", "unit", "source", "confidence"}``
(plus ``derived`` where it was computed, and ``low``/``high`` where the sources spread). The loader checks every leaf of a file and
reports all problems at once, naming the file and the field. Files:

- ``tech.json``: gate areas and energies, node scaling factors, operation, SRAM, DRAM
  and link energies;
- ``nodes.json``: per process node (45, 28, 16, 7, 5, 3 nm) wafer price, defect density,
  mask set, layer counts, logic and SRAM density, supply voltage, clock, fab carbon;
- ``economics.json``: wafer geometry, packaging and test, design NRE, facility, carbon;
- ``platforms.json``: reference platforms (H100, A100, V100, Neoverse-N1, KV260, WSE-3);
- ``hnlpu.json``: the inputs the HNLPU model takes from its paper, each marked as a
  calibration, taken as is, or a reference only.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from tokenfab.errors import UsageError

DATA = Path(__file__).parent / "data"
FILES = ("tech", "nodes", "economics", "platforms", "hnlpu")
CONFIDENCE = ("S", "M", "W", "D")
_KWH = 3.6e6
UNITS = {  # unit name -> factor to SI (m, m2, J, W, s, B, USD, kg, V, A, Hz)
    "1": 1.0, "um2": 1e-12, "mm2": 1e-6, "mm": 1e-3, "um": 1e-6, "A": 1.0,
    "fJ": 1e-15, "pJ": 1e-12, "nJ": 1e-9,
    "J": 1.0, "W": 1.0, "kW": 1e3, "USD": 1.0, "per_cm2": 1e4, "B": 1.0, "MB": 1e6,
    "GB": 1e9, "TB_per_s": 1e12, "TFLOPS": 1e12, "V": 1.0, "GHz": 1e9,
    "MTr_per_mm2": 1e12, "kWh_per_cm2": _KWH / 1e-4, "g_per_cm2": 1e-3 / 1e-4, "g": 1e-3,
    "kg": 1.0, "kg_per_kWh": 1 / _KWH, "g_per_kWh": 1e-3 / _KWH, "USD_per_kWh": 1 / _KWH,
    "USD_per_W": 1.0, "USD_per_GB": 1e-9, "USD_per_h": 1 / 3600, "year": 365.25 * 24 * 3600,
}
TEXT_KEYS = ("title",)


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
        if ("low" in node or "high" in node) and not (
                all(isinstance(node.get(k), (int, float)) and not isinstance(node.get(k), bool)
                    for k in ("low", "value", "high"))
                and node["low"] <= node["value"] <= node["high"]):
            errors.append(f"{where}: low <= value <= high must hold, not "
                          f"{node.get('low')!r} <= {node.get('value')!r} <= {node.get('high')!r}")
        return
    if isinstance(node, dict):
        for key, val in node.items():
            if key.startswith("_") or (key in TEXT_KEYS and isinstance(val, str)):
                continue
            _validate(val, path + [key], errors)
        return
    errors.append(f"{'.'.join(path)} must be a data leaf or a group, not {node!r}")


def load_file(path) -> dict:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the file ({exc.strerror})") from None
    errors: list[str] = []
    _validate(raw, [], errors)
    if errors:
        raise UsageError(f"{path}: " + "; ".join(errors))
    return raw


@functools.lru_cache(maxsize=None)
def data(name: str = "tech") -> dict:
    """One validated data file by stem (see ``FILES``)."""
    return load_file(DATA / f"{name}.json")


def tech() -> dict:
    return data("tech")


def leaf(*path: str, file: str = "tech") -> dict:
    node = data(file)
    for p in path:
        node = node[p]
    return node


def value(*path: str, file: str = "tech") -> float:
    """An SI value, e.g. ``value("gates_28nm", "fa_area")`` or
    ``value("5", "wafer_price", file="nodes")``."""
    node = leaf(*path, file=file)
    return float(node["value"]) * UNITS[node["unit"]]


def bounds(*path: str, file: str = "tech") -> tuple[float, float]:
    """The SI ``(low, high)`` range of a leaf that gives one (its value twice otherwise)."""
    node = leaf(*path, file=file)
    f = UNITS[node["unit"]]
    return float(node.get("low", node["value"])) * f, float(node.get("high", node["value"])) * f


def econ(*path: str) -> float:
    """An SI value of ``economics.json``, e.g. ``econ("facility", "pue")``."""
    return value(*path, file="economics")


def nodes() -> list[int]:
    return sorted(int(n) for n in data("nodes") if not n.startswith("_") and n.isdigit())


def check_node(node) -> int:
    try:
        n = int(str(node).strip().removesuffix("nm"))
    except ValueError:
        n = None
    if n not in nodes():
        allowed = ", ".join(f"{x}nm" for x in nodes())
        raise UsageError(f"node must be one of {allowed}, not {node!r}")
    return n


def node_value(node: int, field: str) -> float:
    """An SI value of ``nodes.json`` for a checked node, e.g. ``node_value(5, "wafer_price")``."""
    return value(str(check_node(node)), field, file="nodes")


def scale(node: int, kind: str, ref: int = 28) -> float:
    """Factor from ``ref`` nm to ``node`` nm for ``kind`` 'energy' or 'area'
    (Stillmaker-Baas device scaling)."""
    return value("scaling_vs_45nm", str(node), kind) / value("scaling_vs_45nm", str(ref), kind)
