"""Cost of a system built from GEMM-tile units (LUT Tensor Core, MAC array): the energy
prices of the tile systems' events, and the default ``Design.cost`` path for designs whose
cost package has no ``design_cost`` of its own.

Area and power of the units from their component counts at the node, die cost of the
accelerator die, a first tape-out's NRE, and the simulated tokens/J and $ per million
tokens on a model (packaged die, NRE spread over ``volume``, DRAM for the weights).
"""
from __future__ import annotations

import dataclasses
import math
from collections import Counter

from tokenfab import calibration
from tokenfab.arch_models.common.system import precompute_seconds
from tokenfab.arch_models.common.tile_systems import (A100_FP16_TC_TILE, A100_TENSOR_CORES,
                                                      paper_boundary)
from tokenfab.cost_models import components as cc
from tokenfab.cost_models import die, energy, gpu, nre, tco, tech
from tokenfab.errors import UsageError, option
from tokenfab.results import Frameable, Price, Pricing

DEFAULT_MODEL = "llama-2-7b"


def _fp16_flop_j(node: int) -> float:
    """Energy of one vector-unit FLOP: half an FP16 multiply plus half an FP16 add."""
    return (cc.scaled_horowitz("fp16_mult", node) + cc.scaled_horowitz("fp16_add", node)) / 2


def system_components(p, spec, unit_components) -> cc.Components:
    """The components of one unit of ``spec``: A100's own FP16 tensor core on the MAC
    baseline of the ``a100`` preset, otherwise the design's unit (at the paper's tensor-core
    boundary on the ``a100`` preset, see ``tile_systems.paper_boundary``)."""
    if spec.fp16_tensor_cores:
        return cc.fp16_tensor_core(*spec.tile)
    return unit_components(paper_boundary(p, spec))


@dataclasses.dataclass
class UnitPrice:
    """One unit: its area (m2), its flip-flops' clock in one cycle and its gates'
    switching in one busy step (J), its leakage (W), and where they come from."""
    area_m2: float
    clock_j: float
    data_j: float
    leakage_w: float
    source: str
    calibrations: tuple = ()        # the fitted constants it rests on

    @property
    def step_j(self) -> float:
        return self.clock_j + self.data_j


def modelled_unit(comps: cc.Components, node: int, clock_hz: float) -> UnitPrice:
    return UnitPrice(comps.area_m2(node), comps.clock_j(node), comps.data_j(node),
                     comps.leakage_w(node, clock_hz),
                     f"component counts at {node} nm (ZigZag 28 nm gates, Stillmaker-Baas "
                     "scaling, the calibrated gate activity)",
                     (calibration.get("gate_activity"),))


def rtl_unit(design, spec, name: str):
    """The design whose RTL is the unit ``spec`` runs: at the paper's boundary on the
    a100 preset (its RTL holds the accumulators ``regfile_area_mm2`` counts apart).
    Refused where that unit is A100's own FP16 tensor core."""
    if spec.fp16_tensor_cores:
        raise UsageError(f"{name}: the a100 preset's MAC baseline is A100's own FP16 "
                         "tensor core, which has no RTL here; use the asic preset")
    boundary = paper_boundary(design.params, spec)
    return design if boundary is design.params else type(design)(design.name,
                                                                 **boundary.to_dict())


