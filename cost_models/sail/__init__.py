"""Cost hooks of SAIL: the C-SRAM block's area and energy from its components, the CPU's
energy prices, and the comparisons the paper reports (speed-up and tokens per dollar
against the same CPU without SAIL, cost efficiency against a V100).

Per block (one per LLC slice), as the RTL builds it (``tokenfab.hw.sail.top``): SRAM for
the ``arrays`` 8 KB table arrays, the accumulator banks (one row of every output's
accumulator per token slot) and the pattern-reuse table's rows; flip-flops and logic for
the working accumulators with one adder per output, the table's tags and compare, the
weight latches and table-build adders, the 16 conversion shifters and the 8
dequantisation units. The die it sits on: Graviton2's
30 billion transistors at TSMC N7's logic density.
"""
from __future__ import annotations

import dataclasses
from collections import Counter

from tokenfab import calibration
from tokenfab.arch_models import systems
from tokenfab.cost_models import die, energy, tech
from tokenfab.cost_models.components import (Components, adder, barrel_shifter,
                                             int_times_fp16_to_fp32, mux_tree, register,
                                             times)
from tokenfab.hw.sail.params import BITLINES, LINE_BITS, WORDLINES
from tokenfab.results import Frameable, Price, Pricing, SimulationResult

NODE = 7
ARRAY_BYTES = WORDLINES * BITLINES // 8


def block_components(p) -> Components:
    """The block's logic. ``per_step``: one lookup's work (the accumulate of every
    output, the table compare); ``per_tile``: one table build step."""
    O, A, N = p.outputs_per_array, p.arrays, p.outputs
    lookup = (times(adder(p.acc_bits), N) + times(mux_tree(2, p.acc_bits), N)
              + Counter(xor2=p.prt_entries * p.nbw))
    build = times(adder(p.entry_bits) + mux_tree(p.nbw, p.weight_bits), N)
    storage = (register(N * p.acc_bits)                         # the working sums
               + register(p.prt_entries * (p.nbw + 1))          # the table's tags
               + register(p.nbw * A * O * p.weight_bits))       # the weight latches
    convert = (times(barrel_shifter(11, 31) + adder(6), 16) + times(adder(5), 15)
               + times(int_times_fp16_to_fp32(p.acc_bits + 1), 8))
    return Components(lookup, build, 1, shared=storage + build + convert)


def sram_bits(p) -> dict:
    """SRAM per block: the table arrays, the accumulator banks, the reuse table's rows."""
    return {"arrays": p.arrays * ARRAY_BYTES * 8,
            "banks": p.slots * p.outputs * p.acc_bits,
            "prt": p.prt_entries * p.arrays * p.outputs_per_array * p.entry_bits}


def memories(p) -> dict:
    """The block RTL's memories, name -> (words it addresses, bits per word): the slice
    window's lines, the C-SRAM arrays (a table of ``2**nbw`` rows of a 256-row array),
    the accumulator banks and the reuse table's rows."""
    from tokenfab.hw.sail.params import LINE_BITS
    mems = {"lines": (p.lines, LINE_BITS), "banks": (p.slots, p.outputs * p.acc_bits)}
    for a in range(p.arrays):
        mems[f"array{a}"] = (min(WORDLINES, 2 ** p.nbw), p.outputs_per_array * p.entry_bits)
    if p.prt_entries:
        mems["prt"] = (p.prt_entries, p.arrays * p.outputs_per_array * p.entry_bits)
    return mems


def block_area_m2(p) -> dict:
    sram = sum(energy.sram_macro_area_m2(b, NODE) for b in sram_bits(p).values())
    logic = block_components(p).area_m2(NODE)
    return {"sram_m2": sram, "periphery_m2": logic, "total_m2": sram + logic}


def die_area_m2() -> float:
    """Graviton2's die from its transistor count at N7's logic density (an estimate: no
    die area is published)."""
    return (tech.value("graviton2", "transistors", file="platforms")
            / tech.node_value(NODE, "logic_density"))


def overhead(p, slices: int) -> float:
    return slices * block_area_m2(p)["total_m2"] / die_area_m2()


def instance_price_per_s(p, sys) -> float:
    """The c6g.16xlarge price, SAIL's scaled by its area overhead (sail_mixpe.md A.5 [D])."""
    base = tech.value("graviton2", "instance_price", file="platforms")
    return base * (1 + overhead(p, sys.slices)) if sys.sail else base


