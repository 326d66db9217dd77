"""Two designs compared fairly: on the same system, model and node, with the second
scaled to the first's area or throughput (``tokenfab compare A B --iso area``).

``iso="area"``: B's unit count is chosen so that its units take the silicon A's units
take (the buffers, vector unit and memory interface of the shared system are the same
for both). ``iso="throughput"``: so that its units' peak operations per second equal
A's. The count is whole units, so the match is within one of B's units; the result says
how close it is. Both designs are then costed (whole die, tokens/J, $/Mtok) and simulated
on the same request, and every headline of B is given as a ratio to A's.
"""
from __future__ import annotations

from tokenfab.errors import UsageError, option

ISO = ("area", "throughput")
FIGURES = ("units", "units_area_mm2", "area_mm2", "peak_ops_per_s", "decode_tokens_per_s",
           "ttft_s", "tokens_per_j", "chip_power_w", "usd_per_mtoken")


def _figures(design, overrides, **kw) -> dict:
    """The headlines of one design's cost (which simulates the request once)."""
    c = design.cost(overrides=overrides, **kw).to_dict()
    return {"units_area_mm2": c["blocks"]["units"]["area_mm2"],
            **{k: c[k] for k in FIGURES if k != "units_area_mm2"}}


def compare(a, b, iso: str = "area", model: str = "llama-2-7b", system=None, node=None,
            overrides=None) -> dict:
    """Design ``b`` scaled to ``a``'s units' area or peak throughput (``iso``), both on
    ``system`` (default: ``a``'s first), at ``node``, running ``model`` as ``cost`` does.
    ``a`` and ``b`` are ``tokenfab.design(...)`` objects. Returns both designs' figures,
    B's scaling and B's figures over A's."""
    from tokenfab import api
    if iso not in ISO:
        raise UsageError(f"{option('iso', '--iso')} must be one of {', '.join(ISO)}, "
                         f"not {iso!r}")
    for d in (a, b):
        if not isinstance(d, api.Design):
            raise UsageError(f"compare takes two tokenfab.design(...) objects, not {d!r}")
        if hasattr(d.entry.cost, "design_cost"):
            raise UsageError(f"compare scales the unit count of the tile designs and arrays "
                             f"on a shared system; {d.name} is a system of its own (its cost "
                             f"has no unit count to scale)")
    from tokenfab.arch_models import systems
    base = dict(systems.parse_overrides(overrides) or {})
    if "engines.count" in base:
        raise UsageError("compare sets engines.count itself (the unit count it scales); "
                         "leave it out of the overrides")
    kw = dict(model=model, system=system, node=node)
    fa = _figures(a, base or None, **kw)
    fb0 = _figures(b, base or None, **kw)
    key = "units_area_mm2" if iso == "area" else "peak_ops_per_s"
    per_unit = fb0[key] / fb0["units"]
    scale = b.params.array_scale if hasattr(b.params, "array_scale") else 1
    count = max(1, round(fa[key] / per_unit / scale))
    fb = _figures(b, {**base, "engines.count": count}, **kw)
    match = fb[key] / fa[key] - 1
    what = "units' area" if iso == "area" else "units' peak operations per second"
    return {
        "iso": iso, "model": model, "system": system or "(each design's first)",
        "a": {"design": a.name, "params": a.params.to_dict(), **fa},
        "b": {"design": b.name, "params": b.params.to_dict(), **fb},
        "scaling": (f"{b.name} runs {fb['units']} units (engines.count={count}; "
                    f"{fb0['units']} by default) so that its {what} matches {a.name}'s "
                    f"within one unit: {100 * match:+.1f}%"),
        "b_over_a": {k: fb[k] / fa[k] for k in FIGURES if fa.get(k)},
    }