def synthesised_unit(design, spec, liberty, work_dir="build/asic", progress=None) -> UnitPrice:
    """The unit ``spec`` runs (at its boundary) synthesised onto ``liberty`` at the
    system's clock (``tokenfab asic``): its area, leakage, clock-pin energy per cycle
    and the rest of its dynamic energy per busy step on the bench's random operands.
    Refused where the system has no RTL for its unit or the library cannot meet the
    clock."""
    from tokenfab.cost_models import asic
    from tokenfab.cost_models.asic.model_check import busy_steps
    design = rtl_unit(design, spec, option("liberty", "--liberty"))
    period = 1 / spec.clock_hz
    r = asic.run(design, liberty, f"{period * 1e12:.0f}ps", work_dir, progress)
    if r.fmax_mhz * 1e6 < spec.clock_hz:
        raise UsageError(
            f"{design.name}: on {r.library} the unit's critical path takes "
            f"{1e3 / r.fmax_mhz:.3g} ns (Fmax {r.fmax_mhz:.0f} MHz), longer than the "
            f"system's {period * 1e9:.3g} ns clock ({spec.clock_hz / 1e6:.0f} MHz); lower the "
            f"system's clock ({option('overrides', '--set')} clock=...) or use a faster "
            "library")
    pw = r.power
    run_j = r.dynamic_w * pw["cycles"] * period
    clock_j = pw["clock_pins_w"] * period
    busy = busy_steps(design, pw)
    return UnitPrice(r.area_um2 * 1e-12, clock_j, (run_j - clock_j * pw["cycles"]) / busy,
                     r.leakage_w,
                     f"synthesised on {r.library} ({r.corner}) by tokenfab asic, "
                     f"{pw['beats']} random beats on the mapped netlist; the library is "
                     f"taken as the system's {spec.node_nm} nm process")


def pricing(p, run, unit_components, unit: UnitPrice | None = None) -> Pricing:
    """Joules per event of a tile system (``run.spec``) built from units whose components
    ``unit_components(p)`` counts (``system_components``), one gate model for every
    unit, or priced as ``unit`` gives (``synthesised_unit``); the tables an external
    precompute builds are priced as integer adds."""
    spec = run.spec
    node = spec.node_nm
    fp_flop = _fp16_flop_j(node)
    comps = system_components(p, spec, unit_components)
    unit = unit or modelled_unit(comps, node, spec.clock_hz)
    macs_per_step = spec.tile_macs / spec.cycles_per_tile
    att_mac = (unit.step_j / macs_per_step if spec.attention_on == "matrix" else 2 * fp_flop)
    leak = spec.units * unit.leakage_w
    power = static_power(spec, leak)
    dram_kind = spec.memory.kind
    dram_bit = energy.offchip_energy_per_bit(dram_kind)
    per_event = {
        "unit_steps": Price("compute", unit.clock_j, True),
        "unit_busy_steps": Price("compute", unit.data_j, True),
        "attention_macs": Price("compute", att_mac, True),
        "vector_flops": Price("compute", fp_flop, True),
        # on-chip bytes of a system file without levels: an 8 KiB macro's access (the
        # one SRAM model, energy.sram_energy_per_bit, as every level is priced)
        "sram_bytes": Price("sram", 8 * energy.sram_energy_per_bit(8192, node), True),
        "dram_bytes": dataclasses.replace(energy.dram_price(dram_kind), level="dram"),
        "host_bytes": energy.offchip_price("pcie", category="interconnect"),
        **energy.level_prices(spec.platform.levels, spec.node_nm),
    }
    if spec.table_precompute:       # one add at the table entry's width per operation
        per_event["precompute_ops"] = Price("compute", energy.op_energy(
            "int_add", paper_boundary(p, spec).lut_bits, node), True)
    cals = list(unit.calibrations)
    if spec.template == "gpu":
        per_event["sm_slot_steps"] = Price("compute", sm_slot_step_j(spec), True, level="sm")
        per_event["sm_simt_flops"] = Price("compute", gpu.simt_energy_per_flop(node), True,
                                           level="sm")
        cals += [calibration.get("gpu_sm_energy_per_mac"),
                 calibration.get("gpu_simt_energy_per_fma")]
    blocks = chip_blocks(spec, unit, per_event, power)
    floor = add_package_floor(spec, blocks)
    area = sum(b["area_mm2"] for b in blocks.values())
    lo, hi = energy.offchip_energy_range(dram_kind)
    lines = [f"units: {unit.source}",
             f"DRAM energy {dram_bit * 1e12:.2f} pJ/bit ({dram_kind}; sources' range "
             f"{lo * 1e12:.2f} - {hi * 1e12:.2f}, cost_models/data/tech.json)"]
    if spec.fp16_tensor_cores:
        lines.append("A100's FP16 tensor cores counted as 8x4x8 FP16 multipliers with one "
                     "fused dot-product adder per output (components.fp16_tensor_core)")
    if comps.outside:
        lines.append(f"accumulators in the register file: {spec.units * comps.outside_area_m2(node) * 1e6:.3g} mm2 "
                     "of registers outside area_mm2, their switching in the unit energy")
    lines.append("area_mm2: the whole die, " + ", ".join(blocks) + " (extra.chip_blocks), "
                 f"at least the {floor['area_mm2']:.3g} mm2 its package needs "
                 f"(extra.package_floor: {floor['source']}); the on-chip network is not "
                 "modelled")
    if spec.template == "gpu":
        lines.append(f"SMs: {gpu.sm_energy_per_mac(node) * 1e12:.3g} pJ per FP16 tensor-core "
                     f"MAC ({per_event['sm_slot_steps'].value * 1e12:.4g} pJ per busy slot "
                     "step, whatever units sit in the slot) and "
                     f"{per_event['sm_simt_flops'].value * 1e12:.3g} pJ per FP16 CUDA-core FLOP "
                     "for operand delivery, issue and clocking (energy_by_level_j.sm): "
                     "AccelWattch's measured GV100, scaled to the node (cost_models.gpu)")
        lines.append("static power: the A100's idle draw (platforms.json, [W])")
    else:
        lines.append("static power: unit leakage, on-chip SRAM leakage of every level (CACTI), "
                     "the vector unit's leakage and the memory PHY and controller "
                     "(LLMCompass areas x the gate model's leakage density)")
    return Pricing(per_event=per_event, power_w=power, area_mm2=area, assumptions=lines,
                   calibrations=cals,
                   memory=energy.memory_summary(dram_kind),
                   extra={**precompute_overhead(run, per_event), "chip_blocks": blocks,
                          "package_floor": floor})


