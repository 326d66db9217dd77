"""Timing of TeLLMe's units and of the KV260 system built from them."""
from __future__ import annotations

from arch_models.common.tile_timing import sequence_cycles


def unit_cycles(p, n_beats: int) -> int:
    """Cycles for ``n_beats`` beats back to back (``TileSequencer`` contract): one per
    TLMM beat, ``rmsmax_cycles`` per RMS-MAX vector."""
    return sequence_cycles(n_beats, p.cycles_per_tile)