def pricing(p, run) -> Pricing:
    sys = run.spec
    tdp = tech.value("graviton2", "power", file="platforms")
    leak = tech.value("gates_28nm", "leakage_fraction")
    core_w = tdp * (1 - leak) / sys.cores
    per_event = {
        "dram_bytes": energy.dram_price(sys.memory),
        "core_s": Price("compute", core_w, True),
        "csram_row_reads": Price("sram", BITLINES * energy.sram_energy_per_bit(
            ARRAY_BYTES, NODE), True),
        "csram_row_writes": Price("sram", BITLINES * energy.sram_energy_per_bit(
            ARRAY_BYTES, NODE, write=True), True),
        "slice_line_accesses": Price("sram", LINE_BITS / 8 * energy.access_energy_per_byte(
            sys.llc_slice_bytes, NODE, sys.llc_read_energy), True),
        "acc_updates": Price("compute", energy.op_energy("int_add", p.acc_bits, NODE), True),
        "prt_lookups": Price("compute", _prt_energy(p), True),
        "bank_row_accesses": Price("sram", p.outputs * p.acc_bits * energy.sram_energy_per_bit(
            max(sram_bits(p)["banks"] / 8, 64), NODE), True),
    }
    power = {"cpu_static": Price("static", tdp * leak, True)}
    area = die_area_m2()
    if sys.sail:
        comps = block_components(p)
        power["sail_leakage"] = Price("static", sys.slices * comps.leakage_w(NODE, sys.csram_hz),
                                      True)
        area += sys.slices * block_area_m2(p)["total_m2"]
    cals = [calibration.get("gate_activity")] if sys.sail else []     # the block's leakage
    return Pricing(per_event=per_event, power_w=power, area_mm2=area * 1e6, calibrations=cals,
                   assumptions=[
        f"Graviton2 package power {tdp:.0f} W [W]: {leak:.0%} static (tech.json's leakage "
        f"share), the rest spread over busy core-seconds; {sys.memory.upper()} at "
        f"{energy.offchip_energy_per_bit(sys.memory) * 1e12:.1f} pJ/bit",
        "die area estimated from Graviton2's transistor count at N7 logic density"],
        memory=energy.memory_summary(sys.memory))


def _prt_energy(p) -> float:
    """One reuse-table probe: the tag compare of every entry and, on use, one row read
    of every array's slot in the table (register-file bits at SRAM energy)."""
    bits = p.prt_entries * p.nbw + p.arrays * BITLINES
    size = max(p.prt_entries * (p.arrays * BITLINES + p.nbw) / 8, 64)
    return bits * energy.sram_energy_per_bit(size, NODE)


def tokens_per_usd(tokens_per_s: float, usd_per_s: float) -> float:
    return tokens_per_s / usd_per_s if usd_per_s else 0.0