def chip_blocks(spec, unit: UnitPrice, per_event: dict, power: dict) -> dict:
    """The die, block by block (as HNLPU's cost lists it): area (mm2), peak power (W:
    every block at its full rate every cycle, plus its share of the constant draws) and
    where each comes from. ``per_event`` and ``power`` are ``pricing``'s. The sum is the
    die: ``area_mm2`` and ``chip_peak_power_w`` of every tile system.

    - units: the engines' units (their unit price), every cycle busy;
    - each on-chip level at its real size (instances x capacity) in the one SRAM model
      (``energy.sram_macro_area_m2``, or the file's sourced area), at its full port
      bandwidth with its dearer access, plus its leakage;
    - the vector unit: FP16 FMA lanes (components) at full rate, plus leakage;
    - the memory interface: DDR PHY and controller per 32-bit link (LLMCompass) for the
      memory's bus, its static draw (a DRAM access's I/O share sits in the DRAM price);
    - on the ``gpu`` template, the rest of the GPU: the datasheet die less its own FP16
      tensor cores and levels, drawing the GPU's idle power and its SMs' energy around
      every tensor-core slot (``sm_slot_step_j``) and its CUDA cores at full rate.
    The on-chip network and I/O beyond the memory PHY are not modelled; the die is at
    least what its package needs (``add_package_floor``)."""
    node, f = spec.node_nm, spec.clock_hz
    static = {k: p.value for k, p in power.items()}
    blocks = {"units": {
        "area_mm2": spec.units * unit.area_m2 * 1e6,
        "peak_power_w": spec.units * (unit.step_j * f + unit.leakage_w),
        "source": unit.source}}
    leak = {lv.name: energy.sram_leakage_w(lv.total_bytes, node) for lv in spec.platform.levels}
    for lv in spec.platform.levels:
        one_m2 = lv.area if lv.area is not None else energy.sram_macro_area_m2(8 * lv.capacity,
                                                                               node)
        access = max(per_event[f"{lv.name}_read_bytes"].value,
                     per_event[f"{lv.name}_write_bytes"].value)
        blocks[f"level_{lv.name}"] = {
            "area_mm2": lv.instances * one_m2 * 1e6,
            "peak_power_w": lv.bytes_per_cycle * f * access + leak[lv.name],
            "source": ("the system file's area" if lv.area is not None else
                       f"{lv.instances} x {lv.capacity / 1024:g} KiB, CACTI bit cells over "
                       "array efficiency (energy.sram_macro_area_m2)")}
    if spec.template == "gpu":
        name = "a100-sxm"
        die = tech.value(name, "die_area", file="platforms") * 1e6       # m2 -> mm2
        # the datasheet die's own tensor cores, whatever units this system puts in their
        # place (the units are their own block)
        own = (A100_TENSOR_CORES * cc.fp16_tensor_core(*A100_FP16_TC_TILE).area_m2(node)
               * 1e6)
        levels = sum(b["area_mm2"] for k, b in blocks.items() if k.startswith("level_"))
        slots = spec.units / spec.scale
        blocks["rest_of_gpu"] = {
            "area_mm2": die - own - levels,
            "peak_power_w": (static.get("gpu_static", 0.0)
                             + slots * f * per_event["sm_slot_steps"].value
                             + spec.vector_flops_per_cycle * f
                             * (per_event["sm_simt_flops"].value
                                + per_event["vector_flops"].value)),
            "source": f"{name} die {die:g} mm2 (platforms.json) less its "
                      f"{A100_TENSOR_CORES} FP16 tensor cores (components) and levels; its "
                      f"idle power, its SMs feeding all {slots:g} tensor-core slots and its "
                      "CUDA cores every cycle"}
        return blocks
    lanes = cc.times(cc.fp16_fma(), spec.vector_flops_per_cycle / 2)
    blocks["vector_unit"] = {
        "area_mm2": cc.Components(lanes, Counter(), 1).area_m2(node) * 1e6,
        "peak_power_w": (spec.vector_flops_per_cycle * f * per_event["vector_flops"].value
                         + static.get("vector_leakage", 0.0)),
        "source": f"{spec.vector_flops_per_cycle / 2:g} FP16 FMA lanes (components)"}
    blocks["memory_interface"] = {
        "area_mm2": memory_interface_m2(spec) * 1e6,
        "peak_power_w": static.get("memory_interface_static", 0.0),
        "source": f"{spec.memory.bus_bits / 32:g} DDR PHYs and controllers per 32-bit link "
                  "(LLMCompass)"}
    return blocks


