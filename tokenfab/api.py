"""The Python API: one object per design configuration, every level behind a method.

>>> import tokenfab
>>> d = tokenfab.design("lut-tensor-core", n=32, weight_bits=2)
>>> d.simulate(model="llama-2-7b", prompt=512, gen=128).to_dict()["decode_tokens_per_s"]
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from tokenfab import registry
from tokenfab.params import build, defaults


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


class Design:
    """A design with validated parameters (``Params``); see :func:`design`."""

    def __init__(self, name: str, **params):
        self.entry = registry.get(name)
        self.params = build(self.entry.Params, params)

    @property
    def name(self) -> str:
        return self.entry.name

    def __repr__(self):
        return f"Design({self.name!r}, {self.params})"

    def verilog(self, out_dir="build/rtl") -> Path:
        from rtl import export
        return export.write(self.entry, self.params, out_dir)

    def verify(self, vectors: int = 200, simulator: str = "verilator", seed: int = 1,
               waves: bool = False, work_dir="build/verify", progress=None):
        from sim.verify import verify
        return verify(self.entry, self.params, vectors=vectors, simulator=simulator,
                      seed=seed, waves=waves, work_dir=work_dir, progress=progress)

    def system(self, name: str | None = None, node: int | None = None):
        """A system preset of this design (the first of ``timing.SYSTEMS`` by default)."""
        from arch_models.common.system import check_system
        name = name or self.entry.timing.SYSTEMS[0]
        check_system(name, dict.fromkeys(self.entry.timing.SYSTEMS))
        kw = {} if node is None else {"node": node}
        return self.entry.timing.system(self.params, name, self.entry.cost, **kw)

    def simulate(self, model="llama-2-7b", batch: int = 1, prompt: int = 512, gen: int = 128,
                 system: str | None = None, progress=None):
        from arch_models.workloads import Request, load_model
        request = Request(load_model(model), batch, prompt, gen)
        if hasattr(self.entry.timing, "simulate"):       # the design's own system model
            from arch_models.common.system import check_system
            name = system or self.entry.timing.SYSTEMS[0]
            check_system(name, dict.fromkeys(self.entry.timing.SYSTEMS))
            return self.entry.timing.simulate(self.params, request, name, progress=progress)
        from arch_models.common.simulate import simulate
        return simulate(self.name, self.params, self.system(system), request,
                        progress=progress)

    def fpga(self, target: str = "ecp5-25k", dsp: bool = True, place: bool = True,
             work_dir="build/fpga", progress=None):
        from fpga import flow
        return flow.run(self.entry, self.params, target, work_dir, dsp=dsp, place=place,
                        progress=progress)

    def rtl_area(self, node="28nm", work_dir="build/area"):
        """Area of one unit from its generated Verilog (Yosys; see ``cost_models.area``)."""
        from cost_models import area, tech
        n = tech.check_node(node)
        tag = "-".join(f"{k}{v}" for k, v in self.params.to_dict().items())
        out = Path(work_dir) / f"{self.name}-{tag}"
        v_path = self.verilog(out)
        cells = area.synth_cells(v_path, self.entry.top_name, out)
        return area.from_cells(self.name, cells, n)

    def cost(self, node=None, model=None, system: str | None = None, volume: int = 10_000,
             rtl_area: bool = False):
        """Area, power, die cost, NRE and (with ``model``) tokens/J and $ per million
        tokens of the ``system`` built from this design's units at ``node`` (28 nm unless
        the design says otherwise). A design's cost package may define ``design_cost`` to
        replace this tile-array path (HNLPU does)."""
        from cost_models import die, nre, tco, tech
        from tokenfab.errors import UsageError
        if hasattr(self.entry.cost, "design_cost"):
            return self.entry.cost.design_cost(self, node=node, model=model,
                                               system=system, volume=volume,
                                               rtl_area=rtl_area)
        system = system or "asic"
        n = tech.check_node(node or "28nm")
        if not isinstance(volume, int) or volume < 1:
            raise UsageError(f"volume must be an integer >= 1, not {volume!r}")
        spec = self.system(system, node=n) if system == "asic" else self.system(system)
        comps = self.entry.cost.unit_components(self.params)
        unit_area = comps.area_m2(n)
        step_j = comps.energy_per_step_j(n)
        power = spec.units * (step_j * spec.clock_hz + comps.leakage_w(n, spec.clock_hz))
        macs_per_step = self.params.macs_per_tile / self.params.cycles_per_tile
        area_mm2 = spec.units * unit_area * 1e6
        dc = die.die_cost(area_mm2, n)
        gates = spec.units * comps.area_m2(28) / tech.value("gates_28nm", "nand2_area")
        first = nre.design_nre(n, gates)
        again = nre.respin(first)
        result = CostResult(
            design=self.name, node=f"{n}nm", system=spec.name, units=spec.units,
            unit_area_mm2=unit_area * 1e6, area_mm2=area_mm2,
            power_w=power, energy_per_mac_j=step_j / macs_per_step, gates=dict(comps.gates()),
            die_cost_usd=dc.cost_per_good_die_usd,
            packaged_unit_cost_usd=dc.packaged_unit_cost_usd, die=dc.to_dict(),
            nre_usd=first.total, respin_usd=again.total, nre=first.to_dict(), volume=volume)
        if model is not None:
            from arch_models.common.simulate import simulate
            from arch_models.workloads import Request, load_model
            cfg = load_model(model)
            sim = simulate(self.name, self.params, spec, Request(cfg, 1, 512, 128))
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
            ra = self.rtl_area(n)
            result.unit_area_rtl_mm2 = ra.area_cells_mm2
            result.unit_area_rtl_cmos_mm2 = ra.area_cmos_mm2
        return result


def design(name: str, **params) -> Design:
    """A registered design with parameters validated against its ``Params``."""
    return Design(name, **params)


def designs() -> list[dict]:
    return [{"name": e.name, "title": e.title, "paper": e.paper,
             "params": defaults(e.Params)} for e in registry.DESIGNS.values()]


__all__ = ["Design", "CostResult", "design", "designs"]
