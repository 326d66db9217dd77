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

SYSTEMS = ("asic", "mixpe-paper")

SCHEDULE_NOTE = ("one beat per cycle (a bit-serial PE takes four beats per product, one "
                 "per weight bit-plane); a fold of n beats (its last beat marked) occupies "
                 "n + rows + cols - 2 cycles; dequantisation overlaps the next group; the "
                 "fold's result rows leave after it")


def rtl_tail(p) -> int:
    return p.R + 2


def rtl_fold_cycles(p, beats_per_fold: list[int]) -> int:
    if not beats_per_fold:
        return 0
    span = p.R + p.C - 2
    return sum(n + span for n in beats_per_fold) + rtl_tail(p)


def beats_cycles(p, beats) -> int:
    """The RTL's cycles for a beat sequence (folds end at a ``last`` beat)."""
    folds, n = [], 0
    for b in beats:
        n += 1
        if b["last"]:
            folds.append(n)
            n = 0
    return rtl_fold_cycles(p, folds)


def unit_cycles(p, n_beats: int) -> int:
    return rtl_fold_cycles(p, [n_beats])


def gemm(p, M: int, K: int, N: int) -> dict:
    """SCALE-Sim's OS figures for the integer inner loop (streamed length = the fold's
    beats), the RTL's cycles, and the dequantisation work."""
    systolic.check_shape(M, K, N)
    streamed = golden.streamed_beats(p, K)
    r = systolic.scalesim(p.R, p.C, "os", M, streamed, N)
    r["rtl_cycles"] = r["cycles"] + 1 + rtl_tail(p)
    # utilisation counts products (MACs), not beats
    r["utilization"] = M * N * K / (max(r["cycles"], 1) * p.R * p.C)
    r["streamed_beats_per_fold"] = streamed
    r["groups_per_fold"] = len(golden.group_steps(p, K))
    r["dequant_ops"] = M * N * r["groups_per_fold"]
    return r