def add_package_floor(spec, blocks: dict) -> dict:
    """The die the package needs for the memory bus and the blocks' peak current
    (``die.package_floor``); where the blocks sum to less, the rest of it is added to
    ``blocks`` as the block ``package_floor`` (empty silicon: no power)."""
    floor = die.package_floor(spec.memory.kind, spec.memory.bus_bits,
                              sum(b["peak_power_w"] for b in blocks.values()), spec.node_nm)
    short = floor["area_mm2"] - sum(b["area_mm2"] for b in blocks.values())
    if short > 0:
        blocks["package_floor"] = {"area_mm2": short, "peak_power_w": 0.0,
                                   "source": "the rest of the die its package needs: "
                                             + floor["source"]}
    return floor


def memory_interface_m2(spec) -> float:
    """DDR PHY and controller area of the memory's bus (LLMCompass, per 32-bit link)."""
    links = spec.memory.bus_bits / 32
    return links * (tech.value("phy", "ddr5_link_phy_area")
                    + tech.value("phy", "ddr5_link_controller_transistors")
                    / tech.node_value(spec.node_nm, "logic_density"))


def sm_slot_step_j(spec) -> float:
    """J the SMs of a ``gpu`` system spend per busy tensor-core slot step: an FP16 tensor
    core's MACs per step (the slot's width) at ``gpu.sm_energy_per_mac``."""
    return gpu.sm_energy_per_mac(spec.node_nm) * math.prod(A100_FP16_TC_TILE)


def onchip_leakage_w(spec) -> float:
    """Leakage of every on-chip level at its real size (CACTI per bit)."""
    return sum(energy.sram_leakage_w(lv.total_bytes, spec.node_nm)
               for lv in spec.platform.levels)


