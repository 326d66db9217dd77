"""How each headline of a design's cost moves with each weak assumption.

Every datum of ``cost_models/data`` carries a confidence tag; W marks a weak one (an
estimate, a forum reading, background knowledge). :func:`sensitivity` costs a design once
as it stands, recording which data the run reads, then once with each W datum it read
at the low and at the high end of its range: the range its sources give (``low`` and
``high``), or half and twice the value where they give none. A row per datum says how far
each headline moves, so a reader sees which weak numbers a conclusion rests on. An end
at which the design does not fit (a die past the reticle, say) is reported with its
refusal instead of figures.

Constants a module computes from the data when it is imported (none of them W today) do
not move; everything read while costing does.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable

from tokenfab.cost_models import tech
from tokenfab.errors import UsageError

# prefill_tokens_per_j where a cost reports it (TeLLMe: its decode is the calibration
# point, its prefill a prediction)
HEADLINES = ("tokens_per_j", "prefill_tokens_per_j", "chip_power_w", "area_mm2",
             "usd_per_mtoken")
UNRANGED = (0.5, 2.0)       # a W datum without a sourced range: half and twice its value


@contextlib.contextmanager
def _reads():
    """The (file, path) of every datum read inside the block."""
    seen: set = set()
    original = tech.leaf

    def leaf(*path: str, file: str = "tech") -> dict:
        node = original(*path, file=file)
        if isinstance(node, dict) and "value" in node:
            seen.add((file, path))
        return node
    tech.leaf = leaf
    try:
        yield seen
    finally:
        tech.leaf = original


@contextlib.contextmanager
def _set(file: str, path: tuple, value: float):
    """The datum at ``path`` of ``file`` set to ``value`` inside the block."""
    node = tech.leaf(*path, file=file)
    old = node["value"]
    node["value"] = value
    try:
        yield
    finally:
        node["value"] = old


def _figures(result) -> dict:
    d = result.to_dict()
    out = {}
    for key in HEADLINES:
        v = d.get(key)
        if isinstance(v, (list, tuple)):          # a (low, high) pair: its middle
            v = sum(v) / len(v)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return out


def sensitivity(run: Callable[[], object], progress=None) -> list[dict]:
    """``run()`` costs the design (a ``Design.cost`` call); one row per W datum it reads,
    with the datum, its source, the values tried and each headline at both ends, as
    relative moves from the baseline, after the baseline's figures: ``{"baseline": {...},
    "weak_data": [row, ...]}``, rows sorted by their largest move."""
    say = progress or (lambda msg: None)
    with _reads() as seen:
        base = _figures(run())
    weak = sorted((f, p) for f, p in seen
                  if tech.leaf(*p, file=f).get("confidence") == "W")
    rows = []
    for i, (file, path) in enumerate(weak, 1):
        node = tech.leaf(*path, file=file)
        value = float(node["value"])
        ranged = "low" in node and "high" in node
        ends = ((float(node["low"]), float(node["high"])) if ranged
                else (value * UNRANGED[0], value * UNRANGED[1]))
        if node.get("unit") == "1" and 0 < value <= 1:      # a fraction stays one
            ends = (ends[0], min(ends[1], 1.0))
        say(f"sensitivity: {i}/{len(weak)} {file}:{'.'.join(path)}")
        moved, refused = [], []
        for end in ends:
            with _set(file, path, end):
                try:
                    moved.append(_figures(run()))
                    refused.append(None)
                except UsageError as e:     # refused at this end (a die past the reticle)
                    moved.append({})
                    refused.append(str(e))
        row = {"datum": f"{file.removesuffix('.json')}.json:{'.'.join(path)}",
               "value": value, "unit": node.get("unit", ""),
               "low": ends[0], "high": ends[1],
               "range": "the sources' range" if ranged else "half and twice: no range given",
               "source": node.get("source", ""),
               "refused_at_low": refused[0], "refused_at_high": refused[1]}
        for key, b in base.items():
            lo, hi = moved[0].get(key), moved[1].get(key)
            row[f"{key}_at_low"] = lo
            row[f"{key}_at_high"] = hi
            row[f"{key}_move"] = max([abs(v / b - 1) for v in (lo, hi)
                                      if b and v is not None], default=0.0)
        rows.append(row)
    rows.sort(key=lambda r: -max(r.get(f"{k}_move", 0.0) for k in base))
    return {"baseline": base, "weak_data": rows}


def text(result: dict) -> str:
    """The table ``tokenfab cost --sensitivity`` prints: each datum, the values tried and
    each headline's value at both ends."""
    from tokenfab.display import cell
    base = result["baseline"]
    width = max(map(len, base), default=0)
    lines = ["baseline: " + ", ".join(f"{k} {cell(k, v)}" for k, v in base.items()), ""]
    for r in result["weak_data"]:
        unit = "" if r["unit"] == "1" else f" {r['unit']}"
        lines.append(f"{r['datum']}  {r['value']:g}{unit}, tried {r['low']:g} and "
                     f"{r['high']:g} ({r['range']})")
        for end in ("low", "high"):
            if r[f"refused_at_{end}"]:
                lines.append(f"    at {r[end]:g}{unit}: refused: {r[f'refused_at_{end}']}")
        for k in base:
            lo, hi = r[f"{k}_at_low"], r[f"{k}_at_high"]
            if r[f"{k}_move"] > 5e-4:
                lines.append(f"    {k:<{width}} {cell(k, lo) if lo is not None else '-'} .. "
                             f"{cell(k, hi) if hi is not None else '-'}  "
                             f"(at most {100 * r[f'{k}_move']:.1f}% from the baseline)")
        if all(r[f"{k}_move"] <= 5e-4 for k in base):
            lines.append("    no headline moves")
    return "\n".join(lines)
