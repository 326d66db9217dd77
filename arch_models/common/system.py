"""System-level timing: a workload's operations on a matrix engine of tile units, a vector
unit and DRAM, resolved with SimPy.

Granularity: one operation at a time (a GEMM, an attention step, an element-wise pass),
each split into a few chunks so that SimPy can overlap the DMA of the next chunk (and of
the next operation's weights) with compute. Compute cycles of a GEMM come from the same
per-unit formula the RTL cycle test checks (``tile_timing.sequence_cycles``).

The model produces times, bytes and event counts only; ``tokenfab.cost_models`` prices
the events.
"""
from __future__ import annotations

import dataclasses
import math
from collections import Counter

import numpy as np
import simpy

from tokenfab.arch_models.common import mapper
from tokenfab.arch_models.common.tile_timing import gemm_tiles, sequence_cycles
from tokenfab.arch_models.workloads import (Attention, Elementwise, Linear, fmt_bytes,
                                            kv_cache_bytes)
from tokenfab.errors import UsageError, allow_spill
from tokenfab.results import OpRow, Phase, TraceEvent

CHUNKS = 4            # chunks of an operation the mapper does not tile
MAX_CHUNKS = 64       # a mapped GEMM's outer tiles, batched into at most this many events
PREFETCH_SLOTS = 2    # double buffering


@dataclasses.dataclass(frozen=True)
class Memory:
    """An off-chip memory: its description, capacity and bandwidth (each preset sources
    them), and ``kind``, the technology its energy per bit is priced by (a key of
    ``offchip_memory`` in ``cost_models/data/tech.json``: ``hbm2``, ``lpddr5x``, ...)."""
    technology: str
    capacity_bytes: float
    bytes_per_s: float
    kind: str
    bus_bits: int = 0          # interface width, for the PHY and controller (0: not modelled)
    latency_s: float = 0.0     # first data after a request; an operation's later fills pipeline


@dataclasses.dataclass(frozen=True)
class SystemSpec:
    """A system built from a design's tile units.

    All rates are per second or per cycle of ``clock_hz``. ``buffer_bytes`` is the on-chip
    activation buffer: an operation whose live activations exceed it streams them through
    DRAM. ``host_bytes_per_s`` is the link to the host, used only for spilled weights.
    """
    name: str
    description: str
    clock_hz: float
    units: int
    tile: tuple[int, int, int]
    cycles_per_tile: int
    weight_bits: float                 # stored weight width in DRAM
    act_bytes: float
    kv_bytes: float
    memory: Memory
    buffer_bytes: float
    host_bytes_per_s: float
    vector_flops_per_cycle: float
    attention_on: str = "matrix"       # "matrix" or "vector"
    matrix_efficiency: float = 1.0
    vector_efficiency: float = 1.0
    activations_in_dram: bool = False
    materialize_scores: bool = False
    node_nm: int = 28
    calibrations: tuple = ()           # Calibration objects this preset uses
    assumptions: tuple = ()
    # cycles of one GEMM [m, k] x [k, n] on the whole engine, for engines whose GEMM time
    # is not tiles x cycles per tile (a systolic array's folds); None: the tile formula
    gemm_cycles: object = None
    fp16_tensor_cores: bool = False    # the units are A100's own FP16 tensor cores
    # (K, ops): the units take tables precomputed on the vector unit, ``ops`` adds per
    # group of K activations, once per GEMM (broadcast to every unit); None: built inside
    table_precompute: tuple | None = None
    # the on-chip hierarchy (mapper.LevelSpec, innermost first) the mapper tiles GEMMs
    # onto; empty: the old roofline (weights once, activations by ``buffer_bytes``)
    levels: tuple = ()
    # (tile (m, k, n) of one unit, loop order of its dataflow outermost first, units
    # side by side that the mapper splits over M and N)
    unit_map: tuple = ((1, 1, 1), "mnk", 1)
    platform: object = None            # the validated system file (systems.Spec)
    scale: int = 1                     # units per engine of the file (array_scale)

    @property
    def template(self) -> str:
        return self.platform.template

    @property
    def objective(self) -> str:
        return self.platform.mapper.objective

    @property
    def psum_bytes(self) -> float:
        return self.platform.engines.partial_sum_bits / 8

    @property
    def tile_macs(self) -> int:
        m, n, k = self.tile
        return m * n * k

    @property
    def peak_macs_per_s(self) -> float:
        return self.units * self.tile_macs / self.cycles_per_tile * self.clock_hz

    @property
    def dram_bytes_per_s(self) -> float:
        return self.memory.bytes_per_s


