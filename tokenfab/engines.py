"""Engines: units, double-buffered buffers, an AXI4 DMA and an AXI4-Lite register file
running whole GEMM layers from DRAM to DRAM (``tokenfab engine``).

An engine runs a layer against its simulation DRAM (``hw/common/axi.AxiMemory``) under a
mapping (buffer tile sizes and order) and a memory setting (latency, bandwidth, random
stalls); the output is compared word by word with the golden model and the cycles from
start to done with the engine's timing model.
"""
from __future__ import annotations

import dataclasses
import importlib

import numpy as np

from tokenfab.errors import UsageError
from tokenfab.params import check_int


@dataclasses.dataclass(frozen=True)
class EngineEntry:
    name: str
    title: str
    package: str

    def module(self, level: str, sub: str):
        return importlib.import_module(f"tokenfab.{level}.{self.package}.{sub}")

    @property
    def top_name(self) -> str:
        return self.package

    @property
    def Params(self):
        return self.module("hw", "params").Params

    def top(self, params):
        return self.module("hw", "top").top(params)


ENGINES = {e.name: e for e in [
    EngineEntry("ltc-engine", "LUT Tensor Core engine: units along N, double-buffered "
                "activation, weight and output buffers, AXI4 DMA, AXI4-Lite registers",
                "ltc_engine"),
    EngineEntry("tellme-engine", "TeLLMe engine: TLMM units along N walking the output "
                "columns per table, double-buffered activation, index and output buffers, "
                "AXI4 DMA, AXI4-Lite registers", "tellme_engine"),
]}


def get(name: str) -> EngineEntry:
    if name not in ENGINES:
        raise UsageError(f"unknown engine {name!r}; engines: {', '.join(ENGINES)}")
    return ENGINES[name]


@dataclasses.dataclass
class EngineRun:
    engine: str
    params: dict
    shape: tuple
    mapping: dict
    latency: int
    interval: int
    random_stalls: bool
    dram: str
    outputs: int
    mismatches: int
    rtl_cycles: int
    model_cycles: float
    sim_cycles_per_s: float

    @property
    def cycles_match(self) -> bool:
        return self.rtl_cycles == self.model_cycles

    @property
    def passed(self) -> bool:
        """Bit-exact, and with our DRAM model the cycles equal (fixed latency) or within 2%
        (random stalls); cocotbext-axi's AxiRam has its own timing, so there bit-exact."""
        if self.dram != "rtl":
            return self.mismatches == 0
        close = (abs(self.model_cycles / self.rtl_cycles - 1) < 0.02 if self.random_stalls
                 else self.cycles_match)
        return self.mismatches == 0 and close

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.update(passed=self.passed, cycles_match=self.cycles_match)
        return d


