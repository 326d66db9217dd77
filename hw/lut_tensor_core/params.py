"""Parameters of the LUT Tensor Core unit (Mo et al., ISCA '25)."""
from __future__ import annotations

import dataclasses

from tokenfab.hw.common.params import TileParams, signed_width
from tokenfab.params import param


PRECOMPUTE = ("internal", "external")
ACCUMULATORS = ("unit", "regfile")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(TileParams):
    """LUT Tensor Core tile; defaults are the paper's M2 N64 K4 with 2-bit weights.

    The weights are processed bit-serially, one bit-plane per cycle; each plane's K bits
    index one of M symmetrized tables of ``2**(k-1)`` activation sums.

    ``precompute="external"`` and ``accumulators="regfile"`` give the paper's tensor-core
    boundary: tables computed once outside the unit and accumulators in the register file.
    Weights up to 8 bits (the paper's unit takes INT1-INT4; its Fig. 13 sweeps to 8).
    """

    MAX_WEIGHT_BITS = 8

    k: int = param(4, "weight bits per table index K (tables of 2**(K-1) entries)",
                   lo=2, hi=8)
    precompute: str = param("internal", "where the tables are computed: in the unit from "
                            "each beat's activations, or outside it (the paper's vector-unit "
                            "precompute, broadcast to every unit)", choices=PRECOMPUTE)
    accumulators: str = param("unit", "where the accumulators live between beats: in the "
                              "unit, or in a register file (each beat brings C and leaves "
                              "with C + A x W, as a GPU MMA)", choices=ACCUMULATORS)

    @property
    def table_entries(self) -> int:
        """Entries per table after symmetrization: ``2**(K-1)``."""
        return 1 << (self.k - 1)

    @property
    def lut_bits(self) -> int:
        """Exact width of a table entry: a sum of K activations, each with sign +-1."""
        lo, hi = self.act_range
        bound = self.k * max(-lo, hi)
        return signed_width(-bound, bound)

    @property
    def table_storage_bits(self) -> int:
        """Table storage per tile, the paper's Eq. 7: ``M * 2**(K-1) * LUT_BIT``."""
        return table_storage_bits(self.m, self.k, self.lut_bits)

    @property
    def weight_storage_bits(self) -> int:
        """Weight storage per tile, the paper's Eq. 8: ``K * N * W_BIT``."""
        return self.k * self.n * self.weight_bits

    @property
    def cycles_per_tile(self) -> int:
        return self.weight_bits


def table_storage_bits(m: int, k: int, lut_bits: int) -> int:
    return m * (1 << (k - 1)) * lut_bits