@dataclasses.dataclass
class OpCost:
    engine: str
    compute_s: float           # the engine's busy time, on-chip port stalls included
    dram_bytes: float
    host_bytes: float
    macs: float
    events: Counter
    mapping: object = None     # mapper.Mapping of a mapped GEMM
    level_bound: str | None = None    # the on-chip level whose port outlasts the compute
    unit_s: float | None = None       # the units' own time (compute_s without stalls)
    chunks: int = CHUNKS       # DMA fills (and the compute consuming each) it runs as


def precompute_seconds(spec: SystemSpec, ops: float) -> float:
    """Vector-unit time of ``ops`` adds of an external table precompute."""
    return ops / spec.vector_flops_per_cycle / spec.vector_efficiency / spec.clock_hz


def level_specs(platform, clock_hz: float) -> tuple:
    """The mapper's view of a system file's levels (innermost first)."""
    return tuple(mapper.LevelSpec(lv.name, lv.total_bytes, frozenset(lv.holds),
                                  lv.double_buffered, lv.bytes_per_cycle * clock_hz)
                 for lv in platform.levels)


def from_platform(platform, *, design: str, base_units: int, scale: int = 1,
                  node: int | None = None, vector_flops: float | None = None,
                  assumptions=(), **fields) -> SystemSpec:
    """A :class:`SystemSpec` from a validated system file and the design's own part
    (tile, precisions, dataflow, ``gemm_cycles``, ...: ``fields``). ``base_units`` is the
    design's engine count when the file gives none; ``scale`` (array_scale) multiplies
    either. ``node`` (``--node``) replaces the file's."""
    vec = platform.vector_unit.flops_per_cycle or vector_flops
    mem = platform.memory
    units = (platform.engines.count or base_units) * scale
    levels = level_specs(platform, platform.clock)
    lines = list(assumptions) + list(platform.assumptions)
    if platform.levels:
        lines.append("on chip: " + ", ".join(
            f"{lv.name} {fmt_bytes(lv.capacity)}"
            + (f" x {lv.instances}" if lv.instances > 1 else "")
            + f" ({', '.join(lv.holds)})" for lv in platform.levels)
            + "; each GEMM mapped onto them (tokenfab.arch_models.common.mapper)")
    if platform.overrides:
        lines.append("overridden: " + ", ".join(f"{k}={v}" for k, v in platform.overrides))
    return SystemSpec(
        name=platform.name, clock_hz=platform.clock, units=units,
        memory=Memory(mem.description or mem.technology, mem.capacity,
                      mem.bandwidth * mem.efficiency, mem.technology, mem.bus_bits,
                      mem.latency),
        buffer_bytes=platform.activation_buffer_bytes,
        host_bytes_per_s=platform.host_link.bandwidth, vector_flops_per_cycle=vec,
        matrix_efficiency=platform.kernels.efficiency,
        vector_efficiency=platform.vector_unit.efficiency,
        activations_in_dram=platform.kernels.activations_in_dram,
        materialize_scores=platform.kernels.materialize_scores,
        node_nm=int(node or platform.node), calibrations=platform.calibrations,
        assumptions=tuple(lines), levels=levels, platform=platform, scale=scale, **fields)


def memory_summary(platform) -> str:
    """``128 GB/s LPDDR5X``: a system file's off-chip memory for descriptions."""
    return f"{platform.memory.bandwidth / 1e9:.0f} GB/s {platform.memory.technology.upper()}"


