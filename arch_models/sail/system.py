"""SimPy model of a many-core CPU with a SAIL C-SRAM block beside each LLC slice, and of
the same CPU without it (the baseline).

Per operation of the workload (``tokenfab.arch_models.workloads``):

- a linear layer on SAIL: its outputs split over the slices, each slice's block running
  GEMV instructions of ``outputs`` outputs x K inputs x ``slots`` tokens, each costing
  the block's own cycles (``timing.gemv_cycles``: type conversion, weight loads, table
  builds, lookups at the measured pattern-reuse rate, dequantisation) at the LLC clock;
- a linear layer on the baseline: T-MAC-class LUT kernels on the cores (bit-serial:
  cost per MAC proportional to the weight bits; the rate per core is a calibration);
- weights stream from DRAM once per step into the LLC slices ahead of compute, piece by
  piece, as far as the LLC's free bytes allow (64 x 1 MiB on Graviton2: two Llama-2-13B
  W4 gate/up layers, 2 x 35.4 MB, do not fit together, so the second waits for room),
  at the sustained DRAM bandwidth;
- attention (Q K^T, softmax, P V over an FP16 KV cache read from DRAM) and the
  element-wise work on the cores' FP16 NEON pipes, in both systems.
"""
from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import simpy

from tokenfab.arch_models.common.system import PhaseLog
from tokenfab.arch_models.workloads import (Attention, Elementwise, Linear, fmt_bytes,
                                            kv_cache_bytes)
from tokenfab.calibration import calibrated
from tokenfab.hw.sail.params import FP16_PER_LINE
from tokenfab.errors import UsageError
from tokenfab.results import Phase

# A Neoverse-N1 core running T-MAC's LUT kernels: MACs per cycle at 4-bit weights. T-MAC
# processes weights one bit-plane at a time, so the rate scales as 4 / weight_bits.
TMAC_MACS_PER_CYCLE_W4 = calibrated(
    "sail_tmac_macs_per_cycle_w4", 6.662,
    fitted_to="T-MAC, Llama-2-7B W4 on one Cortex-A76 core of a Raspberry Pi 5 at "
              "2.4 GHz: 2.42 tokens/s (microsoft/T-MAC docs/profiling_data.md) x 6.607 G "
              "linear MACs per token / 2.4e9; the A76 is the N1's client sibling",
    drives="the N1 baseline's linear-layer time, hence SAIL's speed-up and tokens per "
           "dollar ratios")
# The measured A76 figure may itself be bandwidth-limited: the rate is a lower bound.


# A layer's weights stream into the LLC in at least this many pieces (its GEMV consumes
# each as it arrives), so the next layer prefetches into whatever room is left.
PIECES_PER_LAYER = 8


def tmac_macs_per_cycle(p) -> float:
    """A core's T-MAC rate at ``p.weight_bits`` (one bit-plane at a time)."""
    return TMAC_MACS_PER_CYCLE_W4 * 4 / p.weight_bits


@dataclasses.dataclass(frozen=True)
class CpuSystem:
    """A many-core CPU; ``sail`` says whether each LLC slice carries a C-SRAM block."""
    name: str
    cores: int
    core_hz: float
    dram_bytes_per_s: float
    dram_efficiency: float
    memory_bytes: float
    fp16_fma_per_cycle: int
    llc_slice_bytes: float
    sail: bool = True
    csram_hz_ratio: float = 0.5
    llc_read_energy: float | None = None    # the system file's J per byte read at a slice
    memory: str = "ddr4"                      # the DRAM's technology: tech.json's row

    @property
    def slices(self) -> int:
        return self.cores

    @property
    def llc_bytes(self) -> float:
        """The LLC that holds streamed weights: every slice."""
        return self.slices * self.llc_slice_bytes

    @property
    def csram_hz(self) -> float:
        return self.core_hz * self.csram_hz_ratio

    @property
    def dram_sustained(self) -> float:
        return self.dram_bytes_per_s * self.dram_efficiency

    def describe(self) -> str:
        kind = "with a SAIL C-SRAM block per LLC slice" if self.sail else "cores only (T-MAC)"
        return (f"{self.name}: {self.cores} Neoverse-N1 cores at {self.core_hz / 1e9:.2f} GHz "
                f"{kind}, DDR4 {self.dram_bytes_per_s / 1e9:.1f} GB/s "
                f"({self.dram_efficiency:.0%} sustained), {fmt_bytes(self.memory_bytes)}")


