"""Values with their units, the same in the CLI's tables and in notebooks.

A key's suffix names its unit (``_w`` watts, ``tokens_per_j`` tokens per joule, ...). SI
prefixes are used for physical units only; rates of tokens and money are printed as plain
numbers, so no factor of a thousand or more hides behind a prefix such as ``mtok/J``.
"""
from __future__ import annotations

import math

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"),
             (1e-6, "u"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"))
# key suffix -> unit (longest suffix first)
UNITS = (("usd_per_mtoken", "USD/Mtok"), ("tokens_per_s", "tok/s"),
         ("_per_s_per_mm2", "/s/mm2"), ("_ops_per_s", "op/s"), ("_bytes_per_s", "B/s"),
         ("tokens_per_j", "tok/J"), ("_per_s", "/s"), ("_bytes", "B"), ("_mm2", "mm2"),
         ("_um2", "um2"), ("_usd", "USD"), ("_mhz", "MHz"), ("_hz", "Hz"), ("_pj", "pJ"),
         ("_w", "W"), ("_j", "J"), ("_s", "s"), ("_kg", "kg"))
# units printed without an SI prefix
PLAIN = ("mm2", "um2", "MHz", "kg", "pJ", "USD/Mtok", "tok/J", "tok/s", "/s/mm2")


def unit_of(key: str) -> str | None:
    base = key.removesuffix("_low").removesuffix("_high")
    return next((u for suffix, u in UNITS if base.endswith(suffix)), None)


def si(value: float, unit: str) -> str:
    if unit == "USD":
        for scale, prefix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= scale:
                return f"${value / scale:.4g}{prefix}"
        return f"${value:,.2f}"
    if unit in PLAIN or value == 0 or not math.isfinite(value):
        return f"{plain(value)} {unit}"
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.4g} {prefix}{unit}"
    return f"{value:.4g} {unit}"


def plain(value: float) -> str:
    """Four significant digits, without an exponent from 0.001 to the billions."""
    if math.isfinite(value) and 1e4 <= abs(value) < 1e12:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def cell(key: str, value) -> str:
    """A value with its unit (from the key's suffix); pairs as ``low – high``."""
    unit = unit_of(key)
    if unit and isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, (int, float)) for v in value):
        return f"{cell(key, value[0])} – {cell(key, value[1])}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if unit:
        return si(float(value), unit)
    return f"{value:.6g}" if isinstance(value, float) else f"{value:,}"


def table(rows: list[tuple[str, object]]) -> str:
    rows = [(k, v) for k, v in rows if v is not None and v != {} and v != []]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {cell(k, v)}" for k, v in rows)


def nested(obj: dict, width: int | None = None, indent: str = "") -> str:
    """Every value of ``obj``: scalars and (low, high) pairs as a table, then each dict as
    a titled, indented table (and its dicts in turn), lists of scalars on one line. A
    child dict names its values' unit by the parent's key when its own keys do not
    (``power_breakdown_w: {vex: 33.1}`` prints 33.1 W)."""
    def flat(v):
        return not isinstance(v, (dict, list, tuple)) or (
            isinstance(v, (list, tuple)) and all(not isinstance(x, (dict, list, tuple))
                                                 for x in v))
    rows = [(k, v) for k, v in obj.items() if flat(v) and v is not None and v != []]
    width = width or max((len(k) for k, _ in rows), default=0)
    out = []
    for k, v in rows:
        text = (cell(k, v) if not isinstance(v, (list, tuple)) or len(v) == 2
                else ", ".join(str(x) for x in v))
        out.append(f"{indent}{k:<{width}}  {text}")
    for k, v in obj.items():
        if isinstance(v, dict) and v:
            unit = unit_of(k)
            child = {(ck if unit_of(str(ck)) or not unit else f"{ck}{_suffix(unit)}"): cv
                     for ck, cv in v.items()}
            out.append(f"{indent}{k}:")
            out.append(nested(child, None, indent + "  "))
    return "\n".join(line for line in out if line)


def _suffix(unit: str) -> str:
    return next(s for s, u in UNITS if u == unit)