def platform_summary(platform, node: int | None = None) -> str:
    """``1 GHz, 28 nm, 128 GB/s LPDDR5X, 1024 FLOP/cycle vector unit``: an accelerator
    file's clock, node (``node`` replaces the file's), memory and vector unit."""
    return (f"{platform.clock / 1e9:g} GHz, {int(node or platform.node)} nm, "
            f"{memory_summary(platform)}, "
            f"{platform.vector_unit.flops_per_cycle:.0f} FLOP/cycle vector unit")


def map_linear(spec: SystemSpec, op, compute_s: float) -> mapper.Mapping:
    """The mapping of one of ``op``'s GEMMs onto the spec's hierarchy."""
    tile, order, units = spec.unit_map
    problem = mapper.Problem(op.m, op.k, op.n, op.count,
                             (spec.act_bytes, spec.weight_bits / 8, spec.act_bytes),
                             spec.psum_bytes, not spec.activations_in_dram)
    return mapper.map_gemm(problem, spec.levels, tile, order, spec.dram_bytes_per_s,
                           compute_s / op.count, spec.objective, units=units)


def map_attention(spec: SystemSpec, op) -> mapper.AttentionMapping | None:
    """QK^T and PV fused on the outermost level that keeps activations (None: kernels that
    write the scores to DRAM, or no hierarchy). The heads sharing a KV head share its
    passes; sequences and KV heads run one after another through the level."""
    held = [lv for lv in spec.levels if "activations" in lv.holds]
    if spec.materialize_scores or not held:
        return None
    group = max(1, op.heads // max(1, op.kv_heads))
    try:
        mp = mapper.map_attention(op.q_len * group, op.kv_span, op.qk_dim, op.v_dim,
                                  spec.act_bytes, spec.kv_bytes, 4.0, held[-1])
    except UsageError as exc:
        raise UsageError(f"system {spec.name}: {op.name} of layer {op.layer}: {exc}") from None
    if mp.passes == 1 or mp.block_rows < group or not (op.causal and op.q_len > 1):
        return mp
    # causal prefill: a block of queries reads the keys up to its last token only
    tokens = mp.block_rows // group
    ends = np.minimum(np.arange(tokens, op.q_len + tokens, tokens), op.q_len)
    keys = op.kv_len - op.q_len + ends
    if op.window:
        keys = np.minimum(keys, op.window)
    return dataclasses.replace(mp, passes=float(keys.sum()) / op.kv_span)


def on_gpu(spec: SystemSpec) -> bool:
    """A ``gpu`` system: its SMs feed and issue to every busy tensor-core slot (the event
    ``sm_slot_steps``: busy steps of a slot, whatever units sit in it) and to the CUDA
    cores (``sm_simt_flops``: their FLOPs, a table precompute's adds counted as FLOPs)."""
    return spec.platform is not None and spec.platform.template == "gpu"


def op_cost(spec: SystemSpec, op, spill: float = 0.0) -> OpCost:
    """Time on its engine, bytes moved and events of one operation; ``spill`` is the
    fraction of the weights that lives behind the host link."""
    f = spec.clock_hz
    ev = Counter()
    if isinstance(op, Linear):
        m, n, k = spec.tile
        if spec.gemm_cycles is not None:
            busy = spec.gemm_cycles(op.m, op.k, op.n * op.count)
            tiles = busy * spec.units / spec.cycles_per_tile       # every unit steps
            cycles = busy / spec.matrix_efficiency
        else:
            tiles = gemm_tiles(op.m, op.n, op.k, m, n, k) * op.count
            per_unit = math.ceil(tiles / spec.units)
            cycles = sequence_cycles(per_unit, spec.cycles_per_tile) / spec.matrix_efficiency
        if spec.table_precompute:
            group, ops = spec.table_precompute
            pre = op.m * math.ceil(op.k / group) * op.count * ops
            ev["precompute_ops"] = pre
            if on_gpu(spec):
                ev["sm_simt_flops"] = pre        # an add each, on the CUDA cores
            cycles += precompute_seconds(spec, pre) * f
        weights = op.weight_elems * spec.weight_bits / 8
        # every unit cycle clocks the unit; the gates switch for the MACs done (a
        # systolic fold's fill and drain hold no operands)
        busy_steps = (op.macs * spec.cycles_per_tile / spec.tile_macs
                      if spec.gemm_cycles is not None else tiles * spec.cycles_per_tile)
        ev.update(unit_steps=tiles * spec.cycles_per_tile, unit_busy_steps=busy_steps,
                  host_bytes=weights * spill)
        if on_gpu(spec):
            ev["sm_slot_steps"] = busy_steps / spec.scale
        if spec.levels:
            try:
                mp = map_linear(spec, op, cycles / f)
            except UsageError as exc:
                raise UsageError(f"system {spec.name}: {op.name} of layer {op.layer} "
                                 f"({op.m} x {op.k} x {op.n}): {exc}") from None
            dram = mp.dram_bytes - weights * spill
            for name, t in mp.traffic.items():
                if name != mapper.DRAM:
                    ev[f"{name}_read_bytes"] += t["reads"]
                    ev[f"{name}_write_bytes"] += t["writes"]
            ev["dram_bytes"] = dram
            # on-chip ports that need longer than the compute stall it (the levels
            # double-buffer, so transfers overlap compute; the slowest one decides)
            slowest = max(mp.boundary_s, key=mp.boundary_s.get, default=None)
            busy = cycles / f
            limit = None
            if slowest is not None and mp.boundary_s[slowest] > busy:
                busy, limit = mp.boundary_s[slowest], slowest
            # one fill of the outermost tier per outer tile (identical tiles batched)
            chunks = int(min(MAX_CHUNKS, max(1, mp.outer_tiles * op.count)))
            return OpCost("matrix", busy, dram, weights * spill, op.macs, ev, mp, limit,
                          cycles / f, chunks)
        acts = (op.m * op.k + op.m * op.n) * op.count * spec.act_bytes
        spills = spec.activations_in_dram or acts > spec.buffer_bytes
        dram = weights * (1 - spill) + (acts if spills else 0)
        ev.update(sram_bytes=tiles * (m * k * spec.act_bytes + n * k * spec.weight_bits / 8),
                  dram_bytes=dram)
        return OpCost("matrix", cycles / f, dram, weights * spill, op.macs, ev)
    if isinstance(op, Attention):
        softmax_flops = 5 * op.scores
        ev.update(attention_macs=op.macs, vector_flops=softmax_flops)
        if on_gpu(spec) and spec.attention_on == "matrix":
            ev["sm_slot_steps"] = (op.macs * spec.cycles_per_tile / spec.tile_macs
                                   / spec.scale)
            ev["sm_simt_flops"] = softmax_flops
        elif on_gpu(spec):
            ev["sm_simt_flops"] = softmax_flops + 2 * op.macs
        if spec.attention_on == "matrix" and spec.gemm_cycles is not None:
            # QK^T and PV of every sequence and head as GEMMs on the engine (no causal
            # skipping: the folds cover the whole score block)
            g = spec.gemm_cycles
            cycles = op.batch * op.heads * (g(op.q_len, op.qk_dim, op.kv_span)
                                            + g(op.q_len, op.kv_span, op.v_dim))
            cycles /= spec.matrix_efficiency
        elif spec.attention_on == "matrix":
            cycles = op.macs / (spec.units * spec.tile_macs) / spec.matrix_efficiency
        else:
            cycles = 2 * op.macs / spec.vector_flops_per_cycle / spec.vector_efficiency
        cycles += softmax_flops / spec.vector_flops_per_cycle / spec.vector_efficiency
        mp = map_attention(spec, op)
        passes = mp.passes if mp else 1
        dram = (op.kv_read_elems * passes + op.kv_write_elems) * spec.kv_bytes
        qo = op.batch * op.q_len * op.heads * (op.qk_dim + op.v_dim) * spec.act_bytes
        if spec.activations_in_dram or qo > spec.buffer_bytes:
            dram += qo
        if spec.materialize_scores:   # write S, read S, write P, read P in FP16
            dram += 4 * 2 * op.scores
        ev.update(_onchip(spec, dram, dram), dram_bytes=dram)
        engine = "matrix" if spec.attention_on == "matrix" else "vector"
        return OpCost(engine, cycles / f, dram, 0.0, op.macs, ev, mp)
    if isinstance(op, Elementwise):
        flops = op.elements * op.flops
        cycles = flops / spec.vector_flops_per_cycle / spec.vector_efficiency
        moved = op.elements * (op.inputs + 1) * spec.act_bytes
        dram = moved if spec.activations_in_dram or moved > spec.buffer_bytes else 0.0
        ev.update(vector_flops=flops, dram_bytes=dram,
                  **_onchip(spec, op.elements * op.inputs * spec.act_bytes,
                            op.elements * spec.act_bytes))
        if on_gpu(spec):
            ev["sm_simt_flops"] = flops
        return OpCost("vector", cycles / f, dram, 0.0, 0, ev)
    raise TypeError(f"unknown operation {op!r}")


def _onchip(spec: SystemSpec, read: float, written: float) -> dict:
    """On-chip bytes of an operation the mapper does not tile (attention, element-wise):
    charged to the outermost level keeping activations, or as ``sram_bytes`` on a system
    without a hierarchy."""
    holders = [lv for lv in spec.levels if "activations" in lv.holds]
    if not holders:
        return {"sram_bytes": read + written} if spec.levels == () else {}
    name = holders[-1].name
    return {f"{name}_read_bytes": read, f"{name}_write_bytes": written}


def _engine_bound(engine: str) -> str:
    return "compute" if engine == "matrix" else "vector"


def run_ops(spec: SystemSpec, ops, phase: str = "prefill", tokens: int = 0,
            spill: float = 0.0, trace: list | None = None) -> Phase:
    """Run operations in order: compute is sequential (each op needs the previous one's
    output); a DMA process streams each op's DRAM (and spilled host) bytes ahead through
    a double buffer, a mapped GEMM one fill per tile of its outermost on-chip level (up to
    ``MAX_CHUNKS`` batches), so its compute starts when the first tile is in. Each row's ``time_s`` is the time from the previous op's last compute
    chunk to its own, so the rows add up to the phase."""
    costs = [op_cost(spec, op, spill) for op in ops]
    env = simpy.Environment()
    slots = simpy.Container(env, capacity=PREFETCH_SLOTS, init=PREFETCH_SLOTS)
    loaded = simpy.Store(env)
    bw, host_bw = spec.dram_bytes_per_s, spec.host_bytes_per_s
    ends = [0.0] * len(costs)

    def dma():
        for i, c in enumerate(costs):
            per_chunk = c.dram_bytes / c.chunks / bw
            if c.host_bytes:
                per_chunk += c.host_bytes / c.chunks / host_bw
            for j in range(c.chunks):
                yield slots.get(1)
                if per_chunk and j == 0 and spec.memory.latency_s:
                    yield env.timeout(spec.memory.latency_s)    # the first request's wait
                if per_chunk:
                    if trace is not None:
                        trace.append(TraceEvent(
                            phase, "dma", ops[i].name, env.now, per_chunk, ops[i].layer,
                            (c.dram_bytes + c.host_bytes) / c.chunks))
                    yield env.timeout(per_chunk)
                yield loaded.put(1)

    def compute():
        for i, c in enumerate(costs):
            for _ in range(c.chunks):
                yield loaded.get()
                if trace is not None and c.compute_s:
                    trace.append(TraceEvent(phase, c.engine, ops[i].name, env.now,
                                            c.compute_s / c.chunks, ops[i].layer))
                yield env.timeout(c.compute_s / c.chunks)
                yield slots.put(1)
            ends[i] = env.now

    env.process(dma())
    done = env.process(compute())
    env.run(until=done)
    rows, busy = [], Counter()
    prev = 0.0
    for op, c, end in zip(ops, costs, ends):
        t = end - prev
        prev = end
        dram_s = c.dram_bytes / bw
        host_s = c.host_bytes / host_bw if c.host_bytes else 0.0
        if max(dram_s, host_s) > c.compute_s:           # the op's own roofline
            bound = "host" if host_s > dram_s else "memory"
        else:
            bound = c.level_bound or _engine_bound(c.engine)
        busy[c.engine] += c.compute_s
        busy["dram"] += dram_s
        if host_s:
            busy["host_link"] += host_s
        rows.append(OpRow(phase=phase, layer=op.layer, op=op.name, engine=c.engine,
                          bound=bound, time_s=t, compute_s=c.compute_s, macs=c.macs,
                          dram_bytes=c.dram_bytes + c.host_bytes, events=dict(c.events),
                          mapping=c.mapping.describe() if c.mapping else "",
                          stall_s=max(0.0, t - (c.unit_s if c.unit_s is not None
                                                else c.compute_s))))
    return Phase(phase, tokens, env.now, rows, dict(busy))


class PhaseLog:
    """The rows and busy times of one SimPy phase that runs its operations in order:
    ``work`` spends time on an engine (traced when ``trace`` is a list), ``row`` closes an
    operation's row at the current time (each row runs from the previous row's end, so
    the rows add up to the phase), ``phase`` returns the :class:`Phase`."""

    def __init__(self, env, name: str, engines, trace: list | None = None):
        self.env, self.name, self.trace = env, name, trace
        self.busy = dict.fromkeys(engines, 0.0)
        self.rows: list[OpRow] = []
        self.last = 0.0

    def work(self, engine: str, seconds: float, label: str):
        if self.trace is not None and seconds:
            self.trace.append(TraceEvent(self.name, engine, label, self.env.now, seconds))
        self.busy[engine] = self.busy.get(engine, 0.0) + seconds
        return self.env.timeout(seconds)

    def row(self, layer: int, op: str, engine: str, busy_s: float, bound: str, **kw) -> None:
        self.rows.append(OpRow(phase=self.name, layer=layer, op=op, engine=engine,
                               bound=bound, time_s=self.env.now - self.last,
                               compute_s=busy_s, **kw))
        self.last = self.env.now

    def phase(self, tokens: int) -> Phase:
        return Phase(self.name, tokens, self.env.now, self.rows, self.busy)


def load_platform(system, overrides, templates: tuple, presets: tuple, design: str):
    """A validated system file for ``design``, which runs on ``templates``: a file for
    another design (``engines.design``) is refused, and an unknown name is refused naming
    the design's own ``presets``."""
    from tokenfab.arch_models import systems
    platform = systems.load(system, overrides, offer=presets)
    if platform.template not in templates:
        raise UsageError(f"system {platform.name!r}: template {platform.template!r} is not "
                         f"one this design runs on ({', '.join(templates)})")
    if platform.engines.design not in (None, design):
        raise UsageError(f"system {platform.name}: engines.design is "
                         f"{platform.engines.design!r}; it runs that design, not {design!r}")
    return platform


def load_design_platform(system, overrides, templates: tuple, presets: tuple, design: str,
                         node: int | None = None):
    """``load_platform`` for a design built for its system's part (TeLLMe's FPGA, SAIL's
    CPU, HNLPU's chip): ``node`` (from ``--node``), when given, must be the file's."""
    platform = load_platform(system, overrides, templates, presets, design)
    plat_node = int(round(platform.node))
    if node not in (None, plat_node):
        raise UsageError(f"{design} runs on the {platform.name} system's {plat_node} nm "
                         f"part; node must be {plat_node}nm, not {node}nm")
    return platform


LEVEL_FIGURES = ("read_energy", "write_energy", "area")


def refuse_unused_figures(platform, design: str, used: dict, why: str) -> None:
    """Refuse a sourced figure (``read_energy``, ``write_energy``, ``area``) that the file
    gives a level and ``design``'s model would not read, rather than ignore it: ``used``
    maps a level's name to the figures the model reads (other levels: none); ``why``
    says what the model takes instead."""
    for lv in platform.levels:
        for figure in LEVEL_FIGURES:
            if getattr(lv, figure) is not None and figure not in used.get(lv.name, ()):
                raise UsageError(f"system {platform.name}: level {lv.name}'s {figure} is not "
                                 f"used by the {design} model ({why}); remove it")


def refuse_unread_fields(platform, design: str, paths: tuple, why: str,
                         allowed: dict | None = None) -> None:
    """Refuse a field that the file (or an override) sets away from its default when
    ``design``'s model does not read it, rather than ignore it: ``paths`` dotted
    (``kernels.efficiency``); ``allowed`` other values a path may take."""
    from tokenfab.arch_models.systems import schema
    for path in paths:
        section, field = path.split(".")
        default = schema.Spec.model_fields[section].annotation.model_fields[field].default
        value = getattr(getattr(platform, section), field)
        if value != default and value not in (allowed or {}).get(path, ()):
            shown = f"{value:g}" if isinstance(value, float) else repr(value)
            raise UsageError(f"system {platform.name}: {path} is {shown}, which the "
                             f"{design} model does not read ({why}); leave it out")


# what a design with its own timing model (TeLLMe, SAIL, HNLPU) does not read: the
# mapper and the kernels' settings drive the tile designs' mapped GEMMs
TILE_ONLY_FIELDS = ("kernels.activations_in_dram", "kernels.materialize_scores",
                    "kernels.efficiency", "mapper.objective", "engines.partial_sum_bits",
                    "vector_unit.efficiency", "memory.latency")


def check_fit(request, spec: SystemSpec) -> tuple[float, list[str]]:
    """Weights, KV cache for batch x context and the largest live activation must fit the
    off-chip memory. Returns the fraction of the weights spilled behind the host link
    (non-zero only with ``allow_spill``) and the assumption lines."""
    cfg = request.model
    weights = cfg.linear_params() * spec.weight_bits / 8 + cfg.embedding_elems * spec.act_bytes
    kv = kv_cache_bytes(cfg, request.batch, request.context, spec.kv_bytes)
    tokens = request.batch * request.prompt
    acts = 2 * tokens * max(cfg.hidden, cfg.intermediate) * spec.act_bytes
    need = weights + kv + acts
    cap = spec.memory.capacity_bytes
    lines = [f"{spec.memory.technology}: {fmt_bytes(cap)} at "
             f"{spec.memory.bytes_per_s / 1e9:.0f} GB/s; needs weights {fmt_bytes(weights)} + "
             f"KV cache {fmt_bytes(kv)} + activations {fmt_bytes(acts)}"]
    if need <= cap:
        return 0.0, lines
    what = (f"{cfg.name} needs {fmt_bytes(need)} (weights {fmt_bytes(weights)}, KV cache "
            f"{fmt_bytes(kv)} for batch {request.batch} x {request.context} tokens, "
            f"activations {fmt_bytes(acts)}) but the {spec.name} system has "
            f"{fmt_bytes(cap)} of {spec.memory.technology}")
    if not request.allow_spill:
        raise UsageError(what + f"; pass {allow_spill()} to stream the excess from the host")
    if kv + acts > cap:
        raise UsageError(what + f"; even with {allow_spill()} the KV cache and activations "
                         "must fit")
    spill = (need - cap) / weights
    lines.append(f"{spill:.1%} of the weights do not fit and stream from the host at "
                 f"{spec.host_bytes_per_s / 1e9:.0f} GB/s on every pass (--allow-spill)")
    return spill, lines