# Graviton2 as an EC2 c6g.16xlarge: the graviton2 system file (arch_models/systems/
# graviton2.yaml, its sources there) as the model reads it.
GRAVITON2 = CpuSystem(name="graviton2", cores=64, core_hz=2.5e9, dram_bytes_per_s=204.8e9,
                      dram_efficiency=0.75, memory_bytes=128 * 2**30, fp16_fma_per_cycle=16,
                      llc_slice_bytes=2**20)


# ---------------------------------------------------------------- activations and the PRT
# Activation trace: no decoder LLM installs from the package registries this project may
# use, so the lookups run on a stated distribution: Laplace(0, 1) hidden activations
# (heavy-tailed like post-norm LLM activations) with 0.2% outlier channels 20x larger,
# after LLM.int8() (Dettmers et al., NeurIPS 2022: a few feature dimensions carry
# magnitudes up to 20x the rest) [M].
TRACE_K = 1024
TRACE_OUTLIER_FRACTION = 0.002
TRACE_OUTLIER_SCALE = 20.0
TRACE_SEED = 2025


@functools.lru_cache(maxsize=1)
def activation_trace(tokens: int = 64) -> np.ndarray:
    """FP16 bit patterns ``[tokens, TRACE_K]`` of the stated distribution."""
    rng = np.random.default_rng(TRACE_SEED)
    x = rng.laplace(0.0, 1.0, (tokens, TRACE_K))
    outliers = rng.random(TRACE_K) < TRACE_OUTLIER_FRACTION
    x[:, outliers] *= TRACE_OUTLIER_SCALE
    return x.astype(np.float16).view(np.uint16).astype(np.int64)


@functools.lru_cache(maxsize=256)
def lookup_mix(nbw: int, act_bits: int, prt_entries: int, batch: int) -> tuple:
    """Fractions of lookups served by the zero pattern, by the reuse table and by an
    array read, when a GEMV serves ``batch`` tokens of the trace (the golden model's
    reuse-table policy: FIFO, cleared per group)."""
    from tokenfab.arch_models.sail.golden import lookup_kinds, quantise
    from tokenfab.hw.sail.params import Params
    p = Params(nbw=nbw, act_bits=act_bits, prt_entries=prt_entries, slots=max(batch, 1),
               arrays=1)
    x = activation_trace()
    q, _ = quantise(p, x)
    counts = np.zeros(3)
    for start in range(0, x.shape[0] - batch + 1, batch):
        counts += np.bincount(lookup_kinds(p, q[start:start + batch]).ravel(),
                              minlength=3)
    return tuple(float(c) for c in counts / counts.sum())