def precompute_overhead(run, per_event) -> dict:
    """What the external table precompute (on the vector unit, once per activation group,
    broadcast to every unit) adds: its operations, vector-unit seconds and joules, as a
    share of the run's time and energy. Empty when the units build their own tables."""
    spec = run.spec
    ops = sum(r.events.get("precompute_ops", 0.0) for ph in run.phases for r in ph.rows)
    if not ops:
        return {}
    seconds = precompute_seconds(spec, ops)
    total_s = sum(ph.seconds for ph in run.phases)
    return {"precompute_overhead": {
        "ops": ops, "seconds": seconds, "energy_j": ops * per_event["precompute_ops"].value,
        "share_of_time": seconds / total_s}}


def static_power(spec, unit_leakage_w: float) -> dict:
    """Constant draws of a tile system while it runs. ``gpu`` template: the A100's idle
    power (the tensor cores' own leakage is inside it). Otherwise the units' leakage, the
    on-chip levels' SRAM leakage, the vector unit's (FP16 FMA lanes) and the memory interface's
    (PHY and controller areas at the gate model's leakage density)."""
    if spec.template == "gpu":
        idle = ("a100-sxm", "idle_power")
        return {"gpu_static": Price("static", tech.value(*idle, file="platforms"), True,
                                    *tech.bounds(*idle, file="platforms"))}
    node, f = spec.node_nm, spec.clock_hz
    lanes = cc.times(cc.fp16_fma(), spec.vector_flops_per_cycle / 2)
    interface_m2 = memory_interface_m2(spec)
    power = {
        "unit_leakage": unit_leakage_w,
        "buffer_leakage": onchip_leakage_w(spec),
        "vector_leakage": cc.Components(lanes, Counter(), 1).leakage_w(node, f),
        "memory_interface_static": interface_m2 * cc.leakage_w_per_m2(node, f),
    }
    return {k: Price("static", v, True) for k, v in power.items() if v}


