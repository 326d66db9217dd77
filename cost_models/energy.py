"""Energy per event, by node, and energy reports that add up.

- arithmetic (``op_energy``): Horowitz's 45 nm figures, integer adds interpolated linearly
  in width, integer multiplies as a power law through the 8- and 32-bit points (exponent
  ~2); FP16 and FP32 only; scaled to the node by the Stillmaker-Baas energy factor;
- SRAM (``sram_energy_per_bit``): CACTI 7 per-bit read energy interpolated in log(size)
  between 8 KB, 32 KB and 1 MB macros, from the 45 nm run at 45 nm and the 22 nm run
  below, scaled by node; writes cost ``write_to_read`` times a read;
- DRAM and links (``offchip_energy_per_bit``): interface-dominated, not node-scaled.

An ``EnergyReport`` is events x energy per event plus static power x time, kept by
category; reports add (layers, phases, chips) and scale (``n * report``).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from tokenfab.cost_models import tech
from tokenfab.errors import UsageError
from tokenfab.params import checked, integer, number
from tokenfab.results import Frameable, Price

OPS = ("int_add", "int_mult", "fp_add", "fp_mult")
LINKS = {"pcie": ("links", "pcie_energy_per_bit")}


def memory_technologies() -> list[str]:
    """The off-chip memory technologies with an energy per bit (``tech.json``)."""
    return [k for k in tech.tech()["offchip_memory"] if not k.startswith("_")]


def _h(name: str) -> float:
    return tech.value("horowitz_45nm", name)


@checked(bits=integer(1, 64))
def op_energy(op: str, bits: int, node) -> float:
    """Joules of one ``op`` on ``bits``-wide operands at ``node``."""
    n = tech.check_node(node)
    if op not in OPS:
        raise UsageError(f"operation must be one of {', '.join(OPS)}, not {op!r}")
    if op == "int_add":
        pts = [(8, _h("int8_add")), (16, _h("int16_add")), (32, _h("int32_add"))]
        lo, hi = (pts[0], pts[1]) if bits <= 16 else (pts[1], pts[2])
        # linear between the source's points (and on from its 8-16 bit line below 8)
        e = lo[1] + (hi[1] - lo[1]) * (bits - lo[0]) / (hi[0] - lo[0])
    elif op == "int_mult":
        k = math.log(_h("int32_mult") / _h("int8_mult")) / math.log(4)
        e = _h("int8_mult") * (bits / 8) ** k
    else:
        if bits not in (16, 32):
            raise UsageError(f"floating-point width must be 16 or 32, not {bits}")
        e = _h(f"fp{bits}_{op.split('_')[1]}")
    return e * tech.scale(n, "energy", ref=45)


def _cacti_ref(node: int) -> int:
    return 45 if node >= 45 else 22


@checked(size_bytes=number(0, lo_open=True))
def sram_energy_per_bit(size_bytes: float, node, write: bool = False) -> float:
    """Joules per bit of one access to an SRAM macro of ``size_bytes`` at ``node``."""
    n = tech.check_node(node)
    ref = _cacti_ref(n)
    table = tech.tech()["sram_cacti"][str(ref)]
    pts = sorted((tech.value("sram_cacti", str(ref), k, "size_bytes"),
                  tech.value("sram_cacti", str(ref), k, "read_energy_per_bit")) for k in table)
    x = min(max(math.log(size_bytes), math.log(pts[0][0])), math.log(pts[-1][0]))
    for (s0, e0), (s1, e1) in zip(pts, pts[1:]):
        if x <= math.log(s1):
            t = (x - math.log(s0)) / (math.log(s1) - math.log(s0))
            e = math.exp(math.log(e0) + t * (math.log(e1) - math.log(e0)))
            break
    e *= tech.scale(n, "energy", ref=ref)
    return e * tech.value("sram_28nm", "write_to_read") if write else e


def access_energy_per_byte(size_bytes: float, node, own: float | None = None,
                           write: bool = False) -> float:
    """J per byte read (written) at an on-chip memory of ``size_bytes`` per instance:
    ``own``, a system file's sourced figure, or CACTI's per-bit energy for a macro of that
    size at ``node`` (a register file, an FPGA's BRAM or URAM, an LLC slice alike)."""
    return own if own is not None else 8 * sram_energy_per_bit(size_bytes, node, write)


def level_prices(levels, node) -> dict:
    """J per byte read and written at each on-chip level of a system file
    (``<name>_read_bytes``, ``<name>_write_bytes``): ``access_energy_per_byte`` of one
    instance."""
    out = {}
    for lv in levels:
        read = access_energy_per_byte(lv.capacity, node, lv.read_energy)
        write = access_energy_per_byte(lv.capacity, node, lv.write_energy, write=True)
        out[f"{lv.name}_read_bytes"] = Price("sram", read, True, level=lv.name)
        out[f"{lv.name}_write_bytes"] = Price("sram", write, True, level=lv.name)
    return out


@checked(size_bytes=number(0))
def sram_leakage_w(size_bytes: float, node) -> float:
    """Leakage of ``size_bytes`` of SRAM: the CACTI run's per-bit leakage of its 8 KB macro
    at the reference node below ``node`` (not scaled: leakage does not follow the dynamic
    scaling factors)."""
    ref = str(_cacti_ref(tech.check_node(node)))
    per_bit = (tech.value("sram_cacti", ref, "8KB", "leakage")
               / (8 * tech.value("sram_cacti", ref, "8KB", "size_bytes")))
    return 8 * size_bytes * per_bit


@checked(bits=number(0))
def sram_macro_area_m2(bits: float, node) -> float:
    """Area of ``bits`` of SRAM at ``node``: bit cells over the array efficiency."""
    n = tech.check_node(node)
    eff = tech.value("sram_array_efficiency", file="nodes")
    return bits * tech.node_value(n, "sram_bitcell_area") / eff


def _offchip_path(kind: str) -> tuple:
    if kind in LINKS:
        return LINKS[kind]
    if kind not in memory_technologies():
        raise UsageError(f"memory or link must be one of "
                         f"{', '.join(memory_technologies() + list(LINKS))}, not {kind!r}")
    return ("offchip_memory", kind)


def offchip_energy_per_bit(kind: str) -> float:
    """Joules per bit moved over an off-chip memory technology (``hbm3``, ``lpddr5x``,
    ``ddr4``, ...) or a link (``pcie``)."""
    return tech.value(*_offchip_path(kind))


def offchip_energy_range(kind: str) -> tuple[float, float]:
    """The ``(low, high)`` joules per bit that the sources give for ``kind``."""
    return tech.bounds(*_offchip_path(kind))


@checked(bits_per_event=number(0), minus_j_per_bit=number(0))
def offchip_price(kind: str, bits_per_event: float = 8, category: str = "dram",
                  minus_j_per_bit: float = 0.0) -> Price:
    """The off-chip price of one event moving ``bits_per_event`` bits over the memory or
    link ``kind``, with the sources' low and high ends; ``minus_j_per_bit`` is a part
    counted elsewhere (a memory PHY's own power holds the I/O share)."""
    lo, hi = offchip_energy_range(kind)
    return Price(category, bits_per_event * (offchip_energy_per_bit(kind) - minus_j_per_bit),
                 False, bits_per_event * (lo - minus_j_per_bit),
                 bits_per_event * (hi - minus_j_per_bit))


@checked(bits_per_event=number(0))
def dram_price(kind: str, bits_per_event: float = 8) -> Price:
    """The ``dram`` price of one event moving ``bits_per_event`` bits of ``kind``."""
    return offchip_price(kind, bits_per_event)


def memory_summary(kind: str) -> dict:
    """What a result reports of its memory's energy: technology, the pJ/bit used and the
    sources' range, with the source and its confidence."""
    lo, hi = offchip_energy_range(kind)
    node = tech.leaf("offchip_memory", kind)
    return {"technology": kind, "pj_per_bit": offchip_energy_per_bit(kind) * 1e12,
            "pj_per_bit_low": lo * 1e12, "pj_per_bit_high": hi * 1e12,
            "confidence": node["confidence"], "source": node["source"]}


@dataclasses.dataclass
class EnergyReport(Frameable):
    """Joules by category (``dynamic``) plus static energy, over ``seconds``."""
    dynamic: dict = dataclasses.field(default_factory=dict)
    static_j: float = 0.0
    seconds: float = 0.0

    @property
    def total_j(self) -> float:
        return sum(self.dynamic.values()) + self.static_j

    @property
    def average_power_w(self) -> float:
        return self.total_j / self.seconds if self.seconds else 0.0

    def __add__(self, other: "EnergyReport") -> "EnergyReport":
        keys = dict.fromkeys([*self.dynamic, *other.dynamic])
        return EnergyReport({k: self.dynamic.get(k, 0.0) + other.dynamic.get(k, 0.0)
                             for k in keys}, self.static_j + other.static_j,
                            self.seconds + other.seconds)

    def __radd__(self, other):
        return self if other == 0 else self.__add__(other)

    def __rmul__(self, n: float) -> "EnergyReport":
        """``n`` identical chips running side by side: energy scales, time does not."""
        return EnergyReport({k: n * v for k, v in self.dynamic.items()}, n * self.static_j,
                            self.seconds)

    def to_dict(self) -> dict:
        return {"dynamic_j": dict(self.dynamic), "static_j": self.static_j,
                "total_j": self.total_j, "seconds": self.seconds}


@checked(static_w=number(0), seconds=number(0))
def energy_report(events: Mapping[str, float], per_event_j: Mapping[str, float],
                  static_w: float = 0.0, seconds: float = 0.0) -> EnergyReport:
    """Events x energy per event + static power x time. Every counted event needs a price."""
    missing = sorted(k for k, v in events.items() if v and k not in per_event_j)
    if missing:
        raise UsageError(f"no energy per event for {', '.join(missing)}; "
                         f"known: {', '.join(sorted(per_event_j))}")
    return EnergyReport({k: v * per_event_j[k] for k, v in events.items() if v},
                        static_w * seconds, seconds)