class Engine:
    """An engine with its parameters (``tokenfab.engine("ltc-engine", units=2)``)."""

    def __init__(self, name: str, **params):
        self.entry = get(name)
        self.params = self.entry.Params(**params)
        self.sizing = None          # a SystemSizing when built by from_system
        self.spec = None

    def memory_timing(self, latency=None, interval=None) -> tuple[int, int]:
        """The DRAM's latency and beat interval in cycles: as given, else the system's
        (``from_system``), else 8 and 1."""
        s = self.sizing
        if latency is None:
            latency = s.latency if s is not None and s.latency is not None else 8
        if interval is None:
            interval = s.interval if s is not None else 1
        return latency, interval

    @classmethod
    def from_system(cls, name: str, system, overrides=(), **params) -> "Engine":
        """The engine sized from a system spec (a preset name, a YAML path, a dict or a
        ``Spec``; ``overrides`` as ``--set``): its buffers from the levels that hold each
        operand, its units from ``engines.count``, its AXI port from the memory's bus
        (``arch_models.common.engine.from_system``); ``params`` win. ``.sizing`` says what
        the spec set, the room each level gives, and the memory's latency and interval in
        cycles."""
        from tokenfab.arch_models import systems
        from tokenfab.arch_models.common.engine import from_system
        entry = get(name)
        spec = systems.load(system, overrides)
        sizing = from_system(entry.Params, spec, params)
        eng = cls(name, **params, **sizing.params)
        eng.sizing = sizing
        eng.spec = spec
        return eng

    def _check_rtl_size(self) -> None:
        from tokenfab.rtl.export import check_rtl_size
        check_rtl_size(self.entry, self.params)

    def _layer(self, M, K, N, mapping, latency, interval):
        """The layer's placement and ``mapping``, or the engine's mapper's pick."""
        from tokenfab.arch_models.common.engine import layer
        L = layer(self.params, M, K, N)
        if mapping is None:
            mapping = self.entry.module("arch_models", "timing").best_mapping(
                self.params, L, latency=latency, interval=interval)
        return L, mapping

    def run_layer(self, M: int, K: int, N: int, mapping: dict | None = None, *,
                  latency: int | None = None, interval: int | None = None,
                  random_stalls: bool = False, seed: int = 1,
                  dram: str = "rtl", work_dir="build/engine") -> EngineRun:
        """One layer of random operands (``seed``) through the RTL and the model; without
        ``mapping`` the one the engine's mapper (``timing.best_mapping``) picks. ``dram``:
        ``rtl``, our simulation DRAM (``latency``, ``interval``, ``random_stalls``; see
        ``memory_timing``), or ``axiram``, cocotbext-axi's AxiRam with random pauses on
        every channel."""
        latency, interval = self.memory_timing(latency, interval)
        for name, v, lo, hi in (("M", M, 1, 1 << 16), ("K", K, 1, 1 << 16),
                                ("N", N, 1, 1 << 16), ("latency", latency, 2, 255),
                                ("interval", interval, 1, 15), ("seed", seed, 0, 2**32 - 1)):
            check_int(name, v, lo, hi)
        from tokenfab.sim.engine_run import DRAMS
        if dram not in DRAMS:
            raise UsageError(f"dram must be one of {', '.join(DRAMS)}, not {dram!r}")
        self._check_rtl_size()
        tb = self.entry.module("sim", "testbench")
        timing = self.entry.module("arch_models", "timing")
        p = self.params
        _, mapping = self._layer(M, K, N, mapping, latency, interval)
        rng = np.random.default_rng(seed)
        acts, weights = tb.random_operands(p, M, K, N, rng)
        from tokenfab.sim import engine_run
        r = engine_run.run_layer(tb, p, acts, weights, mapping, latency=latency,
                                 interval=interval, random_stalls=bool(random_stalls),
                                 work_dir=work_dir, tag=f"{M}x{K}x{N}-s{seed}-{dram}",
                                 dram=dram)
        model = timing.engine_cycles(p, r["layer"], mapping, latency=latency,
                                     interval=interval, random_stalls=bool(random_stalls))
        return EngineRun(
            engine=self.entry.name, params=p.to_dict(), shape=(M, K, N), mapping=mapping,
            latency=latency, interval=interval, random_stalls=bool(random_stalls), dram=dram,
            outputs=int(r["ref"].size), mismatches=r["mismatches"], rtl_cycles=r["cycles"],
            model_cycles=model, sim_cycles_per_s=r["cycles"] / max(r["wall_s"], 1e-9))

    def cost(self, M: int, K: int, N: int, mapping: dict | None = None, *,
             node=None, clock_hz: float | None = None, memory: str | None = None,
             latency: int | None = None, interval: int | None = None):
        """Area by block and the layer's energy (``cost_models.<engine>``) at the cycles
        the timing model predicts for ``mapping`` (default: the engine's mapper's). Node,
        clock and memory technology: as given, else the system's (``from_system``), else
        28 nm, 1 GHz and LPDDR5X."""
        latency, interval = self.memory_timing(latency, interval)
        spec = self.spec
        if node is None:
            node = f"{spec.node:g}nm" if spec is not None else "28nm"
        if clock_hz is None:
            clock_hz = spec.clock if spec is not None else 1e9
        if memory is None:
            memory = spec.memory.technology if spec is not None else "lpddr5x"
        timing = self.entry.module("arch_models", "timing")
        L, mapping = self._layer(M, K, N, mapping, latency, interval)
        cycles = timing.engine_cycles(self.params, L, mapping, latency=latency,
                                      interval=interval)
        cost = importlib.import_module(f"tokenfab.cost_models.{self.entry.package}")
        return cost.engine_cost(self.params, L, mapping, cycles, node=node,
                                clock_hz=clock_hz, memory=memory)

    def fpga(self, target: str = "ecp5-85k", work_dir="build/fpga-engine", progress=None):
        """Yosys (and nextpnr but on Xilinx parts) on the engine, its I/O in shift chains
        as every design's (``tokenfab fpga``)."""
        import types
        from tokenfab.fpga import flow
        self._check_rtl_size()
        entry = types.SimpleNamespace(name=self.entry.name, top=self.entry.top)
        return flow.run(entry, self.params, target, work_dir, progress=progress)

    def rtl(self, out_dir, prefix: str | None = None, force: bool = False):
        """The engine's Verilog with its manifest and integration files
        (``rtl.export.write_engine``); returns the ``.v`` path."""
        from tokenfab.rtl.export import write_engine
        return write_engine(self.entry, self.params, out_dir, prefix, force)
