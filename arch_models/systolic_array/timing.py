"""Timing of the systolic array: SCALE-Sim's cycle count, the RTL's, and the systems.

SCALE-Sim 3 (compute report, CALC bandwidth mode) runs the folds of a GEMM one after
another; a fold maps a block of the GEMM onto the R x C array and streams the rest:

========  ===============  ===============  =========  ===========================
dataflow  array rows hold  array cols hold  streamed   cycles per fold
========  ===============  ===============  =========  ===========================
os        M (A rows)       N (B columns)    K          K + R + C - 2
ws        K                N                M          M + 2R + C - 2 (R to load B)
is        K                M                N          N + 2R + C - 2 (R to load A)
========  ===============  ===============  =========  ===========================

and reports ``total_cycles = folds x cycles_per_fold - 1`` (the index of the last
cycle). Mapping efficiency and compute utilisation are the per-fold averages SCALE-Sim
prints; ``utilization`` is MACs / (cycles x R x C).

The RTL (``tokenfab.hw.systolic_array``) runs the same schedule: after a fold's last beat
its input is held off for R + C - 2 cycles, so a fold of ``n`` beats occupies
``n + R + C - 2`` cycles, exactly SCALE-Sim's fold. Counted from the first input
handshake to the last output handshake it adds a fixed tail: the R result rows of the
last output-stationary fold leave one per cycle after a two-cycle hand-over
(``+ R + 1``), and the last weight- or input-stationary row leaves through the deskew
and output registers (``+ 2``). So for a GEMM, ``rtl_cycles = cycles + R + 2`` (os) or
``cycles + 3`` (ws, is); the tests check both against SCALE-Sim's own output and the
cocotb measurement.
"""
from __future__ import annotations

import math

from tokenfab.errors import UsageError

SYSTEMS = ("asic", "mixpe-paper")

# The MixPE authors' baselines (sail_mixpe.md B.2, [R]): INT8 32 x 32 (conf_int.ini),
# FP16 32 x 28 (conf_float.ini).
MIXPE_PAPER_ARRAYS = {"int8": (32, 32), "fp16": (32, 28)}


SCHEDULE_NOTE = ("one beat per cycle; a fold of n beats (its last beat marked) occupies "
                 "n + rows + cols - 2 cycles; the output-stationary array's rows leave "
                 "after the fold, the others' one row per streamed beat")


def fold_dims(dataflow: str, M: int, K: int, N: int) -> tuple[int, int, int]:
    """(dimension on the array rows, on the array columns, streamed length)."""
    if dataflow == "os":
        return M, N, K
    if dataflow == "ws":
        return K, N, M
    return K, M, N


def fold_cycles(dataflow: str, R: int, C: int, streamed: int) -> int:
    """SCALE-Sim's cycles per fold (fill, stream, drain)."""
    if dataflow == "os":
        return streamed + R + C - 2
    return streamed + 2 * R + C - 2


