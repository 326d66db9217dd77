"""The Python API: one object per design configuration, every level behind a method.

>>> import tokenfab
>>> d = tokenfab.design("lut-tensor-core", n=32, weight_bits=2)
>>> d.simulate(model="llama-2-7b", prompt=512, gen=128).to_dict()["decode_tokens_per_s"]
"""
from __future__ import annotations

from pathlib import Path

from tokenfab import registry
from tokenfab.errors import UsageError, option
from tokenfab.params import (as_bool, as_int, as_path, build, defaults, message_callback,
                             folder_tag)


def _node(node):
    """``None`` or a process node checked against the technology table (7 or "7nm")."""
    from tokenfab.cost_models import tech
    return None if node is None else tech.check_node(node)


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

    def verilog(self, out_dir="build/rtl", prefix: str | None = None,
                force: bool = False) -> Path:
        """Write the Verilog and its manifest, template, header, Verilator configuration,
        filelist and FuseSoC core into ``out_dir`` under a module name unique to the
        configuration (or ``prefix``; one another configuration wrote there is refused
        unless ``force``); return the ``.v`` path (its stem is the module name)."""
        from tokenfab.rtl import export
        return export.write(self.entry, self.params, as_path("out_dir", out_dir),
                            prefix=prefix, force=as_bool("force", force))

    def verify(self, vectors: int = 200, simulator: str = "verilator", seed: int = 1,
               waves=False, work_dir="build/verify", progress=None):
        """cocotb on the generated Verilog against the golden model; ``waves``: True (FST),
        ``"fst"`` or ``"vcd"``. The result's ``files`` names what the run wrote."""
        from tokenfab.sim.verify import verify
        vectors, seed = as_int("vectors", vectors), as_int("seed", seed)
        progress = message_callback("progress", progress)
        return verify(self.entry, self.params, vectors=vectors, simulator=simulator,
                      seed=seed, waves=waves, work_dir=as_path("work_dir", work_dir),
                      progress=progress)

    @property
    def takes_files(self) -> bool:
        """Whether this design's systems are files (``systems/*.yaml``, or a user's)."""
        return hasattr(self.entry.timing, "TEMPLATES")

    def _system_args(self, system, overrides) -> tuple:
        """``system`` and ``overrides`` checked at the boundary: a preset name, a path, a
        dict or a ``systems.Spec``."""
        from tokenfab.arch_models import systems
        overrides = systems.parse_overrides(overrides)
        if system is None:
            system = self.entry.timing.SYSTEMS[0]
        if not isinstance(system, (str, Path, dict, systems.Spec)):
            raise UsageError(f"system must be a preset name, a YAML path, a dict or a "
                             f"spec from tokenfab.systems(...), not {type(system).__name__}")
        return system, overrides

    def check_system(self, name=None, overrides=None) -> None:
        """Refuse a system this design cannot run on, or a bad field of its file, without
        building anything from the design's parameters (a sweep's spec check)."""
        name, overrides = self._system_args(name, overrides)
        if self.takes_files:
            from tokenfab.arch_models.common.system import load_platform
            timing = self.entry.timing
            load_platform(name, overrides, timing.TEMPLATES, timing.SYSTEMS, self.name)

    def system(self, name=None, node: int | None = None, overrides=None):
        """The system this design runs on: ``name`` a preset (the first of
        ``timing.SYSTEMS`` by default), a YAML path, a dict or a ``systems.Spec``;
        ``overrides`` ``{"levels.gbuf.capacity": "1MiB"}`` or ``["clock=2GHz"]``."""
        name, overrides = self._system_args(name, overrides)
        node = _node(node)
        kw = {} if node is None else {"node": node}
        if overrides:
            kw["overrides"] = overrides
        return self.entry.timing.system(self.params, name, **kw)

    def simulate(self, model="llama-2-7b", batch: int = 1, prompt: int = 512, gen: int = 128,
                 system=None, *, node: int | None = None, progress=None,
                 trace: bool = False, extend_context: bool = False,
                 allow_spill: bool = False, overrides=None):
        """Prefill and decode of ``model`` on ``system`` (see :meth:`system`): a
        :class:`SimulationResult` (``.to_dict()``, ``.breakdown``, ``.to_frame()``,
        ``.write_trace(path)``)."""
        from tokenfab.arch_models.workloads import Request, load_model
        from tokenfab.results import SimulationResult
        batch, prompt, gen = (as_int(k, v) for k, v in
                              (("batch", batch), ("prompt", prompt), ("gen", gen)))
        trace, extend_context, allow_spill = (as_bool(k, v) for k, v in (
            ("trace", trace), ("extend_context", extend_context), ("allow_spill", allow_spill)))
        progress = message_callback("progress", progress)
        request = Request(load_model(model), batch, prompt, gen,
                          extend_context=extend_context, allow_spill=allow_spill)
        system, overrides = self._system_args(system, overrides)
        node = _node(node)
        kw = {} if node is None else {"node": node}
        if overrides:
            kw["overrides"] = overrides
        run = self.entry.timing.simulate(self.params, request, system,
                                         progress=progress, trace=trace, **kw)
        result = SimulationResult(run, self.entry.cost.pricing(self.params, run))
        if hasattr(self.entry.cost, "companions"):       # a design's own comparisons
            result.companions = self.entry.cost.companions(self.params, result)
        return result

    def gemm(self, M: int, K: int, N: int, sram=None, bandwidth=None,
             drain: str = "when-full") -> dict:
        """Cycles of ``A[M, K] @ B[K, N]`` on one unit or array of this design: ``cycles``
        (SCALE-Sim's convention for systolic arrays), ``rtl_cycles`` (the RTL's
        schedule, only where RTL of these parameters can be generated; past the design's
        RTL limit ``rtl`` says why there is none), ``utilization``, ``mapping_efficiency``, ``folds``. For the systolic
        array, ``sram`` (ifmap, filter, ofmap sizes) and ``bandwidth`` (bytes per cycle of
        each SRAM's DRAM port) add ``memory``: the cycles behind SCALE-Sim's memory
        system, with its stalls (``drain``: ``when-full`` or SCALE-Sim's ``on-write``)."""
        M, K, N = (as_int(f"GEMM dimension {k}", v) for k, v in (("M", M), ("K", K),
                                                                  ("N", N)))
        if sram is None and bandwidth is None:
            out = self.entry.timing.gemm(self.params, M, K, N)
        elif sram is None or bandwidth is None:
            raise UsageError("sram and bandwidth go together: give both (the three SRAM "
                             "sizes and each one's DRAM bytes per cycle) or neither")
        elif not hasattr(self.entry.timing, "gemm_memory"):
            raise UsageError(f"sram and bandwidth model SCALE-Sim's memory system, which "
                             f"the systolic-array has; {self.name} maps onto a system file "
                             f"instead (simulate --system)")
        else:
            out = self.entry.timing.gemm(self.params, M, K, N, memory={
                "sram": sram, "bandwidth": bandwidth, "drain": drain})
        from tokenfab.params import rtl_size_problem
        from tokenfab.results import GemmResult
        no_rtl = rtl_size_problem(self.name, self.params)
        if no_rtl:                  # the unit formula's schedule, but no RTL to hold to it
            out = {k: v for k, v in out.items() if k != "rtl_cycles"}
            out["rtl"] = f"none: {no_rtl}"
        return GemmResult({"design": self.name, "params": self.params.to_dict(),
                           "shape": [M, K, N], **out})

    def fpga(self, target: str = "ecp5-25k", dsp: bool = True, place: bool = True,
             work_dir="build/fpga", progress=None, timeout: float | None = None):
        """Yosys (and with ``place`` nextpnr) on the generated Verilog: resources and
        Fmax; ``timeout`` seconds stops the tools (``UsageError``)."""
        from tokenfab.fpga import flow
        progress = message_callback("progress", progress)
        return flow.run(self.entry, self.params, target, as_path("work_dir", work_dir),
                        dsp=as_bool("dsp", dsp), place=as_bool("place", place),
                        progress=progress, timeout=timeout)

    def asic(self, liberty, clock="5ns", work_dir="build/asic", progress=None, *,
             beats: int = 64, utilisation: float = 1.0, seed: int = 1):
        """The unit synthesised onto a Liberty library (Yosys + ABC): area by module and
        cell, critical path, Fmax, leakage, and power and energy per operation from
        ``beats`` random beats offered at ``utilisation`` on the mapped netlist
        (``tokenfab.cost_models.asic``)."""
        from tokenfab.cost_models import asic
        progress = message_callback("progress", progress)
        return asic.run(self, as_path("liberty", liberty), clock,
                        as_path("work_dir", work_dir), progress=progress, beats=beats,
                        utilisation=utilisation, seed=seed)

    def rtl_area(self, node="28nm", work_dir="build/area"):
        """Area of one unit from its generated Verilog (Yosys; see ``tokenfab.cost_models.area``)."""
        from tokenfab.cost_models import area
        n = _node(node)
        out = as_path("work_dir", work_dir) / f"{self.name}-{folder_tag(self.params)}"
        v_path = self.verilog(out)
        cells = area.synth_cells(v_path, v_path.stem, out)
        return area.from_cells(self.name, cells, n)

    def sensitivity(self, node=None, model=None, system=None, volume: int = 10_000,
                    overrides=None, progress=None) -> dict:
        """How this design's cost headlines (tokens/J, chip power, area, $/Mtok) move with
        each weak (confidence W) datum the cost reads, at the low and high end of its
        range (``tokenfab.cost_models.sensitivity``): ``{"baseline": ..., "weak_data":
        [one row per datum]}``. Costs the design twice per datum."""
        from tokenfab.cost_models.sensitivity import sensitivity
        progress = message_callback("progress", progress)
        return sensitivity(lambda: self.cost(node=node, model=model, system=system,
                                             volume=volume, overrides=overrides),
                           progress=progress)

    def cost(self, node=None, model=None, system=None, volume: int = 10_000,
             rtl_area: bool = False, overrides=None, liberty=None,
             work_dir="build/asic", progress=None):
        """Area, power, die cost, NRE and (with ``model``) tokens/J and $ per million
        tokens of the ``system`` built from this design's units at ``node`` (28 nm unless
        the design says otherwise). A design's cost package may define ``design_cost`` to
        replace this tile-array path (HNLPU does). ``liberty``: price the units from
        their circuit synthesised onto that library (``tokenfab asic``, in ``work_dir``)
        instead of their component counts; the library is taken as the system's node."""
        volume = as_int("volume", volume, 1)
        rtl_area = as_bool("rtl_area", rtl_area)
        system, overrides = self._system_args(system, overrides)
        progress = message_callback("progress", progress)
        if hasattr(self.entry.cost, "design_cost"):
            if liberty is not None:
                tiles = [n for n, e in registry.DESIGNS.items()
                         if not hasattr(e.cost, "design_cost")]
                raise UsageError(
                    f"{option('liberty', '--liberty')} prices the units of the tile designs "
                    f"and arrays "
                    f"({', '.join(tiles)}); {self.name} has its own cost model: "
                    f"`tokenfab asic {self.name} --liberty ...` synthesises its unit")
            return self.entry.cost.design_cost(self, node=node, model=model,
                                               system=system, volume=volume,
                                               rtl_area=rtl_area, overrides=overrides)
        from tokenfab.cost_models.tile_arrays import design_cost
        return design_cost(self, node=node, model=model, system=system, volume=volume,
                           rtl_area=rtl_area, overrides=overrides,
                           liberty=None if liberty is None else as_path("liberty", liberty),
                           work_dir=as_path("work_dir", work_dir), progress=progress)


def design(name: str, **params) -> Design:
    """A registered design with parameters validated against its ``Params``."""
    return Design(name, **params)


def file_designs() -> list[str]:
    """The designs whose systems are files."""
    return [n for n in registry.DESIGNS if Design(n).takes_files]


def systems(name=None, overrides=None):
    """The shipped system files (names), or one of them (or a path, dict or spec) loaded
    and validated, with ``overrides`` applied: a ``tokenfab.systems.Spec``."""
    from tokenfab.arch_models import systems as sysmod
    if name is None and not overrides:
        return sysmod.preset_names()
    return sysmod.load(name, overrides)


def designs() -> list[dict]:
    return [{"name": e.name, "title": e.title, "paper": e.paper,
             "params": defaults(e.Params)} for e in registry.DESIGNS.values()]


__all__ = ["Design", "design", "designs", "systems", "file_designs"]
