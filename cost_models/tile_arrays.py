"""Cost of a system built from GEMM-tile units (LUT Tensor Core, MAC array): the default
``Design.cost`` path for designs whose cost package has no ``design_cost`` of its own.

Area and power of the units from their component counts at the node, die cost of the
accelerator die, a first tape-out's NRE, and with a model the simulated tokens/J and $ per
million tokens (packaged die, NRE spread over ``volume``, DRAM for the weights).
"""
from __future__ import annotations

import dataclasses

from cost_models import die, nre, tco, tech
from tokenfab.errors import UsageError


@dataclasses.dataclass
class CostResult:
    design: str
    node: str
    system: str
    units: int
    unit_area_mm2: float
    area_mm2: float
    power_w: float
    energy_per_mac_j: float
    gates: dict
    die_cost_usd: float
    packaged_unit_cost_usd: float
    die: dict
    nre_usd: float
    respin_usd: float
    nre: dict
    volume: int
    model: str | None = None
    tokens_per_j: float | None = None
    decode_tokens_per_s: float | None = None
    tokens_per_s_per_mm2: float | None = None
    usd_per_mtoken: float | None = None
    tco: dict | None = None
    unit_area_rtl_mm2: float | None = None
    unit_area_rtl_cmos_mm2: float | None = None
    dram_usd: float | None = None
    scope: str = ("accelerator die (logic from component counts) packaged and tested, NRE "
                  "spread over the volume, and with a model the DRAM holding its weights; "
                  "excludes board, host and on-chip buffers")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def design_cost(design, node=None, model=None, system=None, volume: int = 10_000,
                rtl_area: bool = False) -> CostResult:
    """The tile-array cost of ``design`` (a ``tokenfab.api.Design``) at ``node``."""
    system = system or "asic"
    n = tech.check_node(node or "28nm")
    if not isinstance(volume, int) or volume < 1:
        raise UsageError(f"volume must be an integer >= 1, not {volume!r}")
    spec = design.system(system, node=n) if system == "asic" else design.system(system)
    comps = design.entry.cost.unit_components(design.params)
    unit_area = comps.area_m2(n)
    step_j = comps.energy_per_step_j(n)
    power = spec.units * (step_j * spec.clock_hz + comps.leakage_w(n, spec.clock_hz))
    macs_per_step = design.params.macs_per_tile / design.params.cycles_per_tile
    area_mm2 = spec.units * unit_area * 1e6
    dc = die.die_cost(area_mm2, n)
    gates = spec.units * comps.area_m2(28) / tech.value("gates_28nm", "nand2_area")
    first = nre.design_nre(n, gates)
    again = nre.respin(first)
    result = CostResult(
        design=design.name, node=f"{n}nm", system=spec.name, units=spec.units,
        unit_area_mm2=unit_area * 1e6, area_mm2=area_mm2,
        power_w=power, energy_per_mac_j=step_j / macs_per_step, gates=dict(comps.gates()),
        die_cost_usd=dc.cost_per_good_die_usd,
        packaged_unit_cost_usd=dc.packaged_unit_cost_usd, die=dc.to_dict(),
        nre_usd=first.total, respin_usd=again.total, nre=first.to_dict(), volume=volume)
    if model is not None:
        from arch_models.common.simulate import simulate
        from arch_models.workloads import Request, load_model
        cfg = load_model(model)
        sim = simulate(design.name, design.params, spec, Request(cfg, 1, 512, 128))
        out = sim.to_dict()
        result.model = sim.model
        result.tokens_per_j = out["tokens_per_j"]
        result.decode_tokens_per_s = out["decode_tokens_per_s"]
        result.tokens_per_s_per_mm2 = tco.metrics(
            out["decode_tokens_per_s"], out["power_w"], area_mm2)["tokens_per_s_per_mm2"]
        dram_usd = (cfg.linear_params() * spec.weight_bits / 8
                    * tech.econ("memory", "ddr_per_gb"))
        unit_usd = nre.amortized_unit_cost(first.total, dc.packaged_unit_cost_usd, volume)
        t = tco.tco(unit_usd + dram_usd,
                    sim.decode_energy_j / (sim.decode_latency_s * sim.gen),
                    embodied_co2_kg=tco.embodied_co2_kg(area_mm2, n))
        result.usd_per_mtoken = t.usd_per_mtoken(result.decode_tokens_per_s)
        result.tco = t.to_dict()
        result.dram_usd = dram_usd
    if rtl_area:
        ra = design.rtl_area(n)
        result.unit_area_rtl_mm2 = ra.area_cells_mm2
        result.unit_area_rtl_cmos_mm2 = ra.area_cmos_mm2
    return result
