"""Parameters of the conventional MAC-array baseline."""
from __future__ import annotations

import dataclasses

from tokenfab.hw.common.params import TileParams


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(TileParams):
    """A dequantization-based MAC array: weights are dequantized to the activation width
    before the array, which then multiplies full ``act_bits x act_bits`` operands, one tile
    per cycle. ``weight_bits`` (1-8) is the stored width that the dequantizer expands."""

    MAX_WEIGHT_BITS = 8

    @property
    def cycles_per_tile(self) -> int:
        return 1