def companions(p, result: SimulationResult) -> dict:
    """The paper's comparisons for the same request: ``baseline`` (the CPU without SAIL,
    every key of a result), ``speedup`` (decode tokens/s), ``tokens_per_usd_ratio``
    (decode tokens per dollar of instance time) and ``cost_efficiency_vs_v100``."""
    from tokenfab.arch_models.sail import timing
    from tokenfab.arch_models.sail.system import gpu_decode
    from tokenfab.arch_models.workloads import Request
    run = result.run
    req = Request(run.config, run.batch, run.prompt, run.gen, extend_context=True)
    base_run = timing.simulate(p, req, run.spec, sail=False)
    base = SimulationResult(base_run, pricing(p, base_run))
    ours, theirs = result.to_dict(), base.to_dict()
    price = instance_price_per_s(p, run.spec)
    base_price = instance_price_per_s(p, base_run.spec)
    tpd = tokens_per_usd(ours["decode_tokens_per_s"], price)
    base_tpd = tokens_per_usd(theirs["decode_tokens_per_s"], base_price)
    gpu = gpu_decode(run.config, run.batch, run.prompt + run.gen // 2)
    gpu_price = gpu["gpus"] * tech.value("v100", "instance_price", file="platforms")
    gpu_tpd = tokens_per_usd(gpu["decode_tokens_per_s"], gpu_price)
    theirs["tokens_per_dollar"] = base_tpd
    return {
        "baseline": theirs,
        "speedup": ours["decode_tokens_per_s"] / theirs["decode_tokens_per_s"],
        "tokens_per_dollar": tpd,
        "tokens_per_usd_ratio": tpd / base_tpd,
        "cost_efficiency_vs_v100": tpd / gpu_tpd,
        "v100": {**gpu, "tokens_per_dollar": gpu_tpd, "usd_per_h": gpu_price * 3600},
        "area_overhead": overhead(p, run.spec.slices),
    }


@dataclasses.dataclass
class SailCost(Frameable):
    HEADLINE = ("slices", "area_overhead", "speedup", "decode_tokens_per_s", "tokens_per_dollar", "tokens_per_j")

    design: str
    model: str
    node: str
    params: dict
    block_area_mm2: dict          # one block: SRAM arrays, periphery, total
    block_gates: dict             # the periphery's gate counts
    slices: int
    die_area_mm2: float
    area_overhead: float          # all blocks over the die (the paper's "2 %")
    instance_usd_per_h: float
    baseline_usd_per_h: float
    decode_tokens_per_s: float
    baseline_decode_tokens_per_s: float
    speedup: float
    tokens_per_dollar: float
    tokens_per_usd_ratio: float
    cost_efficiency_vs_v100: float
    tokens_per_j: float
    chip_power_w: float
    area_mm2: float               # the CPU die with its SAIL blocks
    chip_peak_power_w: float      # every core busy (the package power), every block at
                                  # its full rate
    blocks: dict = dataclasses.field(default_factory=dict)   # area and peak by block
    package_floor: dict = dataclasses.field(default_factory=dict)   # die.package_floor

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def chip_blocks(p, sim) -> dict:
    """The die by block: the Graviton2-class CPU (its datasheet die and its package power
    with every core busy) and the SAIL blocks, each at its full rate: a lookup step of its
    logic every C-SRAM cycle, a row read of every array and a line access of its LLC slice
    each cycle, and its leakage. Their sum is ``area_mm2`` and ``chip_peak_power_w``."""
    sys, ev = sim.run.spec, sim.pricing.per_event
    blocks = {"cpu": {"area_mm2": die_area_m2() * 1e6,
                      "peak_power_w": tech.value("graviton2", "power", file="platforms"),
                      "source": "Graviton2 die and package power (platforms.json)"}}
    if sys.sail:
        comps, f = block_components(p), sys.csram_hz
        per_block = (comps.energy_per_step_j(NODE) * f + comps.leakage_w(NODE, f)
                     + f * (p.arrays * ev["csram_row_reads"].value
                            + ev["slice_line_accesses"].value))
        blocks["sail_blocks"] = {
            "area_mm2": sys.slices * block_area_m2(p)["total_m2"] * 1e6,
            "peak_power_w": sys.slices * per_block,
            "source": f"{sys.slices} blocks, one per LLC slice (component counts, C-SRAM "
                      "arrays in the SRAM model)"}
    return blocks


def design_cost(design, node=None, model=None, system=None, volume: int = 1,
                rtl_area: bool = False, overrides=()) -> SailCost:
    """``tokenfab cost sail``: the block's area from its components, the overhead on the
    Graviton2 die, instance prices and, for ``model`` (batch 8, prompt 128, gen 64), the
    comparisons with the N1 baseline and the V100."""
    from tokenfab.errors import UsageError, option
    if node not in (None, "7nm", 7):
        raise UsageError(f"SAIL sits in a 7 nm Graviton2-class CPU; "
                         f"{option('node', '--node')} must be 7nm, not {node!r}")
    if rtl_area:
        raise UsageError(f"{option('rtl_area=True', '--rtl-area')} applies to ASIC tile "
                         "designs; for SAIL the block's area comes from its component counts "
                         "(and `tokenfab fpga sail`)")
    p = design.params
    sim = design.simulate(model=model or "llama-2-7b", batch=p.slots, prompt=128, gen=64,
                          system=system, overrides=overrides)
    out = sim.to_dict()
    sys = sim.run.spec
    blk = block_area_m2(p)
    blocks = chip_blocks(p, sim)
    peak = sum(b["peak_power_w"] for b in blocks.values())
    memory = systems.load(system or sys.name, overrides).memory
    floor = die.package_floor(memory.technology, memory.bus_bits, peak, NODE)
    return SailCost(
        design=design.name, model=sim.run.config.name, node="7nm", params=p.to_dict(),
        block_area_mm2={k.replace("_m2", ""): v * 1e6 for k, v in blk.items()},
        block_gates=dict(block_components(p).gates()), slices=sys.slices,
        die_area_mm2=die_area_m2() * 1e6, area_overhead=overhead(p, sys.slices),
        instance_usd_per_h=instance_price_per_s(p, sys) * 3600,
        baseline_usd_per_h=tech.value("graviton2", "instance_price", file="platforms") * 3600,
        decode_tokens_per_s=out["decode_tokens_per_s"],
        baseline_decode_tokens_per_s=out["baseline"]["decode_tokens_per_s"],
        speedup=out["speedup"], tokens_per_dollar=out["tokens_per_dollar"],
        tokens_per_usd_ratio=out["tokens_per_usd_ratio"],
        cost_efficiency_vs_v100=out["cost_efficiency_vs_v100"],
        tokens_per_j=out["tokens_per_j"], chip_power_w=out["chip_power_w"],
        area_mm2=max(out["area_mm2"], floor["area_mm2"]), blocks=blocks,
        chip_peak_power_w=peak, package_floor=floor)
