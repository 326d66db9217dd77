"""Dies per wafer, yield and the cost of a good die.

Formulas (areas in m2 inside, defect density in defects per m2):

- gross dies: ``pi (d/2)^2 / A - pi d / sqrt(2 A)`` on the usable diameter ``d`` (wafer
  diameter minus twice the edge exclusion), with the scribe line added to the die side;
  rounded down to whole dies;
- Poisson ``exp(-A D0)``; Murphy ``((1 - exp(-A D0)) / (A D0))^2``; negative binomial
  ``(1 + A D0 / alpha)^-alpha``; Seeds ``1 / (1 + A D0)``;
- cost per good die = wafer price / (gross dies x yield), the expected number of good dies
  (not rounded);
- a packaged, tested part adds package, assembly and test and divides by the test yield.
"""
from __future__ import annotations

import dataclasses
import math

from tokenfab.cost_models import tech
from tokenfab.errors import UsageError
from tokenfab.params import checked, integer, number
from tokenfab.results import Frameable

YIELD_MODELS = ("poisson", "murphy", "negative-binomial", "seeds")


@checked(area_m2=number(0, lo_open=True), diameter_m=number(0, lo_open=True),
         edge_m=number(0), scribe_m=number(0))
def gross_dies(area_m2: float, diameter_m: float | None = None, edge_m: float | None = None,
               scribe_m: float | None = None) -> int:
    d = (diameter_m if diameter_m is not None else tech.econ("wafer", "diameter"))
    d -= 2 * (edge_m if edge_m is not None else tech.econ("wafer", "edge_exclusion"))
    side = math.sqrt(area_m2) + (scribe_m if scribe_m is not None else tech.econ("wafer", "scribe"))
    a = side * side
    return max(0, math.floor(math.pi * (d / 2) ** 2 / a - math.pi * d / math.sqrt(2 * a)))


@checked(area_m2=number(0), d0_per_m2=number(0), alpha=number(0, lo_open=True))
def die_yield(area_m2: float, d0_per_m2: float, model: str = "murphy",
              alpha: float | None = None) -> float:
    x = area_m2 * d0_per_m2
    if model == "poisson":
        return math.exp(-x)
    if model == "murphy":
        # expm1: 1 - exp(-x) loses its digits for a small die (a yield above 1)
        return 1.0 if x == 0 else min(1.0, (-math.expm1(-x) / x) ** 2)
    if model == "negative-binomial":
        a = alpha if alpha is not None else tech.econ("wafer", "negative_binomial_alpha")
        return (1 + x / a) ** -a
    if model == "seeds":
        return 1 / (1 + x)
    raise UsageError(f"yield model must be one of {', '.join(YIELD_MODELS)}, not {model!r}")


def reticle_mm2() -> float:
    return tech.econ("wafer", "reticle_field") * 1e6


@checked(area_mm2=number(0))
def check_reticle(area_mm2: float, what: str = "die") -> None:
    """Refuse a single die larger than one scanner exposure field."""
    limit = reticle_mm2()
    if not area_mm2 <= limit:
        raise UsageError(f"{what} area must be at most the reticle limit of {limit:.0f} mm2 "
                         f"(one 26 x 33 mm exposure field), not {area_mm2:.1f} mm2")


# Memory technologies whose signals a die's bumps carry: (bits of a channel, its signal
# count in tech.json's ``package``); HBM's run on the interposer's microbumps.
CHANNELS = {"lpddr5": (16, "lpddr5_signals_per_channel"),
            "lpddr5x": (16, "lpddr5_signals_per_channel")}


def _memory_kind(name, value):
    from tokenfab.cost_models.energy import memory_technologies
    kinds = memory_technologies()
    if value not in kinds:
        raise UsageError(f"{name} must be one of {', '.join(kinds)}, not {value!r}")


