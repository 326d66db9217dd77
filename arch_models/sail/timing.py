"""Cycles of the SAIL C-SRAM block (``tokenfab.hw.sail``) and the CPU system around it.

Block level: the RTL's state machine, state by state (see ``tokenfab.hw.sail.top``).
A lookup costs 1 cycle when the all-zero pattern or the pattern-reuse table serves it
and 2 when it reads the array; which one depends on the data, so the count comes from
the golden model's record of every lookup (``golden.GemvStats``).
"""
from __future__ import annotations

import numpy as np

from tokenfab.arch_models.sail import golden
from tokenfab.hw.sail.params import Params

SYSTEMS = ("graviton2",)
LOOKUP_CYCLES = np.array([1, 1, 2])          # zero pattern, PRT hit, array read


def quantise_cycles(k_lines: int) -> int:
    """Two passes over a token's FP16 lines, one line per cycle, plus a drain each."""
    return 2 * (k_lines + 1)


def load_cycles(p: Params) -> int:
    """One weight line per array and basis weight, plus a drain."""
    return p.nbw * p.arrays + 1


def build_cycles(p: Params) -> int:
    """One word-line per cycle, row 0 included."""
    return p.patterns


def dequant_cycles(n: int) -> int:
    return -(-n // golden.Y_PER_LINE) + 1


def gemv_cycles(p: Params, stats: golden.GemvStats) -> int:
    """Cycles of one GEMV instruction from its acceptance to the block's next free cycle."""
    d = stats.desc
    G = d.groups(p)
    lookups = int(LOOKUP_CYCLES[stats.lookups].sum())
    return (1 + d.b * quantise_cycles(d.k_lines)
            + G * (load_cycles(p) + build_cycles(p) + d.b) + lookups
            + d.b * dequant_cycles(d.n))


def beats_cycles(p: Params, beats) -> int:
    """Cycles from the first input handshake to the last output handshake of ``beats``
    (the last beat a read) with the source always valid and the sink always ready:
    writes and reads take one cycle, a GEMV ``gemv_cycles``, and a read's line leaves
    one cycle after it."""
    _, stats = golden.run(p, beats)
    gemvs = iter(stats)
    last_read = max(k for k, b in enumerate(beats) if b["op"] == "read")
    total = 0
    for b in beats[:last_read]:
        total += gemv_cycles(p, next(gemvs)) if b["op"] == "gemv" else 1
    return total + 1


SCHEDULE_NOTE = ("one instruction per beat: write and read take 1 cycle (a read's line "
                 "leaves the next cycle); a GEMV holds the block for gemv_cycles, which "
                 "depend on the data (array reads skipped by the pattern-reuse table)")


def unit_cycles(p: Params, n_beats: int) -> int:
    """``n_beats`` reads back to back: the first line leaves one cycle after the first
    handshake, then one per cycle."""
    return n_beats
