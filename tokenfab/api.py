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
    model: str | None = None
    tokens_per_j: float | None = None

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

    def system(self, name: str = "asic", node: int = 28):
        from arch_models.common.system import check_system
        check_system(name, dict.fromkeys(self.entry.timing.SYSTEMS))
        return self.entry.timing.system(self.params, name, self.entry.cost, node=node)

    def simulate(self, model="llama-2-7b", batch: int = 1, prompt: int = 512, gen: int = 128,
                 system: str = "asic", progress=None):
        from arch_models.common.simulate import simulate
        from arch_models.workloads import Request, load_model
        request = Request(load_model(model), batch, prompt, gen)
        return simulate(self.name, self.params, self.system(system), request,
                        progress=progress)

    def fpga(self, target: str = "ecp5-25k", dsp: bool = True, place: bool = True,
             work_dir="build/fpga", progress=None):
        from fpga import flow
        return flow.run(self.entry, self.params, target, work_dir, dsp=dsp, place=place,
                        progress=progress)

    def cost(self, node="28nm", model=None, system: str = "asic") -> CostResult:
        from cost_models import tech
        n = tech.check_node(node)
        spec = self.system(system, node=n) if system == "asic" else self.system(system)
        comps = self.entry.cost.unit_components(self.params)
        unit_area = comps.area_m2(n)
        step_j = comps.energy_per_step_j(n)
        power = spec.units * (step_j * spec.clock_hz + comps.leakage_w(n, spec.clock_hz))
        macs_per_step = self.params.macs_per_tile / self.params.cycles_per_tile
        result = CostResult(
            design=self.name, node=f"{n}nm", system=spec.name, units=spec.units,
            unit_area_mm2=unit_area * 1e6, area_mm2=spec.units * unit_area * 1e6,
            power_w=power, energy_per_mac_j=step_j / macs_per_step, gates=dict(comps.gates()))
        if model is not None:
            from arch_models.common.simulate import simulate
            from arch_models.workloads import Request, load_model
            sim = simulate(self.name, self.params, spec, Request(load_model(model), 1, 512, 128))
            result.model = sim.model
            result.tokens_per_j = sim.to_dict()["tokens_per_j"]
        return result


def design(name: str, **params) -> Design:
    """A registered design with parameters validated against its ``Params``."""
    return Design(name, **params)


def designs() -> list[dict]:
    return [{"name": e.name, "title": e.title, "paper": e.paper,
             "params": defaults(e.Params)} for e in registry.DESIGNS.values()]


__all__ = ["Design", "CostResult", "design", "designs"]
