"""Timing of MixPE: SCALE-Sim's output-stationary cycles for the integer inner loop, the
RTL's cycles, and the systems.

MixPE streams a fold's reduction exactly as the output-stationary systolic array does
(``tokenfab.arch_models.systolic_array.timing``), one beat per cycle, so a GEMM of
reduction length K takes SCALE-Sim's OS ``total_cycles`` for streamed length
``K x planes`` (1 beat per product bit-parallel, 4 bit-serial; with edge dequant units a
short last group is padded to ``max(rows, cols)`` beats). Dequantisation is pipelined:
a group's unit works in the cycle after the group's last step, in the PE or, at the
edge, one row per cycle while the next group streams, so it adds no cycle between
groups and one at the end of a fold. Counted from the first input handshake to the last
output handshake the RTL therefore takes SCALE-Sim's cycles + 1 (a count, not the last
index) + R + 2 (the dequant stage, the hand-over and the R result rows).
"""
from __future__ import annotations

from tokenfab.arch_models.mixpe import golden
from tokenfab.arch_models.systolic_array import timing as systolic
from tokenfab.hw.mixpe.params import PAPER_ARRAY

SYSTEMS = ("asic", "mixpe-paper")

SCHEDULE_NOTE = ("one beat per cycle (a bit-serial PE takes four beats per product, one "
                 "per weight bit-plane); a fold of n beats (its last beat marked) occupies "
                 "n + rows + cols - 2 cycles; dequantisation overlaps the next group; the "
                 "fold's result rows leave after it")


def rtl_tail(p) -> int:
    return p.R + 2


def rtl_fold_cycles(p, beats_per_fold: list[int]) -> int:
    return systolic.span_cycles(p.R, p.C, rtl_tail(p), beats_per_fold)


def beats_cycles(p, beats) -> int:
    """The RTL's cycles for a beat sequence (folds end at a ``last`` beat)."""
    return rtl_fold_cycles(p, systolic.fold_lengths(beats))


def unit_cycles(p, n_beats: int) -> int:
    return rtl_fold_cycles(p, [n_beats])


def gemm(p, M: int, K: int, N: int) -> dict:
    """SCALE-Sim's OS figures for the integer inner loop (streamed length = the fold's
    beats), the RTL's cycles, and the dequantisation work."""
    systolic.check_shape(M, K, N)
    streamed = golden.streamed_beats(p, K)
    r = systolic.scalesim(p.R, p.C, "os", M, streamed, N)
    r["rtl_cycles"] = r["cycles"] + 1 + rtl_tail(p)
    # utilisation counts products (MACs) against R x C x lanes per cycle, not beats
    r["utilization"] = M * N * K / (max(r["cycles"], 1) * p.R * p.C * p.L)
    r["streamed_beats_per_fold"] = streamed
    r["groups_per_fold"] = len(golden.group_steps(p, K))
    r["dequant_ops"] = M * N * r["groups_per_fold"]
    return r


# ---------------------------------------------------------------- systems
def weight_bits(p) -> float:
    """Bits per weight in memory: INT4 codes plus an FP16 scale and INT4 zero point per
    group."""
    return 4 + 20 / p.group


def act_bytes(p) -> float:
    return 1.0 if p.mode == "w4a8" else 2.0


def engine_gemm_cycles(p, arrays: int):
    """Cycles of ``[m, k] x [k, n]`` on ``arrays`` arrays side by side, each taking an
    equal share of the output columns (SCALE-Sim's count of cycles: its index + 1)."""
    def cycles(m: int, k: int, n: int) -> int:
        return gemm(p, m, k, -(-n // arrays))["cycles"] + 1
    return cycles


def _assumptions(p) -> tuple:
    act = "INT8" if p.mode == "w4a8" else "FP16"
    return (f"weights INT4 with an FP16 scale and INT4 zero point per {p.group} "
            f"({weight_bits(p):.2f} bits each); activations and KV cache {act}",
            f"{_geometry(p)}, "
            f"{p.pe} bit-planes, dequantisation {'in every PE' if p.dequant == 'pe' else 'at the column edge'} "
            "once per group, overlapped with the next group",
            "attention (activation x activation) and element-wise work on the vector unit: "
            "MixPE's PEs take INT4 weights only")


def _geometry(p) -> str:
    pes = f"{p.rows or PAPER_ARRAY[p.mode]}x{p.cols or PAPER_ARRAY[p.mode]} PEs"
    if p.fuse == "mn" and p.lanes > 1:
        return (f"{pes} of {p.lanes} products as tokens x outputs, a {p.R}x{p.C} "
                "output-stationary array of one-product cells")
    return f"{pes} output-stationary, {p.L} product(s) per PE per cycle along K"


def unit_map(p, arrays: int) -> tuple:
    """Output-stationary arrays of R x C cells, L products each along K, side by side
    over the output columns (the mapper's innermost level)."""
    return (p.R, p.L, p.C), "mnk", arrays


def mixpe_paper(p, platform, node: int | None = None):
    """The authors' simulator configuration (sail_mixpe.md B.2): one array, 64 x 64 for
    W4A8 and 32 x 32 for W4A16, each PE doing 4 products per cycle (the simulator's
    throughput factor floor(8/4)^2 and floor(16/8)^2)."""
    from tokenfab.arch_models.common import mixpe_paper as paper
    conf = "conf_mixint.ini" if p.mode == "w4a8" else "conf_mixfloat.ini"
    return paper.spec(
        platform, design="mixpe",
        rows=p.R, cols=p.C, lanes=p.L, weight_bits=weight_bits(p), act_bytes=act_bytes(p),
        gemm_cycles=engine_gemm_cycles(p, 1), attention_on="vector", node=node,
        unit_map=unit_map(p, 1),
        what=f"MixPE {p.mode.upper()} array ({_geometry(p)})",
        assumptions=(f"the authors' MixPE-{p.mode.upper()} ({conf}) is "
                     f"{PAPER_ARRAY[p.mode]}x{PAPER_ARRAY[p.mode]} PEs of 4 products per "
                     "cycle as 2 tokens x 2 outputs (fuse=mn); these parameters give "
                     f"{_geometry(p)}",) + _assumptions(p))


TEMPLATES = ("accelerator", "mixpe-paper")


def system(p, name="asic", node: int | None = None, overrides=()):
    from tokenfab.arch_models.common.system import (from_platform, load_platform,
                                                    platform_summary)
    platform = load_platform(name, overrides, TEMPLATES, SYSTEMS, "mixpe")
    if platform.template == "mixpe-paper":
        return mixpe_paper(p, platform, node)
    arrays = (platform.engines.count or 1) * p.array_scale
    return from_platform(
        platform, design="mixpe", base_units=1, scale=p.array_scale, node=node,
        description=(f"{arrays} MixPE {p.mode.upper()} array(s) ({_geometry(p)}) at "
                     f"{platform_summary(platform, node)}"),
        tile=(p.R, p.C, p.L), cycles_per_tile=1,
        weight_bits=weight_bits(p), act_bytes=act_bytes(p), kv_bytes=act_bytes(p),
        attention_on="vector", gemm_cycles=engine_gemm_cycles(p, arrays),
        unit_map=unit_map(p, arrays),
        assumptions=_assumptions(p) + ("each array takes an equal share of the output "
                                       "columns",))


def simulate(p, request, system_name="asic", *, node: int | None = None, overrides=(),
             progress=None, trace: bool = False):
    from tokenfab.arch_models.common.simulate import simulate as simulate_system
    return simulate_system("mixpe", p, system(p, system_name, node, overrides), request,
                           progress=progress, trace=trace)
