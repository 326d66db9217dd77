"""SimPy model of TeLLMe on a Kria KV260 (Qiao et al., FPGA '26; papers.md section 3).

Per linear layer the weights (ternary, ``ceil(log2 3**G)`` bits per ``G`` weights) are
loaded from DDR into the URAM weight buffer in one batch, decoupled from compute: a DMA
process runs one matrix ahead of the TLMM through a double buffer whose room is the
board's URAMs, each matrix taking what the paper's Eq. 9 gives (``uram_blocks``); the
next matrix loads during this one's compute only when both fit, and a matrix larger than
the URAMs loads in slices. The TLMM takes
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
# decode overhead (the paper never says where the LM head runs). TTFT at 128 tokens,
# prefill tokens/J and the other configurations are predictions.
LM_HEAD_BYTES_PER_S = calibrated(
    "tellme_lm_head_bytes_per_s", 3.297e9,
    fitted_to="BitNet 0.73B decoding at 25 tokens/s after a 64-token prompt (TeLLMe v2, "
              "FPGA '26, Table 1)",
    drives="TeLLMe decode time (the LM head is ~74% of a token) and decode tokens/J")
# Q is not published; the paper's resources narrow it. Eq. 9 with Q read per cycle from
# dual-ported URAMs (ceil(Q / 2) cyclic partitions) gives, for BitNet 0.73B's up/gate
# and down matrices in flight together, 58 URAMs at Q = 2, 60 at Q = 4 and Q = 10, 64 at
# Q = 8 and more than the KV260's 64 at every other Q up to 16 (Q = 5: 72). Of the two
# that give Table 1's 60, Q = 4 needs a clock nearer the third-party 250 MHz (334 MHz
# against about 134 MHz for Q = 10 to meet the TTFT).
Q_CALIBRATED = calibrated(
    "tellme_q", 4,
    fitted_to="60 URAMs (TeLLMe v2, FPGA '26, Table 1) through the paper's Eq. 9 (Q = 4 or "
              "10 give 60; 4 keeps the fitted clock nearer the 250 MHz a third party states)",
    drives="TLMM cycles per matrix, hence prefill time, and the URAM weight buffer")
# The fabric clock is not published either (a third-party note says 250 MHz, at which
# Q = 4 gives a 0.59 s TTFT). It stands for the clock and any prefill throughput the
# model lacks.
CLOCK_HZ = calibrated(
    "tellme_clock_hz", 333.7e6,
    fitted_to="TTFT 0.45 s for a 64-token prompt (TeLLMe v2, FPGA '26) at Q = 4",
    drives="every TeLLMe cycle count in seconds: prefill (TTFT) and decode compute")


@dataclasses.dataclass(frozen=True)
class Kv260System:
    """The board as the model reads it, built from the ``kv260`` system file (or a
    user's ``fpga-soc`` file) and the design's parameters."""
    name: str = "kv260"
    clock_hz: float = CLOCK_HZ         # not in the paper: calibrated (see above)
    ddr_bytes_per_s: float = 17.1e9    # paper Table 1: 3 x 256-bit HP ports
    ddr_bytes: float = 4 * 2**30       # K26 SOM: 4 GB of 64-bit DDR4 (AMD DS987 [S])
    g: int = 3
    t: int = 28
    q: int = Q_CALIBRATED              # not published: calibrated (see above)
    lanes: int = 16                    # FP16 element-wise lanes (one 256-bit vector/cycle)
    attn_lanes: int = 32               # FP16 MAC lanes of the attention units (assumption)
    n_pe: int = 8                      # prefill attention query PEs (assumption)
    rmsmax_cycles: int = 33
    lm_head_bytes_per_s: float = LM_HEAD_BYTES_PER_S
    kv_bytes: float = 2.0              # FP16 KV cache
    urams: int = 64                    # URAM288 blocks holding the weight indices
    uram_bits: int = 72                # width of one URAM288 ...
    uram_depth: int = 4096             # ... its depth
    uram_ports: int = 2                # ... and its ports (Eq. 9's ceil(Q / 2) partitions)
    double_buffered: bool = True       # the next matrix loads while this one computes
    bram_bytes: float = 144 * 4608     # 144 RAMB36 for the attention buffers and FIFOs
    static_w: float = 0.0              # set by the cost package (energy model)
    # the system file's on-chip levels (their accesses are priced per byte: the file's
    # own figure or the SRAM model) and the names of those holding the weights (URAM)
    # and the attention buffers (BRAM); empty: no on-chip events
    levels: tuple = dataclasses.field(default=(), compare=False)
    memory: str = "ddr4"               # the K26 SOM's DDR4 (AMD DS987 [S]): tech.json's row
    weight_level: str = ""
    act_level: str = ""
    description: str = ""

    @property
    def idx_bits(self) -> int:
        return max(1, math.ceil(math.log2(3 ** self.g)))

    def describe(self) -> str:
        return (self.description or "KV260") + (
            f": TLMM G{self.g} T{self.t} Q{self.q} at {self.clock_hz / 1e6:.0f} MHz, "
            f"DDR {self.ddr_bytes_per_s / 1e9:.1f} GB/s, {self.urams} URAMs for the weights, "
            "LM head on the Arm cores")


def tlmm_cycles(sys: Kv260System, n: int, k: int) -> int:
    return math.ceil(n / (sys.t * sys.g)) * math.ceil(k / sys.q)


def weight_bytes(sys: Kv260System, n: int, k: int) -> float:
    return math.ceil(n / sys.g) * k * sys.idx_bits / 8


def uram_blocks(sys: Kv260System, n: int, k: int) -> int:
    """URAMs holding one matrix of ``n`` inputs and ``k`` outputs, the paper's Eq. 9
    (X = n, Y = k): ``ceil((Y / Q) ceil(X / (G T)) / 4096) * c_URAM * ceil(Q / 2)``. An
    index vector of ``T B_idx`` bits spans ``c_URAM = ceil(T B_idx / 72)`` URAMs side by
    side; the vectors are partitioned cyclically so that Q are read per cycle from
    dual-ported URAMs, which takes ``ceil(Q / 2)`` partitions (``ceil(Q / ports)`` for the
    file's port count)."""
    c = math.ceil(sys.t * sys.idx_bits / sys.uram_bits)
    depth = math.ceil((k / sys.q) * math.ceil(n / (sys.g * sys.t)) / sys.uram_depth)
    return depth * c * math.ceil(sys.q / sys.uram_ports)


def weight_pieces(sys: Kv260System, n: int, k: int) -> list[tuple[int, int]]:
    """(outputs, URAMs) of the pieces one matrix is loaded in: whole when it fits the
    URAMs, else in slices of its outputs that two at a time do (one loads while the
    other computes; one at a time without double buffering). Refused when a slice of Q
    outputs does not fit its share of the URAMs."""
    if uram_blocks(sys, n, k) <= sys.urams:
        return [(k, uram_blocks(sys, n, k))]
    room = sys.urams // 2 if sys.double_buffered else sys.urams
    if uram_blocks(sys, n, sys.q) > room:
        raise UsageError(
            f"the {sys.urams} URAMs cannot {'double-buffer' if sys.double_buffered else 'hold'}"
            f" even {sys.q} outputs of a {n}-input matrix (Eq. 9: "
            f"{uram_blocks(sys, n, sys.q)} URAMs each)")
    pieces = 2
    while uram_blocks(sys, n, math.ceil(k / pieces)) > room:
        pieces += 1
    size = math.ceil(k / pieces)
    out = []
    for start in range(0, k, size):
        part = min(size, k - start)
        out.append((part, uram_blocks(sys, n, part)))
    return out


def uram_peak(sys: Kv260System, cfg) -> int:
    """URAMs the weight buffer occupies at most: a piece and, when they fit beside it
    and the buffer is double, the next piece loading (over one layer and into the
    next)."""
    seq = [u for _, n, k in layer_matrices(cfg) for _, u in weight_pieces(sys, n, k)]
    if not sys.double_buffered:
        return max(seq)
    seq = seq + seq[:1]
    return max(a + b if a + b <= sys.urams else a for a, b in zip(seq, seq[1:]))


def buffer_bits(sys: Kv260System, cfg) -> int:
    """Bits of the BRAM buffers: the prefill attention's query and output tokens, one k
    and one v, s / m / l per head and PE (the paper's buffer list), and the activation
    FIFOs."""
    d = cfg.hidden
    return (16 * d * sys.n_pe * 2                           # q tokens and o, FP16
            + 16 * d * 2                                    # one k, one v
            + 32 * 3 * cfg.heads * sys.n_pe                 # s, m, l per head and PE
            + 16 * 2 * d * 4)                               # activation FIFOs


def layer_matrices(cfg) -> list[tuple[str, int, int]]:
    d, f = cfg.hidden, cfg.intermediate
    kv = cfg.kv_heads * cfg.head_dim
    return [("qkv", d, d + 2 * kv), ("o", cfg.heads * cfg.head_dim, d),
            ("up_gate", d, 2 * f if cfg.gated_ffn else f), ("down", f, d)]


def check_capacity(cfg, sys: Kv260System, context: int) -> list[str]:
    """Ternary weights + FP16 LM head and embeddings + the FP16 KV cache must fit the
    board's DDR4, the attention buffers its BRAM, and every matrix (or slice of one) its
    URAMs; returns the assumption lines."""
    weights = sum(cfg.layers * weight_bytes(sys, n, k) for _, n, k in layer_matrices(cfg))
    fp16 = 2 * cfg.vocab * cfg.hidden * (1 if cfg.tie_embeddings else 2)
    kv = kv_cache_bytes(cfg, 1, context, sys.kv_bytes)
    need = weights + fp16 + kv
    if need > sys.ddr_bytes:
        raise UsageError(
            f"{cfg.name} needs {fmt_bytes(need)} (ternary weights {fmt_bytes(weights)}, "
            f"FP16 LM head and embeddings {fmt_bytes(fp16)}, KV cache {fmt_bytes(kv)} for "
            f"{context} tokens) but the {sys.name} system has {fmt_bytes(sys.ddr_bytes)} "
            "of DDR, its only memory")
    bits = buffer_bits(sys, cfg)
    if bits > 8 * sys.bram_bytes:
        raise UsageError(
            f"the attention buffers and activation FIFOs of {cfg.name} ({fmt_bytes(bits / 8)}"
            f" with {sys.n_pe} query PEs) do not fit the {sys.name} system's BRAM "
            f"({fmt_bytes(sys.bram_bytes)})")
    split = [(op, len(weight_pieces(sys, n, k))) for op, n, k in layer_matrices(cfg)]
    split = [f"{op} in {p} slices" for op, p in split if p > 1]
    overlap = ("one computing while the next loads" if sys.double_buffered
               else "each loading after the last has computed")
    return [f"DDR {fmt_bytes(sys.ddr_bytes)}: ternary weights {fmt_bytes(weights)} + FP16 "
            f"LM head and embeddings {fmt_bytes(fp16)} + KV cache {fmt_bytes(kv)}",
            f"URAM weight buffer (Eq. 9): at most {uram_peak(sys, cfg)} of {sys.urams} "
            f"URAMs" + (f"; {', '.join(split)} (a matrix larger than the URAMs loads in "
                        f"slices, {overlap})" if split else "")
            + f"; BRAM buffers {fmt_bytes(bits / 8)} of {fmt_bytes(sys.bram_bytes)}"]


def run_phase(cfg, sys: Kv260System, tokens: int, context: int, prefill: bool,
              trace: list | None = None) -> Phase:
    """One forward pass over ``tokens`` tokens (a prompt, or one decode token with
    ``context`` cached), every layer, DMA one matrix ahead of compute. One row per
    operation; its time runs from the end of the previous operation to its own."""
    f = sys.clock_hz
    name = "prefill" if prefill else "decode"
    env = simpy.Environment()
    # the weight buffer: two pieces in flight (one computing, one loading) when their
    # URAMs fit together; otherwise the load waits for the computing piece's URAMs.
    # Single-buffered, each load waits for the previous piece's compute.
    depth = 2 if sys.double_buffered else 1
    slots = simpy.Container(env, capacity=depth, init=depth)
    urams = simpy.Container(env, capacity=sys.urams, init=sys.urams)
    loaded = simpy.Store(env)
    log = PhaseLog(env, name, ["tlmm", "dma", "attention", "vector", "lm_head"], trace)
    work, row = log.work, log.row
    pieces = {(n, k): weight_pieces(sys, n, k) for _, n, k in layer_matrices(cfg)}
    mats = [(layer, m) for layer in range(cfg.layers) for m in layer_matrices(cfg)]

    def dma():
        for layer, (op, n, k) in mats:
            for part, used in pieces[(n, k)]:
                yield slots.get(1)
                yield urams.get(used)
                yield work("dma", weight_bytes(sys, n, part) / sys.ddr_bytes_per_s,
                           f"{op} L{layer}")
                yield loaded.put(1)

    def attention(layer):
        """Seconds, DDR bytes, MACs and the attention buffers' bytes written and read
        (BRAM) of the attention of one layer (a sliding-window layer reads and attends to
        its window only). Prefill: each token's K and V are written to the buffers once
        and streamed to the ``n_pe`` query PEs once per pass, a pass serving ``n_pe``
        queries; decode: the cached K and V stream from DDR through the buffers."""
        d = cfg.heads * cfg.head_dim
        kv = 2 * cfg.kv_heads * cfg.head_dim
        window = cfg.window(layer)
        if prefill:
            pairs = Attention("attention", layer, 1, 1, 1, tokens, tokens, 1, 1, 1,
                              window=window).scores
            macs = 2 * pairs * d
            write = tokens * kv * sys.kv_bytes
            return (max(macs / (sys.attn_lanes * f), write / sys.ddr_bytes_per_s), write,
                    macs, write, pairs / sys.n_pe * kv * sys.kv_bytes)
        span = min(context, window) if window else context
        read = span * kv * sys.kv_bytes
        macs = 2 * span * d
        return (max(read / sys.ddr_bytes_per_s, macs / (sys.attn_lanes * f)),
                read + kv * sys.kv_bytes, macs, read, read)

    def onchip(level, written, read):
        """The events of ``written`` and ``read`` bytes at ``level`` (none without one)."""
        return ({f"{level}_write_bytes": written, f"{level}_read_bytes": read}
                if level else {})

    def vector_time(n_elems):
        return n_elems / (sys.lanes * f)

    def compute():
        for layer in range(cfg.layers):
            for op, n, k in layer_matrices(cfg):
                if op in ("qkv", "up_gate"):               # RMS-MAX ahead of the matrix
                    t = tokens * (vector_time(cfg.hidden) + sys.rmsmax_cycles / f)
                    yield work("vector", t, "rms_max")
                    row(layer, f"rms_max_{op}", "vector", t, "vector")
                cycles = 0
                for part, used in pieces[(n, k)]:
                    yield loaded.get()
                    c = tokens * tlmm_cycles(sys, n, part)
                    yield work("tlmm", c / f, f"{op} L{layer}")
                    yield urams.put(used)
                    yield slots.put(1)
                    cycles += c
                wbytes = weight_bytes(sys, n, k)
                dma_s = wbytes / sys.ddr_bytes_per_s
                # the DMA writes the matrix's indices into the URAMs once; the TLMM reads
                # all of them for every token
                row(layer, op, "tlmm", cycles / f,
                    "memory" if dma_s > cycles / f else "compute", macs=tokens * n * k,
                    dram_bytes=wbytes, events={"tlmm_lookups": cycles * sys.q * sys.t,
                                               "ddr_bytes": wbytes,
                                               **onchip(sys.weight_level, wbytes,
                                                        tokens * wbytes)})
                if op == "qkv":
                    t, moved, macs, written, read = attention(layer)
                    yield work("attention", t, f"attention L{layer}")
                    bound = "memory" if moved / sys.ddr_bytes_per_s >= t else "compute"
                    row(layer, "attention", "attention", t, bound, macs=macs,
                        dram_bytes=moved, events={"ddr_bytes": moved,
                                                  **onchip(sys.act_level, written, read)})
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
