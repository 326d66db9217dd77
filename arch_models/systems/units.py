"""Quantities with units, as a system file writes them: ``4MiB``, ``819GB/s``, ``2GHz``,
``256B/cycle``, ``1.2pJ``, ``28nm``. SI prefixes (k, M, G, T; and m, u, n, p, f below one)
and binary ones (Ki, Mi, Gi, Ti) are understood; a plain number is in the base unit
(bytes, Hz, B/s, J, m², s). Every parser returns SI units (bytes, Hz, bytes per second,
bytes per cycle, J, m², s) or raises ``ValueError`` with the message a spec error shows.
"""
from __future__ import annotations

import math
import re

_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)\s*$")
_SI = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_SMALL = {"": 1.0, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}
_BIN = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "KI": 2**10}

KINDS = {
    "size": "a size such as 512KiB or 16GB",
    "bandwidth": "a bandwidth such as 819GB/s",
    "cycle_bandwidth": "bytes per cycle such as 256B/cycle",
    "frequency": "a frequency such as 1GHz",
    "energy": "an energy such as 1.2pJ",
    "area": "an area such as 0.5mm2",
    "time": "a time such as 100ns",
    "node": "a node such as 28nm",
}


def _split(text):
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return float(text), ""
    if not isinstance(text, str):
        return None
    m = _NUMBER.match(text)
    if not m:
        return None
    return float(m.group(1)), m.group(2)


def _prefixed(unit: str, base: str, table: dict) -> float | None:
    if not unit.endswith(base):
        return None
    return table.get(unit[: len(unit) - len(base)])


def _bytes_factor(unit: str) -> float | None:
    """Multiplier of a byte unit (``KiB``, ``MB``, ``B``)."""
    for table in (_BIN, _SI):
        f = _prefixed(unit, "B", table)
        if f is not None:
            return f
    return None


def parse(kind: str, text) -> float:
    """``text`` as a ``kind`` (a key of :data:`KINDS`) in SI units."""
    got = _split(text)
    value = None
    if got is not None:
        number, unit = got
        factor = None
        if kind == "size":
            factor = 1.0 if unit == "" else _bytes_factor(unit)
        elif kind == "bandwidth":
            factor = 1.0 if unit == "" else (
                _bytes_factor(unit[:-2]) if unit.endswith("/s") else None)
        elif kind == "cycle_bandwidth":
            factor = 1.0 if unit == "" else (
                _bytes_factor(unit[:-6]) if unit.endswith("/cycle") else None)
        elif kind == "frequency":
            factor = 1.0 if unit == "" else _prefixed(unit, "Hz", _SI)
        elif kind == "energy":
            factor = 1.0 if unit == "" else _prefixed(unit, "J", _SMALL)
        elif kind == "time":
            factor = 1.0 if unit == "" else _prefixed(unit, "s", _SMALL)
        elif kind == "area":
            table = {"m2": 1.0, "mm2": 1e-6, "um2": 1e-12, "µm2": 1e-12}
            factor = 1.0 if unit == "" else table.get(unit)
        elif kind == "node":
            factor = 1.0 if unit in ("", "nm") else None
        if factor is not None:
            value = number * factor
    if value is None or not math.isfinite(value) or value < 0:
        raise ValueError(f"must be {KINDS[kind]}, not {text!r}")
    return value
