"""System-level timing: a workload's operations on a matrix engine of tile units, a vector
unit and DRAM, resolved with SimPy.

Granularity: one operation at a time (a GEMM, an attention step, an element-wise pass),
each split into a few chunks so that SimPy can overlap the DMA of the next chunk (and of
the next operation's weights) with compute. Compute cycles of a GEMM come from the same
per-unit formula the RTL cycle test checks (``tile_timing.sequence_cycles``).
"""
from __future__ import annotations

import dataclasses
import math
from collections import Counter

import simpy

from arch_models.common.tile_timing import gemm_tiles, sequence_cycles
from cost_models.energy import EnergyReport, energy_report
from arch_models.workloads import Attention, Elementwise, Linear
from tokenfab.errors import UsageError

CHUNKS = 4            # chunks per operation: enough for DMA/compute overlap, few events
PREFETCH_SLOTS = 2    # double buffering


@dataclasses.dataclass(frozen=True)
class SystemSpec:
    """A system built from a design's tile units.

    All rates are per second or per cycle of ``clock_hz``; energies in joules.
    ``calibrated`` names the fields fitted to a published number, with the number.
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
    dram_bytes_per_s: float
    vector_flops_per_cycle: float
    attention_on: str = "matrix"       # "matrix" or "vector"
    matrix_efficiency: float = 1.0
    vector_efficiency: float = 1.0
    activations_in_dram: bool = False
    materialize_scores: bool = False
    node_nm: int = 28
    energy_per_unit_step_j: float = 0.0
    energy_per_mac_attention_j: float = 0.0
    energy_per_vector_flop_j: float = 0.0
    energy_per_dram_byte_j: float = 0.0
    energy_per_sram_byte_j: float = 0.0
    static_power_w: float = 0.0
    calibrated: tuple = ()

    @property
    def tile_macs(self) -> int:
        m, n, k = self.tile
        return m * n * k

    @property
    def peak_macs_per_s(self) -> float:
        return self.units * self.tile_macs / self.cycles_per_tile * self.clock_hz


@dataclasses.dataclass
class OpCost:
    engine: str
    compute_s: float
    dram_bytes: float
    events: Counter


def op_cost(spec: SystemSpec, op) -> OpCost:
    f = spec.clock_hz
    ev = Counter()
    if isinstance(op, Linear):
        m, n, k = spec.tile
        tiles = gemm_tiles(op.m, op.n, op.k, m, n, k) * op.count
        per_unit = math.ceil(tiles / spec.units)
        cycles = sequence_cycles(per_unit, spec.cycles_per_tile) / spec.matrix_efficiency
        weights = op.weight_elems * spec.weight_bits / 8
        acts = (op.m * op.k + op.m * op.n) * op.count * spec.act_bytes
        dram = weights + (acts if spec.activations_in_dram else 0)
        ev.update(unit_steps=tiles * spec.cycles_per_tile, macs=op.macs,
                  sram_bytes=tiles * (m * k * spec.act_bytes + n * k * spec.weight_bits / 8))
        return OpCost("matrix", cycles / f, dram, ev)
    if isinstance(op, Attention):
        softmax_flops = 5 * op.scores
        ev.update(attention_macs=op.macs, vector_flops=softmax_flops)
        if spec.attention_on == "matrix":
            cycles = op.macs / (spec.units * spec.tile_macs) / spec.matrix_efficiency
        else:
            cycles = 2 * op.macs / spec.vector_flops_per_cycle / spec.vector_efficiency
        cycles += softmax_flops / spec.vector_flops_per_cycle / spec.vector_efficiency
        dram = (op.kv_read_elems + op.kv_write_elems) * spec.kv_bytes
        if spec.activations_in_dram:
            dram += op.batch * op.q_len * op.heads * (op.qk_dim + op.v_dim) * spec.act_bytes
        if spec.materialize_scores:   # write S, read S, write P, read P in FP16
            dram += 4 * 2 * op.scores
        ev.update(sram_bytes=dram)
        return OpCost("attention", cycles / f, dram, ev)
    if isinstance(op, Elementwise):
        flops = op.elements * op.flops
        cycles = flops / spec.vector_flops_per_cycle / spec.vector_efficiency
        moved = op.elements * (op.inputs + 1) * spec.act_bytes
        ev.update(vector_flops=flops, sram_bytes=moved)
        return OpCost("vector", cycles / f, moved if spec.activations_in_dram else 0, ev)
    raise TypeError(f"unknown operation {op!r}")


@dataclasses.dataclass
class PhaseReport:
    seconds: float
    events: Counter
    busy_s: Counter        # compute seconds by engine
    dram_bytes: float

    def energy(self, spec: SystemSpec) -> EnergyReport:
        """Events x energy per event + static power x time, by event kind."""
        per = {"unit_steps": spec.energy_per_unit_step_j,
               "attention_macs": spec.energy_per_mac_attention_j,
               "vector_flops": spec.energy_per_vector_flop_j,
               "sram_bytes": spec.energy_per_sram_byte_j,
               "dram_bytes": spec.energy_per_dram_byte_j}
        events = {k: self.events[k] for k in per if k != "dram_bytes"}
        events["dram_bytes"] = self.dram_bytes
        return energy_report(events, per, spec.static_power_w, self.seconds)

    def energy_j(self, spec: SystemSpec) -> float:
        return self.energy(spec).total_j


def run_ops(spec: SystemSpec, ops) -> PhaseReport:
    """Run operations in order: compute is sequential (each op needs the previous one's
    output); a DMA process streams each op's DRAM bytes ahead through a double buffer."""
    costs = [op_cost(spec, op) for op in ops]
    env = simpy.Environment()
    slots = simpy.Container(env, capacity=PREFETCH_SLOTS, init=PREFETCH_SLOTS)
    loaded = simpy.Store(env)
    bw = spec.dram_bytes_per_s

    def dma():
        for c in costs:
            for _ in range(CHUNKS):
                yield slots.get(1)
                if c.dram_bytes:
                    yield env.timeout(c.dram_bytes / CHUNKS / bw)
                yield loaded.put(1)

    def compute():
        for c in costs:
            for _ in range(CHUNKS):
                yield loaded.get()
                yield env.timeout(c.compute_s / CHUNKS)
                yield slots.put(1)

    env.process(dma())
    done = env.process(compute())
    env.run(until=done)
    events, busy = Counter(), Counter()
    dram = 0.0
    for c in costs:
        events.update(c.events)
        busy[c.engine] += c.compute_s
        dram += c.dram_bytes
    return PhaseReport(env.now, events, busy, dram)


def check_system(name: str, presets: dict) -> None:
    if name not in presets:
        raise UsageError(f"system must be one of {', '.join(presets)}, not {name!r}")