def check_shape(M, K, N) -> None:
    for name, v in (("M", M), ("K", K), ("N", N)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise UsageError(f"GEMM dimension {name} must be a positive integer, not {v!r}")


def scalesim(R: int, C: int, dataflow: str, M: int, K: int, N: int) -> dict:
    """What SCALE-Sim 3 reports for ``A[M, K] @ B[K, N]`` on an R x C array."""
    check_shape(M, K, N)
    rows, cols, t = fold_dims(dataflow, M, K, N)
    rf, cf = math.ceil(rows / R), math.ceil(cols / C)
    folds = rf * cf
    per = fold_cycles(dataflow, R, C, t)
    cycles = folds * per - 1
    # SCALE-Sim's per-fold compute utilisation divides by the demand matrix's extent:
    # the fold itself for os, one more skew of C - 1 for ws and is.
    util_den = per if dataflow == "os" else per + C - 1
    return {
        "cycles": cycles,
        "folds": folds,
        "cycles_per_fold": per,
        "mapping_efficiency": rows * cols / (R * C * folds),
        "compute_utilization": rows * cols * t / (R * C * util_den * folds),
        # SCALE-Sim's overall utilisation divides by its total_cycles (0 for a single
        # MAC on a single PE, where it would divide by zero: one cycle is used instead)
        "utilization": M * N * K / (max(cycles, 1) * R * C),
    }


def rtl_tail(p) -> int:
    """Cycles the RTL adds after the last fold's SCALE-Sim span (see the module doc)."""
    return p.rows + 1 if p.dataflow == "os" else 2


def span_cycles(rows: int, cols: int, tail: int, beats_per_fold: list[int]) -> int:
    """First input handshake to last output handshake for folds of the given beat counts
    run back to back on SCALE-Sim's schedule (each fold n + rows + cols - 2 cycles),
    plus the array's fixed ``tail``."""
    if not beats_per_fold:
        return 0
    return sum(n + rows + cols - 2 for n in beats_per_fold) + tail


def fold_lengths(beats) -> list[int]:
    """Beats per fold of a beat sequence: a fold ends at a ``last`` beat that is not a
    ``load`` (a weight- or input-stationary fold counts its R load beats)."""
    folds, n = [], 0
    for b in beats:
        n += 1
        if b["last"] and not b.get("load"):
            folds.append(n)
            n = 0
    return folds


def rtl_fold_cycles(p, beats_per_fold: list[int]) -> int:
    return span_cycles(p.rows, p.cols, rtl_tail(p), beats_per_fold)


def beats_cycles(p, beats) -> int:
    """The RTL's cycles for a beat sequence (folds end at a ``last`` beat)."""
    return rtl_fold_cycles(p, fold_lengths(beats))


def gemm(p, M: int, K: int, N: int, memory: dict | None = None) -> dict:
    """SCALE-Sim's figures for one array and the RTL's cycles for the same GEMM; with
    ``memory`` ({"sram": (ifmap, filter, ofmap) sizes, "bandwidth": bytes per cycle of
    each SRAM's DRAM port, "drain": policy}) also the cycles with SCALE-Sim's memory
    system and its stalls (``systolic_array.memory``)."""
    r = scalesim(p.rows, p.cols, p.dataflow, M, K, N)
    r["rtl_cycles"] = r["cycles"] + 1 + rtl_tail(p)
    if memory is not None:
        r["memory"] = gemm_memory(p, M, K, N, **memory)
    return r


def element_bytes(p) -> tuple:
    """Bytes of one ifmap, filter and ofmap word: the operand type, the weights as
    stored, and the accumulator (WS and IS folds write partial sums)."""
    return OPERAND_BYTES[p.dtype], p.weight_storage_bits / 8, p.acc_bits / 8


def gemm_memory(p, M: int, K: int, N: int, sram, bandwidth, drain: str = "when-full"):
    """``memory.gemm_with_memory`` with sizes in bytes (or strings such as ``64KiB``)
    and each port's bandwidth in bytes per cycle (or ``16B/cycle``)."""
    from tokenfab.arch_models.systems.units import parse
    from tokenfab.arch_models.systolic_array import memory as mem
    given = sram
    if isinstance(sram, str):
        sram = sram.split(",")
    if not isinstance(sram, (list, tuple)) or len(sram) != 3:
        raise UsageError(f"sram must be three sizes (ifmap, filter, ofmap) such as "
                         f"64KiB,64KiB,32KiB, not {given!r}")
    try:
        sizes = tuple(parse("size", s) for s in sram)
        bw = parse("cycle_bandwidth", bandwidth)
    except ValueError as exc:
        raise UsageError(f"sram and bandwidth: {exc}") from None
    if bw <= 0:
        raise UsageError(f"bandwidth must be positive, not {bandwidth!r}")
    elem = element_bytes(p)
    out = mem.gemm_with_memory(p.rows, p.cols, p.dataflow, M, K, N,
                               tuple(int(s // e) for s, e in zip(sizes, elem)),
                               tuple(bw / e for e in elem), drain)
    out["sram_bytes"] = dict(zip(mem.OPERANDS, sizes))
    out["bandwidth_bytes_per_cycle"] = bw
    out["dram_bytes"] = {op: out["dram_words"][op] * e for op, e in zip(mem.OPERANDS, elem)}
    out["stall_cycles"] = out["total_cycles"] - out["compute_cycles"]
    return out


def unit_cycles(p, n_beats: int) -> int:
    """Cycles of ``n_beats`` beats forming one fold."""
    return rtl_fold_cycles(p, [n_beats])


# ---------------------------------------------------------------- systems
OPERAND_BYTES = {"int4": 0.5, "int8": 1.0, "int16": 2.0, "fp16": 2.0}


def engine_gemm_cycles(p, arrays: int):
    """Cycles of ``[m, k] x [k, n]`` on ``arrays`` arrays side by side, each taking an
    equal share of the output columns and running SCALE-Sim's schedule (its
    ``total_cycles`` + 1: the count of cycles, not the index of the last)."""
    def cycles(m: int, k: int, n: int) -> int:
        share = math.ceil(n / arrays)
        return scalesim(p.rows, p.cols, p.dataflow, m, k, share)["cycles"] + 1
    return cycles


def weight_assumptions(p) -> tuple:
    if p.weights == "int4":
        return (f"weights stored as INT4 codes with an FP16 scale and INT4 zero point per "
                f"128 ({p.weight_storage_bits:.2f} bits each) and dequantised to FP16 at "
                "the array's top edge, one unit per column, as they enter (the "
                "dequantise-then-multiply baseline)",)
    return ()


def unit_map(p, arrays: int) -> tuple:
    """The arrays as the mapper's innermost level: (m, k, n) they hold at once and the
    order their dataflow walks tiles (the stationary operand's loop innermost); the
    arrays side by side split the output columns."""
    if p.dataflow == "os":
        return (p.rows, 1, p.cols), "mnk", arrays
    if p.dataflow == "ws":
        return (1, p.rows, p.cols), "knm", arrays
    return (p.cols, p.rows, 1), "mkn", arrays


def mixpe_paper(p, platform, node: int | None = None):
    """The authors' simulator configuration for the INT8 and FP16 baselines."""
    from tokenfab.arch_models.common import mixpe_paper as paper
    if p.dtype not in MIXPE_PAPER_ARRAYS:
        raise UsageError(f"the mixpe-paper preset has int8 and fp16 baselines, not "
                         f"dtype {p.dtype!r}")
    rows, cols = MIXPE_PAPER_ARRAYS[p.dtype]
    if (p.rows, p.cols) not in ((16, 16), (rows, cols)):
        raise UsageError(f"the mixpe-paper preset fixes the {p.dtype} array at "
                         f"{rows}x{cols} (the authors' configuration), not "
                         f"{p.rows}x{p.cols}; leave rows and cols at their defaults")
    q = p.replace(rows=rows, cols=cols)
    return paper.spec(
        platform, design="systolic-array",
        rows=rows, cols=cols, lanes=1, weight_bits=p.weight_storage_bits,
        act_bytes=OPERAND_BYTES[p.dtype], gemm_cycles=engine_gemm_cycles(q, 1),
        attention_on="matrix", node=node, unit_map=unit_map(q, 1),
        what=f"{rows}x{cols} {q.dataflow.upper()} {p.dtype} array",
        assumptions=(f"the authors' {p.dtype} baseline: a {rows}x{cols} array "
                     f"({'conf_int.ini' if p.dtype == 'int8' else 'conf_float.ini'})",
                     *weight_assumptions(p)))


TEMPLATES = ("accelerator", "mixpe-paper")


def system(p, name="asic", node: int | None = None, overrides=()):
    from tokenfab.arch_models.common.system import (from_platform, load_platform,
                                                    platform_summary)
    platform = load_platform(name, overrides, TEMPLATES, SYSTEMS, "systolic-array")
    if platform.template == "mixpe-paper":
        return mixpe_paper(p, platform, node)
    arrays = (platform.engines.count or 16) * p.array_scale
    nbytes = OPERAND_BYTES[p.dtype]
    return from_platform(
        platform, design="systolic-array", base_units=16, scale=p.array_scale, node=node,
        description=(f"{arrays} {p.rows}x{p.cols} {p.dataflow.upper()} systolic arrays "
                     f"({p.dtype}) at {platform_summary(platform, node)}, "
                     "attention on the arrays"),
        tile=(p.rows, p.cols, 1), cycles_per_tile=1,
        weight_bits=p.weight_storage_bits, act_bytes=nbytes, kv_bytes=nbytes,
        attention_on="matrix", gemm_cycles=engine_gemm_cycles(p, arrays),
        unit_map=unit_map(p, arrays),
        assumptions=(f"activations and KV cache {p.dtype}; weights "
                     + (f"{p.dtype} (the model's weights converted to {p.dtype})"
                        if p.weights == "dense" else "INT4"), *weight_assumptions(p),
                     "GEMMs run fold by fold on SCALE-Sim's schedule (no overlap of one "
                     "fold's drain with the next fold's fill); each array takes an equal "
                     "share of the output columns",
                     "attention's QK^T and PV run as GEMMs on the arrays, the whole score "
                     "block (no causal skipping)"))


def simulate(p, request, system_name="asic", *, node: int | None = None, overrides=(),
             progress=None, trace: bool = False):
    from tokenfab.arch_models.common.simulate import simulate as simulate_system
    return simulate_system("systolic-array", p, system(p, system_name, node, overrides),
                           request, progress=progress, trace=trace)
