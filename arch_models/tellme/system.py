"""SimPy model of TeLLMe on a Kria KV260 (Qiao et al., FPGA '26; papers.md section 3).

Per linear layer the weights (ternary, ``ceil(log2 3**G)`` bits per ``G`` weights) are
loaded from DDR into the URAM weight buffer in one batch, decoupled from compute: a DMA
process runs one matrix ahead of the TLMM through a double buffer. The TLMM takes
``ceil(n / (T G)) * ceil(k / Q)`` cycles per token and matrix (one beat per cycle, table
rebuilt inside the beat). Around it:

- RMS-MAX: ``d / lanes`` cycles to stream a vector plus the unit's ``rmsmax_cycles``;
- decode attention: Q K^T and P V stream the FP16 KV cache from DDR (time = the larger
  of the DDR read and the MACs on ``attn_lanes``); the new K, V are written back;
- prefill attention, reversed-reordered: ``n_pe`` query PEs of ``attn_lanes / n_pe`` MAC
  lanes each, causal work only (``P (P + 1) / 2`` query-key pairs);
- element-wise work (dequantize, SiLU x up, residual, RoPE) on ``lanes`` FP16 lanes;
- the LM head on the Arm cores (the public code's NEON LM head): FP16 weights read at
  ``lm_head_bytes_per_s``, once per generated token.
"""
from __future__ import annotations

import dataclasses
import math

import simpy

from tokenfab.errors import UsageError

# CALIBRATED: the Arm cores' effective bandwidth for the FP16 LM head. Fitted so that
# BitNet 0.73B decodes at the paper's 25 tokens/s (64-token prompt). TTFT, prefill
# tokens/J and the other configurations are predictions.
LM_HEAD_BYTES_PER_S = 3.331e9


@dataclasses.dataclass(frozen=True)
class Kv260System:
    name: str = "kv260"
    clock_hz: float = 250e6            # not in the paper; a third-party note says 250 MHz
    ddr_bytes_per_s: float = 17.1e9    # paper Table 1: 3 x 256-bit HP ports
    g: int = 3
    t: int = 28
    q: int = 5                         # not published: calibrated (see hw.tellme.params)
    lanes: int = 16                    # FP16 element-wise lanes (one 256-bit vector/cycle)
    attn_lanes: int = 32               # FP16 MAC lanes of the attention units (assumption)
    n_pe: int = 8                      # prefill attention query PEs (assumption)
    rmsmax_cycles: int = 33
    lm_head_bytes_per_s: float = LM_HEAD_BYTES_PER_S
    kv_bytes: float = 2.0              # FP16 KV cache
    static_w: float = 0.0              # set by the cost package (energy model)

    @property
    def idx_bits(self) -> int:
        return max(1, math.ceil(math.log2(3 ** self.g)))

    def describe(self) -> str:
        return (f"KV260: TLMM G{self.g} T{self.t} Q{self.q} at {self.clock_hz / 1e6:.0f} MHz, "
                f"DDR {self.ddr_bytes_per_s / 1e9:.1f} GB/s, LM head on the Arm cores")


def tlmm_cycles(sys: Kv260System, n: int, k: int) -> int:
    return math.ceil(n / (sys.t * sys.g)) * math.ceil(k / sys.q)


def weight_bytes(sys: Kv260System, n: int, k: int) -> float:
    return math.ceil(n / sys.g) * k * sys.idx_bits / 8


def layer_matrices(cfg) -> list[tuple[str, int, int]]:
    d, f = cfg.hidden, cfg.intermediate
    kv = cfg.kv_heads * cfg.head_dim
    return [("qkv", d, d + 2 * kv), ("o", cfg.heads * cfg.head_dim, d),
            ("up_gate", d, 2 * f if cfg.gated_ffn else f), ("down", f, d)]


@dataclasses.dataclass
class PhaseTime:
    seconds: float
    busy: dict
    ddr_bytes: float
    tlmm_lookups: float


def run_phase(cfg, sys: Kv260System, tokens: int, context: int, prefill: bool) -> PhaseTime:
    """One forward pass over ``tokens`` tokens (a prompt, or one decode token with
    ``context`` cached), every layer, DMA one matrix ahead of compute."""
    f = sys.clock_hz
    env = simpy.Environment()
    slots = simpy.Container(env, capacity=2, init=2)       # URAM double buffer
    loaded = simpy.Store(env)
    busy = dict.fromkeys(["tlmm", "dma", "attention", "vector", "lm_head"], 0.0)
    mats = [m for _ in range(cfg.layers) for m in layer_matrices(cfg)]
    ddr = [0.0]
    lookups = [0.0]

    def dma():
        for _, n, k in mats:
            yield slots.get(1)
            t = weight_bytes(sys, n, k) / sys.ddr_bytes_per_s
            busy["dma"] += t
            ddr[0] += weight_bytes(sys, n, k)
            yield env.timeout(t)
            yield loaded.put(1)

    def attention():
        d = cfg.heads * cfg.head_dim
        kv = 2 * cfg.kv_heads * cfg.head_dim
        if prefill:
            pairs = tokens * (tokens + 1) / 2
            macs = 2 * pairs * d
            t = macs / (sys.attn_lanes * f)
            write = tokens * kv * sys.kv_bytes
            ddr[0] += write
            return max(t, write / sys.ddr_bytes_per_s)
        read = context * kv * sys.kv_bytes
        ddr[0] += read + kv * sys.kv_bytes
        return max(read / sys.ddr_bytes_per_s, 2 * context * d / (sys.attn_lanes * f))

    def vector_time(n_elems):
        return n_elems / (sys.lanes * f)

    def compute():
        for layer in range(cfg.layers):
            for name, n, k in layer_matrices(cfg):
                if name in ("qkv", "up_gate"):               # RMS-MAX ahead of the matrix
                    t = tokens * (vector_time(cfg.hidden) + sys.rmsmax_cycles / f)
                    busy["vector"] += t
                    yield env.timeout(t)
                yield loaded.get()
                t = tokens * tlmm_cycles(sys, n, k) / f
                busy["tlmm"] += t
                lookups[0] += tokens * tlmm_cycles(sys, n, k) * sys.q * sys.t
                yield env.timeout(t)
                yield slots.put(1)
                if name == "qkv":
                    t = attention()
                    busy["attention"] += t
                    yield env.timeout(t)
                # dequantize + residual / SiLU x up on the stream
                t = tokens * vector_time(k)
                busy["vector"] += t
                yield env.timeout(t)
        t = cfg.hidden * cfg.vocab * 2 / sys.lm_head_bytes_per_s   # once: the last token
        busy["lm_head"] += t
        yield env.timeout(t)

    env.process(dma())
    done = env.process(compute())
    env.run(until=done)
    return PhaseTime(env.now, busy, ddr[0], lookups[0])


def check_model(cfg) -> None:
    if cfg.experts or cfg.mla:
        raise UsageError(f"the TeLLMe model covers dense models with standard attention, "
                         f"not {cfg.name!r}")
