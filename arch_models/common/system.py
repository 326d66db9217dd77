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

import simpy

from tokenfab.arch_models.common.tile_timing import gemm_tiles, sequence_cycles
from tokenfab.arch_models.workloads import (Attention, Elementwise, Linear, fmt_bytes,
                                            kv_cache_bytes)
from tokenfab.errors import UsageError
from tokenfab.results import OpRow, Phase, TraceEvent

CHUNKS = 4            # chunks per operation: enough for DMA/compute overlap, few events
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
    compute_s: float
    dram_bytes: float
    host_bytes: float
    macs: float
    events: Counter


def precompute_seconds(spec: SystemSpec, ops: float) -> float:
    """Vector-unit time of ``ops`` adds of an external table precompute."""
    return ops / spec.vector_flops_per_cycle / spec.vector_efficiency / spec.clock_hz


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
            cycles += precompute_seconds(spec, pre) * f
        weights = op.weight_elems * spec.weight_bits / 8
        acts = (op.m * op.k + op.m * op.n) * op.count * spec.act_bytes
        spills = spec.activations_in_dram or acts > spec.buffer_bytes
        dram = weights * (1 - spill) + (acts if spills else 0)
        ev.update(unit_steps=tiles * spec.cycles_per_tile,
                  sram_bytes=tiles * (m * k * spec.act_bytes + n * k * spec.weight_bits / 8),
                  dram_bytes=dram, host_bytes=weights * spill)
        return OpCost("matrix", cycles / f, dram, weights * spill, op.macs, ev)
    if isinstance(op, Attention):
        softmax_flops = 5 * op.scores
        ev.update(attention_macs=op.macs, vector_flops=softmax_flops)
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
        dram = (op.kv_read_elems + op.kv_write_elems) * spec.kv_bytes
        qo = op.batch * op.q_len * op.heads * (op.qk_dim + op.v_dim) * spec.act_bytes
        if spec.activations_in_dram or qo > spec.buffer_bytes:
            dram += qo
        if spec.materialize_scores:   # write S, read S, write P, read P in FP16
            dram += 4 * 2 * op.scores
        ev.update(sram_bytes=dram, dram_bytes=dram)
        engine = "matrix" if spec.attention_on == "matrix" else "vector"
        return OpCost(engine, cycles / f, dram, 0.0, op.macs, ev)
    if isinstance(op, Elementwise):
        flops = op.elements * op.flops
        cycles = flops / spec.vector_flops_per_cycle / spec.vector_efficiency
        moved = op.elements * (op.inputs + 1) * spec.act_bytes
        dram = moved if spec.activations_in_dram or moved > spec.buffer_bytes else 0.0
        ev.update(vector_flops=flops, sram_bytes=moved, dram_bytes=dram)
        return OpCost("vector", cycles / f, dram, 0.0, 0, ev)
    raise TypeError(f"unknown operation {op!r}")


def _engine_bound(engine: str) -> str:
    return "compute" if engine == "matrix" else "vector"


def run_ops(spec: SystemSpec, ops, phase: str = "prefill", tokens: int = 0,
            spill: float = 0.0, trace: list | None = None) -> Phase:
    """Run operations in order: compute is sequential (each op needs the previous one's
    output); a DMA process streams each op's DRAM (and spilled host) bytes ahead through
    a double buffer. Each row's ``time_s`` is the time from the previous op's last compute
    chunk to its own, so the rows add up to the phase."""
    costs = [op_cost(spec, op, spill) for op in ops]
    env = simpy.Environment()
    slots = simpy.Container(env, capacity=PREFETCH_SLOTS, init=PREFETCH_SLOTS)
    loaded = simpy.Store(env)
    bw, host_bw = spec.dram_bytes_per_s, spec.host_bytes_per_s
    ends = [0.0] * len(costs)

    def dma():
        for i, c in enumerate(costs):
            per_chunk = c.dram_bytes / CHUNKS / bw
            if c.host_bytes:
                per_chunk += c.host_bytes / CHUNKS / host_bw
            for _ in range(CHUNKS):
                yield slots.get(1)
                if per_chunk:
                    if trace is not None:
                        trace.append(TraceEvent(phase, "dma", ops[i].name, env.now,
                                                per_chunk))
                    yield env.timeout(per_chunk)
                yield loaded.put(1)

    def compute():
        for i, c in enumerate(costs):
            for _ in range(CHUNKS):
                yield loaded.get()
                if trace is not None and c.compute_s:
                    trace.append(TraceEvent(phase, c.engine, ops[i].name, env.now,
                                            c.compute_s / CHUNKS))
                yield env.timeout(c.compute_s / CHUNKS)
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
            bound = _engine_bound(c.engine)
        busy[c.engine] += c.compute_s
        busy["dram"] += dram_s
        if host_s:
            busy["host_link"] += host_s
        rows.append(OpRow(phase=phase, layer=op.layer, op=op.name, engine=c.engine,
                          bound=bound, time_s=t, compute_s=c.compute_s, macs=c.macs,
                          dram_bytes=c.dram_bytes + c.host_bytes, events=dict(c.events)))
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


def check_system(name: str, presets: dict) -> None:
    from tokenfab.params import did_you_mean
    if name not in presets:
        raise UsageError(f"system must be one of {', '.join(presets)}, not {name!r}"
                         f"{did_you_mean(name, presets)}")


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
        raise UsageError(what + "; pass --allow-spill to stream the excess from the host")
    if kv + acts > cap:
        raise UsageError(what + "; even with --allow-spill the KV cache and activations "
                         "must fit")
    spill = (need - cap) / weights
    lines.append(f"{spill:.1%} of the weights do not fit and stream from the host at "
                 f"{spec.host_bytes_per_s / 1e9:.0f} GB/s on every pass (--allow-spill)")
    return spill, lines