# ---------------------------------------------------------------- per operation
def passes(m: int, slots: int) -> list[tuple[int, int]]:
    """``m`` tokens in GEMV passes of at most ``slots``: (tokens per pass, passes)."""
    full = [(slots, m // slots)] if m >= slots else []
    return full + ([(m % slots, 1)] if m % slots else [])


def k_split(p, sys: CpuSystem, op: Linear) -> int:
    """Tensor-level scheduling: into how many K chunks a layer is cut so that the slices'
    output columns fill (each chunk a whole number of 16-input lines and ``nbw`` groups);
    the chunks' FP32 partial sums are added on the cores."""
    n_total = op.n * op.count
    k_lines = math.ceil(op.k / FP16_PER_LINE)
    best, best_cost = 1, None
    s = 1
    while s <= min(k_lines, sys.slices):
        if k_lines % s == 0:
            per_slice = math.ceil(n_total * s / sys.slices)
            cost = math.ceil(per_slice / p.outputs) * k_lines / s
            if best_cost is None or cost < best_cost:
                best, best_cost = s, cost
        s *= 2
    return best


def gemv_seconds(p, sys: CpuSystem, op: Linear) -> tuple[float, float, dict]:
    """Time of one linear operation on the slices' blocks, the cores' time to add the
    K chunks' partial sums, and the events."""
    from tokenfab.arch_models.sail import timing
    n_total = op.n * op.count
    split = k_split(p, sys, op)
    per_slice = math.ceil(n_total * split / sys.slices)
    tiles = math.ceil(per_slice / p.outputs)
    k_lines = math.ceil(op.k / FP16_PER_LINE) // split
    groups = p.groups(k_lines)
    n_tile = min(p.outputs, per_slice)
    cycles = 0.0
    ev = dict.fromkeys(("csram_row_reads", "csram_row_writes", "prt_lookups",
                        "slice_line_accesses", "acc_updates", "bank_row_accesses"), 0.0)
    for b, count in passes(op.m, p.slots):
        zero, hit, miss = lookup_mix(p.nbw, p.act_bits, p.prt_entries, b)
        lookups = groups * b * p.act_bits
        cycles += count * tiles * timing.gemv_model_cycles(p, k_lines, b, n_tile, miss)
        blocks = count * sys.slices * tiles    # GEMV instructions of these passes
        ev["csram_row_reads"] += blocks * (lookups * miss + groups * p.patterns) * p.arrays
        ev["csram_row_writes"] += blocks * groups * p.patterns * p.arrays
        ev["prt_lookups"] += blocks * lookups * (1.0 if p.prt_entries else 0.0)
        ev["acc_updates"] += blocks * lookups * (1 - zero) * p.outputs
        ev["bank_row_accesses"] += blocks * b * (2 * groups + 1)    # per token and group
        ev["slice_line_accesses"] += blocks * (4 * b * k_lines + groups * (
            p.nbw * p.arrays + b) + b * (2 * n_tile / 8))
    reduce_s = (op.m * n_total * (split - 1)
                / (sys.cores * sys.fp16_fma_per_cycle / 2 * sys.core_hz))   # FP32 adds
    return cycles / sys.csram_hz, reduce_s, ev


def tmac_seconds(p, sys: CpuSystem, op: Linear) -> float:
    return op.macs / (sys.cores * tmac_macs_per_cycle(p) * sys.core_hz)


def weight_bytes(p, op: Linear) -> float:
    """Packed weights plus one FP16 scale per output."""
    return op.count * (op.n * op.k * p.weight_bits / 8 + 2 * op.n)


def check_capacity(p, cfg, sys: CpuSystem, batch: int, context: int) -> str:
    weights = cfg.linear_params() * p.weight_bits / 8 + cfg.embedding_elems * 2
    kv = kv_cache_bytes(cfg, batch, context, 2.0)
    need = weights + kv
    if need > sys.memory_bytes:
        raise UsageError(
            f"{cfg.name} at batch {batch} and context {context} needs {fmt_bytes(need)} "
            f"({p.weight_bits}-bit weights {fmt_bytes(weights)}, FP16 KV cache "
            f"{fmt_bytes(kv)}) but {sys.name} has {fmt_bytes(sys.memory_bytes)} of DRAM")
    return (f"DRAM {fmt_bytes(sys.memory_bytes)}: {p.weight_bits}-bit weights "
            f"{fmt_bytes(weights)} + FP16 KV cache {fmt_bytes(kv)}")


def weight_pieces(sys: CpuSystem, wb: float) -> int:
    """Pieces a layer's weights stream in: at least ``PIECES_PER_LAYER`` (each slice's
    share in turn) and none larger than a quarter of the LLC, so a layer larger than the
    whole LLC streams through it."""
    return max(PIECES_PER_LAYER, math.ceil(4 * wb / sys.llc_bytes))


def run_phase(p, cfg, sys: CpuSystem, ops: list, name: str, tokens: int,
              trace: list | None = None) -> Phase:
    """One forward pass (``ops`` of one prefill or one decode step): a DMA process
    streams each linear layer's weights from DRAM into the LLC slices ahead of compute,
    piece by piece, as far as the LLC's free bytes allow (a layer's pieces are freed as
    its GEMV consumes them); the cores and the slices take the operations in order. One
    row per operation."""
    env = simpy.Environment()
    free = simpy.Container(env, capacity=sys.llc_bytes, init=sys.llc_bytes)
    loaded = simpy.Store(env)
    log = PhaseLog(env, name, ["csram" if sys.sail else "cores_gemv", "cores", "dram"],
                   trace)
    work = log.work
    linears = [op for op in ops if isinstance(op, Linear)]
    core_flops = sys.cores * sys.fp16_fma_per_cycle * 2 * sys.core_hz

    def row(op, engine, busy_s, bound, **kw):
        log.row(op.layer, op.name, engine, busy_s, bound, **kw)

    def dma():
        for op in linears:
            wb = weight_bytes(p, op)
            n = weight_pieces(sys, wb)
            for _ in range(n):
                yield free.get(wb / n)
                yield work("dram", wb / n / sys.dram_sustained, f"{op.name} L{op.layer}")
                yield loaded.put(wb / n)

    def compute():
        for op in ops:
            if isinstance(op, Linear):
                if sys.sail:
                    secs, reduce_s, ev = gemv_seconds(p, sys, op)
                    engine = "csram"
                else:
                    secs, reduce_s, ev = tmac_seconds(p, sys, op), 0.0, {}
                    engine = "cores_gemv"
                n = weight_pieces(sys, weight_bytes(p, op))
                for _ in range(n):            # each piece computed once it is in
                    piece = yield loaded.get()
                    yield work(engine, secs / n, f"{op.name} L{op.layer}")
                    yield free.put(piece)
                if reduce_s:
                    yield work("cores", reduce_s, f"{op.name} partial sums")
                    secs += reduce_s
                wb = weight_bytes(p, op)
                ev = dict(ev, dram_bytes=wb,
                          core_s=(reduce_s if sys.sail else secs) * sys.cores)
                row(op, engine, secs, "memory" if wb / sys.dram_sustained > secs
                    else "compute",
                    macs=op.macs, dram_bytes=wb, events=ev)
            elif isinstance(op, Attention):
                kv = (op.kv_read_elems + op.kv_write_elems) * 2.0
                macs_s = 2 * op.macs / core_flops
                secs = max(macs_s, kv / sys.dram_sustained)
                yield work("cores", secs, f"attention L{op.layer}")
                row(op, "cores", secs, "memory" if kv / sys.dram_sustained > macs_s
                    else "compute", macs=op.macs, dram_bytes=kv,
                    events={"dram_bytes": kv, "core_s": secs * sys.cores})
            elif isinstance(op, Elementwise):
                secs = op.elements * op.flops / core_flops
                yield work("cores", secs, f"{op.name} L{op.layer}")
                row(op, "cores", secs, "vector", events={"core_s": secs * sys.cores})

    env.process(dma())
    done = env.process(compute())
    env.run(until=done)
    return log.phase(tokens)


# ---------------------------------------------------------------- the GPU it is priced against
@dataclasses.dataclass(frozen=True)
class GpuSystem:
    """V100 16 GB (platforms.json ``v100``: 897 GB/s, 125 TFLOPS FP16 tensor [M]); the
    same sustained fraction as the CPU's DRAM [I]. It runs FP16 weights: the V100's
    tensor cores take FP16 only [D], so the comparison is SAIL's low-bit weights against
    the GPU's native precision, as a CPU-inference paper compares against a stock GPU."""
    name: str = "v100"
    bytes_per_s: float = 897e9
    flops: float = 125e12
    memory_bytes: float = 16e9
    efficiency: float = 0.75


def gpu_decode(cfg, batch: int, context: int, gpu: GpuSystem = GpuSystem()) -> dict:
    """Decode tokens per second of ``batch`` sequences at ``context`` on the fewest V100s
    whose memory holds the FP16 weights and KV cache (split tensor-parallel, links free):
    every step reads the weights and the KV cache once; the larger of that and the
    FLOPs at the tensor peak."""
    weights = (cfg.linear_params() + cfg.embedding_elems) * 2.0
    kv = kv_cache_bytes(cfg, batch, context, 2.0)
    gpus = max(1, math.ceil((weights + kv) / gpu.memory_bytes))
    step = max((weights + kv) / (gpus * gpu.bytes_per_s * gpu.efficiency),
               2 * batch * cfg.linear_params() / (gpus * gpu.flops * gpu.efficiency))
    return {"gpus": gpus, "decode_tokens_per_s": batch / step,
            "weights_bytes": weights, "kv_bytes": kv}
