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

from tokenfab.arch_models.workloads import Attention, fmt_bytes, kv_cache_bytes
from tokenfab.calibration import calibrated
from tokenfab.errors import UsageError
from tokenfab.arch_models.common.system import PhaseLog
from tokenfab.results import Phase

# The Arm cores' effective bandwidth for the FP16 LM head: in truth an unattributed
# decode overhead (the paper never says where the LM head runs). TTFT, prefill tokens/J
# and the other configurations are predictions.
LM_HEAD_BYTES_PER_S = calibrated(
    "tellme_lm_head_bytes_per_s", 3.331e9,
    fitted_to="BitNet 0.73B decoding at 25 tokens/s after a 64-token prompt (TeLLMe v2, "
              "FPGA '26, Table 2)",
    drives="TeLLMe decode time (the LM head is ~74% of a token) and decode tokens/J")
Q_CALIBRATED = calibrated(
    "tellme_q", 5,
    fitted_to="TTFT 0.45 s for a 64-token prompt at 250 MHz (TeLLMe v2, FPGA '26): the "
              "nearest integer Q",
    drives="TLMM cycles per matrix, hence prefill time (the default q parameter)")
# K26 SOM: 4 GB of 64-bit DDR4 on the module (AMD DS987, K26 SOM data sheet [S]).
DDR_BYTES = 4 * 2**30


@dataclasses.dataclass(frozen=True)
class Kv260System:
    name: str = "kv260"
    clock_hz: float = 250e6            # not in the paper; a third-party note says 250 MHz
    ddr_bytes_per_s: float = 17.1e9    # paper Table 1: 3 x 256-bit HP ports
    g: int = 3
    t: int = 28
    q: int = Q_CALIBRATED              # not published: calibrated (see above)
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


def check_capacity(cfg, sys: Kv260System, context: int) -> str:
    """Ternary weights + FP16 LM head and embeddings + the FP16 KV cache must fit the
    board's DDR4; returns the assumption line."""
    weights = sum(cfg.layers * weight_bytes(sys, n, k) for _, n, k in layer_matrices(cfg))
    fp16 = 2 * cfg.vocab * cfg.hidden * (1 if cfg.tie_embeddings else 2)
    kv = kv_cache_bytes(cfg, 1, context, sys.kv_bytes)
    need = weights + fp16 + kv
    if need > DDR_BYTES:
        raise UsageError(
            f"{cfg.name} needs {fmt_bytes(need)} (ternary weights {fmt_bytes(weights)}, "
            f"FP16 LM head and embeddings {fmt_bytes(fp16)}, KV cache {fmt_bytes(kv)} for "
            f"{context} tokens) but the KV260 has {fmt_bytes(DDR_BYTES)} of DDR4, its only "
            "memory")
    return (f"DDR4 {fmt_bytes(DDR_BYTES)}: ternary weights {fmt_bytes(weights)} + FP16 LM "
            f"head and embeddings {fmt_bytes(fp16)} + KV cache {fmt_bytes(kv)}")


def run_phase(cfg, sys: Kv260System, tokens: int, context: int, prefill: bool,
              trace: list | None = None) -> Phase:
    """One forward pass over ``tokens`` tokens (a prompt, or one decode token with
    ``context`` cached), every layer, DMA one matrix ahead of compute. One row per
    operation; its time runs from the end of the previous operation to its own."""
    f = sys.clock_hz
    name = "prefill" if prefill else "decode"
    env = simpy.Environment()
    slots = simpy.Container(env, capacity=2, init=2)       # URAM double buffer
    loaded = simpy.Store(env)
    log = PhaseLog(env, name, ["tlmm", "dma", "attention", "vector", "lm_head"], trace)
    work, row = log.work, log.row
    mats = [(layer, m) for layer in range(cfg.layers) for m in layer_matrices(cfg)]

    def dma():
        for layer, (op, n, k) in mats:
            yield slots.get(1)
            yield work("dma", weight_bytes(sys, n, k) / sys.ddr_bytes_per_s, f"{op} L{layer}")
            yield loaded.put(1)

    def attention(layer):
        """Seconds, DDR bytes and MACs of the attention of one layer (a sliding-window
        layer reads and attends to its window only)."""
        d = cfg.heads * cfg.head_dim
        kv = 2 * cfg.kv_heads * cfg.head_dim
        window = cfg.window(layer)
        if prefill:
            pairs = Attention("attention", layer, 1, 1, 1, tokens, tokens, 1, 1, 1,
                              window=window).scores
            macs = 2 * pairs * d
            write = tokens * kv * sys.kv_bytes
            return max(macs / (sys.attn_lanes * f), write / sys.ddr_bytes_per_s), write, macs
        span = min(context, window) if window else context
        read = span * kv * sys.kv_bytes
        macs = 2 * span * d
        return (max(read / sys.ddr_bytes_per_s, macs / (sys.attn_lanes * f)),
                read + kv * sys.kv_bytes, macs)

    def vector_time(n_elems):
        return n_elems / (sys.lanes * f)

    def compute():
        for layer in range(cfg.layers):
            for op, n, k in layer_matrices(cfg):
                if op in ("qkv", "up_gate"):               # RMS-MAX ahead of the matrix
                    t = tokens * (vector_time(cfg.hidden) + sys.rmsmax_cycles / f)
                    yield work("vector", t, "rms_max")
                    row(layer, f"rms_max_{op}", "vector", t, "vector")
                yield loaded.get()
                cycles = tokens * tlmm_cycles(sys, n, k)
                yield work("tlmm", cycles / f, f"{op} L{layer}")
                yield slots.put(1)
                wbytes = weight_bytes(sys, n, k)
                dma_s = wbytes / sys.ddr_bytes_per_s
                row(layer, op, "tlmm", cycles / f,
                    "memory" if dma_s > cycles / f else "compute", macs=tokens * n * k,
                    dram_bytes=wbytes, events={"tlmm_lookups": cycles * sys.q * sys.t,
                                               "ddr_bytes": wbytes})
                if op == "qkv":
                    t, moved, macs = attention(layer)
                    yield work("attention", t, f"attention L{layer}")
                    bound = "memory" if moved / sys.ddr_bytes_per_s >= t else "compute"
                    row(layer, "attention", "attention", t, bound, macs=macs,
                        dram_bytes=moved, events={"ddr_bytes": moved})
                # dequantize + residual / SiLU x up on the stream
                t = tokens * vector_time(k)
                yield work("vector", t, "vector")
                row(layer, f"{op}_vector", "vector", t, "vector")
        lm = cfg.hidden * cfg.vocab * 2                  # once: the last token
        t = lm / sys.lm_head_bytes_per_s
        yield work("lm_head", t, "lm_head")
        row(cfg.layers, "lm_head", "arm_cores", t, "host", macs=cfg.hidden * cfg.vocab,
            dram_bytes=lm, events={"ddr_bytes": lm, "arm_core_s": t})

    env.process(dma())
    done = env.process(compute())
    env.run(until=done)
    return log.phase(tokens)


def check_model(cfg) -> None:
    if cfg.experts or cfg.mla:
        raise UsageError(f"the TeLLMe model covers dense models with standard attention, "
                         f"not {cfg.name!r}")