@dataclasses.dataclass
class CostResult(Frameable):
    HEADLINE = ("node", "system", "area_mm2", "chip_power_w", "chip_peak_power_w",
                "energy_per_mac_j", "die_cost_usd", "tokens_per_j", "usd_per_mtoken")

    design: str
    node: str
    system: str
    units: int
    unit_area_mm2: float
    area_mm2: float                 # the whole die: the sum of ``blocks``
    chip_peak_power_w: float        # every block at its full rate, plus the constant draws
    blocks: dict                    # area_mm2, peak_power_w and source of each block
    energy_per_mac_j: float
    gates: dict
    die_cost_usd: float
    packaged_unit_cost_usd: float
    die: dict
    nre_usd: float
    respin_usd: float
    nre: dict
    volume: int
    model: str
    chip_power_w: float             # while decoding the model (as in simulate)
    system_power_w: float
    tokens_per_j: float
    decode_tokens_per_s: float
    ttft_s: float
    peak_ops_per_s: float
    tokens_per_s_per_mm2: float
    usd_per_mtoken: float
    tco: dict
    dram_usd: float
    regfile_area_mm2: float = 0.0   # accumulators the boundary puts in a register file
    unit: str = ""                  # what was priced (the system's description)
    unit_source: str = ""           # where its area and energy come from
    # Yosys on the unit's Verilog (with --rtl-area): every register the RTL holds,
    # the register-file accumulators too
    unit_area_rtl_mm2: float | None = None
    unit_area_rtl_cmos_mm2: float | None = None
    scope: str = ("the whole die (blocks: units from unit_source, every on-chip level, the "
                  "vector unit, the memory PHY and controller, and the rest of the die its "
                  "bumps need where that is larger; not the on-chip network) packaged and "
                  "tested, NRE spread over the volume, and with a model the DRAM holding its "
                  "weights; excludes board and host")
    package_floor_mm2: float = 0.0  # the die its package needs (die.package_floor)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def design_cost(design, node=None, model=None, system=None, volume: int = 10_000,
                rtl_area: bool = False, overrides=(), liberty=None, work_dir="build/asic",
                progress=None) -> CostResult:
    """The tile-array cost of ``design`` (a ``tokenfab.api.Design``) at ``node``; power,
    tokens/J and $ per million tokens from simulating ``model`` (default llama-2-7b,
    prompt 512, gen 128). With ``liberty`` the units are priced from their circuit
    synthesised onto that library (``synthesised_unit``) instead of their counts."""
    from tokenfab.arch_models.workloads import load_model
    from tokenfab.results import SimulationResult
    if isinstance(volume, bool) or not isinstance(volume, int) or volume < 1:
        raise UsageError(f"volume must be an integer >= 1, not {volume!r}")
    sim = design.simulate(model=model or DEFAULT_MODEL, prompt=512, gen=128, system=system,
                          node=node, overrides=overrides)
    spec = sim.run.spec
    n = spec.node_nm            # the node the system ran at (the file's, or --node)
    hook = design.entry.cost.unit_components
    comps = system_components(design.params, spec, hook)
    if liberty is not None:
        unit = synthesised_unit(design, spec, liberty, work_dir, progress)
        sim = SimulationResult(sim.run, pricing(design.params, sim.run, hook, unit))
    else:
        unit = modelled_unit(comps, n, spec.clock_hz)
    out = sim.to_dict()
    unit_area = unit.area_m2
    step_j = unit.step_j
    blocks = sim.pricing.extra["chip_blocks"]
    peak = sum(b["peak_power_w"] for b in blocks.values())
    macs_per_step = spec.tile_macs / spec.cycles_per_tile
    area_mm2 = sum(b["area_mm2"] for b in blocks.values())
    dc = die.die_cost(area_mm2, n)
    gates = spec.units * comps.area_m2(28) / tech.value("gates_28nm", "nand2_area")
    first = nre.design_nre(n, gates)
    again = nre.respin(first)
    cfg = load_model(model or DEFAULT_MODEL)
    dram_usd = (cfg.linear_params() * spec.weight_bits / 8 * tech.econ("memory", "ddr_per_gb"))
    unit_usd = nre.amortized_unit_cost(first.total, dc.packaged_unit_cost_usd, volume)
    t = tco.tco(unit_usd + dram_usd, out["system_power_w"],
                embodied_co2_kg=tco.embodied_co2_kg(area_mm2, n))
    result = CostResult(
        design=design.name, node=f"{n}nm", system=spec.name, units=spec.units,
        unit_area_mm2=unit_area * 1e6, area_mm2=area_mm2, chip_peak_power_w=peak,
        blocks=blocks,
        energy_per_mac_j=step_j / macs_per_step, gates=dict(comps.gates()),
        die_cost_usd=dc.cost_per_good_die_usd,
        packaged_unit_cost_usd=dc.packaged_unit_cost_usd, die=dc.to_dict(),
        nre_usd=first.total, respin_usd=again.total, nre=first.to_dict(), volume=volume,
        model=out["model"], chip_power_w=out["chip_power_w"],
        system_power_w=out["system_power_w"], tokens_per_j=out["tokens_per_j"],
        decode_tokens_per_s=out["decode_tokens_per_s"], ttft_s=out["ttft_s"],
        peak_ops_per_s=out["peak_ops_per_s"],
        tokens_per_s_per_mm2=out["decode_tokens_per_s"] / area_mm2,
        usd_per_mtoken=t.usd_per_mtoken(out["decode_tokens_per_s"]), tco=t.to_dict(),
        dram_usd=dram_usd, regfile_area_mm2=spec.units * comps.outside_area_m2(n) * 1e6,
        package_floor_mm2=sim.pricing.extra["package_floor"]["area_mm2"],
        unit=spec.description, unit_source=unit.source)
    if rtl_area:
        ra = rtl_unit(design, spec, option("rtl_area=True", "--rtl-area")).rtl_area(n)
        result.unit_area_rtl_mm2 = ra.area_cells_mm2
        result.unit_area_rtl_cmos_mm2 = ra.area_cmos_mm2
    return result
