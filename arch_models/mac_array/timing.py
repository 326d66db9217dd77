"""Timing of the mac_array unit and the systems built from it."""
from arch_models.common.tile_timing import sequence_cycles


def unit_cycles(p, n_tiles: int) -> int:
    """Cycles for ``n_tiles`` beats back to back (see ``TileSequencer``)."""
    return sequence_cycles(n_tiles, p.cycles_per_tile)