@checked(memory=_memory_kind, bus_bits=integer(0), peak_power_w=number(0))
def package_floor(memory: str, bus_bits: int, peak_power_w: float, node) -> dict:
    """The smallest die its package lets carry its memory bus and its peak current (areas in
    mm2), whichever of two floors is larger:

    - bumps: a flip-chip area array at the smallest pitch the sources give, holding the
      memory channels' signals (``CHANNELS``) and a VDD and a VSS bump for every
      ``bump_current`` of the peak current at the node's supply (the largest current
      per bump the sources give, so the fewest bumps);
    - edge: HBM stacks beside a square die, spread over its four sides, each taking its
      package's width of the die's edge.

    Both are lower bounds: the host link's lanes, clocks, test and spare bumps are not
    counted, and the bump array is taken as the whole die."""
    n = tech.check_node(node)
    pitch = tech.value("package", "flip_chip_bump_pitch")
    amps = tech.value("package", "bump_current")
    vdd = tech.node_value(n, "vdd")
    notes = []
    signals, edge_m = 0, 0.0
    width = f"{memory}_stack_width"
    if memory.startswith("hbm") and bus_bits and width not in tech.data("tech")["package"]:
        notes.append(f"no stack width for {memory}: its edge is not counted")
    elif memory.startswith("hbm") and bus_bits:
        stacks = math.ceil(bus_bits / 1024)
        edge_m = math.ceil(stacks / 4) * tech.value("package", width)
        notes.append(f"{stacks} {memory.upper()} stack{'s' * (stacks > 1)} around the die, "
                     f"at most {math.ceil(stacks / 4)} a side (their signals on the "
                     "interposer's microbumps)")
    elif memory in CHANNELS:
        bits, key = CHANNELS[memory]
        channels = math.ceil(bus_bits / bits)
        signals = channels * int(tech.value("package", key))
        notes.append(f"{channels} {memory.upper()} x{bits} channels, {signals} signals")
    elif bus_bits:
        notes.append(f"no signal count for {memory} memory: its bumps are not counted")
    power_bumps = 2 * math.ceil(peak_power_w / vdd / amps)
    bump_mm2 = (signals + power_bumps) * pitch ** 2 * 1e6
    edge_mm2 = (edge_m * 1e3) ** 2
    notes.append(f"{power_bumps} power bumps: {peak_power_w:.3g} W at {vdd:g} V, "
                 f"{amps * 1e3:.0f} mA a bump, VDD and VSS; {pitch * 1e6:.0f} um pitch")
    return {"area_mm2": max(bump_mm2, edge_mm2), "bump_area_mm2": bump_mm2,
            "edge_area_mm2": edge_mm2, "signal_bumps": signals, "power_bumps": power_bumps,
            "source": "; ".join(notes)}


@dataclasses.dataclass
class DieCost(Frameable):
    area_mm2: float
    node: str
    d0_per_cm2: float
    yield_model: str
    wafer_price_usd: float
    gross_dies: int
    yield_: float
    good_dies: float
    cost_per_good_die_usd: float
    packaged_unit_cost_usd: float

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["yield"] = d.pop("yield_")
        return d


def die_cost(area_mm2: float, node, d0_per_cm2: float | None = None,
             yield_model: str = "murphy", wafer_price_usd: float | None = None,
             alpha: float | None = None) -> DieCost:
    """Die economics of one die of ``area_mm2`` at ``node``; defaults from ``nodes.json``."""
    from tokenfab.params import check_number
    n = tech.check_node(node)
    check_number("die area (mm2)", area_mm2, 0, lo_open=True)
    check_reticle(area_mm2)
    if d0_per_cm2 is not None:
        check_number("defect density (per cm2)", d0_per_cm2, 0, 100)
    if wafer_price_usd is not None:
        # at most $1M: 50x the dearest wafer in nodes.json ($20k at 3 nm): a typo, not a price
        check_number("wafer price (USD)", wafer_price_usd, 0, 1e6, lo_open=True)
    if alpha is not None:
        check_number("alpha (clustering)", alpha, 0, lo_open=True)
    if yield_model not in YIELD_MODELS:
        raise UsageError(f"yield model must be one of {', '.join(YIELD_MODELS)}, "
                         f"not {yield_model!r}")
    area = area_mm2 * 1e-6
    d0 = d0_per_cm2 * 1e4 if d0_per_cm2 is not None else tech.node_value(n, "defect_density")
    wafer = wafer_price_usd if wafer_price_usd is not None else tech.node_value(n, "wafer_price")
    gross = gross_dies(area)
    y = die_yield(area, d0, yield_model, alpha)
    good = gross * y
    per_die = wafer / good if good > 0 else math.inf
    pack = sum(tech.econ("packaging", k) for k in ("package", "assembly", "final_test"))
    return DieCost(area_mm2=area_mm2, node=f"{n}nm", d0_per_cm2=d0 / 1e4,
                   yield_model=yield_model, wafer_price_usd=wafer, gross_dies=gross,
                   yield_=y, good_dies=good, cost_per_good_die_usd=per_die,
                   packaged_unit_cost_usd=(per_die + pack) / tech.econ("packaging", "test_yield"))
