"""Cost of an engine running a layer: area by block (units from their component counts,
each buffer in the one SRAM model at its real size) and the layer's energy from what its
schedule moves (``arch_models/common/engine.py`` and the engine's ``timing.outputs``): the
units' steps and clock, every buffer write and read, and the DRAM traffic."""
from __future__ import annotations

import dataclasses
import math

from tokenfab.cost_models import energy, tech


@dataclasses.dataclass
class EngineCost:
    node: str
    clock_hz: float
    memory: str
    cycles: float
    seconds: float
    macs: int
    area_mm2: float
    blocks_mm2: dict
    energy_j: dict                 # by part: units, buffers, dram, leakage
    dram_bytes: dict               # read, written

    @property
    def energy_per_mac_j(self) -> float:
        return sum(self.energy_j.values()) / self.macs

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.update(energy_total_j=sum(self.energy_j.values()),
                 energy_per_mac_j=self.energy_per_mac_j,
                 power_w=sum(self.energy_j.values()) / self.seconds)
        return d


def buffers(p) -> dict:
    """Each buffer: (instances, bytes of one, row bits)."""
    U, gpb = p.units, p.buf_n // p.units
    a_row, w_row, o_row = (p.a_words * p.data_bits, p.w_words * p.data_bits,
                           p.o_words * p.data_bits)
    return {"act": (1, 2 * p.buf_m * p.buf_k * a_row / 8, a_row),
            "weight": (U, 2 * gpb * p.buf_k * w_row / 8, w_row),
            "out": (U, 2 * p.buf_m * gpb * o_row / 8, o_row)}


def traffic(p, L, mapping: dict, outputs) -> dict:
    """Rows each buffer is written and read, and the DRAM words, over the layer;
    ``outputs(mt, nt, kt, kb)`` gives the partial-sum tiles each unit writes into its
    output buffer in a step and how many of them it adds to what it read."""
    from tokenfab.arch_models.common.engine import block_sizes, steps
    t = dict.fromkeys(("act_w", "act_r", "weight_w", "weight_r", "out_w", "out_r",
                       "dram_r", "dram_w", "tiles", "beats"), 0)
    for step in steps(L, mapping):
        mt, nt, kt = block_sizes(L, mapping, step)
        kb = step[2]
        groups = math.ceil(nt / p.units)
        t["act_w"] += mt * kt
        t["weight_w"] += nt * kt
        t["dram_r"] += mt * kt * p.a_words + nt * kt * p.w_words
        t["act_r"] += mt * groups * kt
        t["weight_r"] += mt * groups * kt * p.units
        writes, adds = outputs(mt, nt, kt, kb)
        t["out_w"] += writes * p.units
        t["out_r"] += adds * p.units
        t["tiles"] += mt * groups
        t["beats"] += mt * groups * kt
        if kb + mapping["kt"] >= L.kb:               # the block is stored
            t["out_r"] += mt * nt
            t["dram_w"] += mt * nt * p.o_words
    return t


def engine_cost(p, L, mapping: dict, cycles: float, unit, outputs, *, node="28nm",
                clock_hz: float = 1e9, memory: str = "lpddr5x") -> EngineCost:
    """The cost of layer ``L`` under ``mapping`` in ``cycles``; ``unit`` is the unit's
    ``Components``, ``outputs`` as ``traffic``'s."""
    n = tech.check_node(node)
    blocks = {"units": p.units * unit.area_m2(n) * 1e6}
    bufs = buffers(p)
    for name, (count, nbytes, _) in bufs.items():
        blocks[f"{name}_buffer"] = count * energy.sram_macro_area_m2(8 * nbytes, n) * 1e6
    t = traffic(p, L, mapping, outputs)
    seconds = cycles / clock_hz
    e_units = p.units * (cycles * unit.clock_j(n)
                         + t["beats"] * p.unit.cycles_per_tile * unit.data_j(n))
    e_buf = 0.0
    for name, (count, nbytes, row) in bufs.items():
        e_buf += row * (t[f"{name}_w"] * energy.sram_energy_per_bit(nbytes, n, write=True)
                        + t[f"{name}_r"] * energy.sram_energy_per_bit(nbytes, n))
    per_byte = energy.dram_price(memory).value
    dram = {"read": t["dram_r"] * p.word_bytes, "written": t["dram_w"] * p.word_bytes}
    leak = seconds * (p.units * unit.leakage_w(n, clock_hz)
                      + sum(c * energy.sram_leakage_w(b, n) for c, b, _ in bufs.values()))
    macs = L.mb * L.nb * L.kb * p.tile_m * p.tile_n * p.tile_k
    return EngineCost(
        node=f"{n}nm", clock_hz=clock_hz, memory=memory, cycles=cycles, seconds=seconds,
        macs=macs, area_mm2=sum(blocks.values()), blocks_mm2=blocks,
        energy_j={"units": e_units, "buffers": e_buf,
                  "dram": per_byte * (dram["read"] + dram["written"]), "leakage": leak},
        dram_bytes=dram)
