"""Parameters shared by every design that computes GEMM tiles of shape M x N x K."""
from __future__ import annotations

import dataclasses

from tokenfab.params import ParamsBase, param


def signed_width(lo: int, hi: int) -> int:
    """Smallest two's-complement width that holds every integer in ``[lo, hi]``."""
    width = 1
    while not (-(1 << (width - 1)) <= lo and hi <= (1 << (width - 1)) - 1):
        width += 1
    return width


@dataclasses.dataclass(frozen=True, kw_only=True)
class TileParams(ParamsBase):
    """A GEMM tile: ``O[M, N] += A[M, K] x W[N, K]`` per input beat.

    Parameters
    ----------
    m, n, k
        Tile shape: M activation rows, N weight columns (outputs), K reduction length.
    act_bits
        Width of the signed integer activations.
    weight_bits
        Width of the unsigned weight codes q; the arithmetic value is ``2q - (2**b - 1)``
        (LUT Tensor Core Eq. 2), so 1-bit weights are {-1, +1}.
    acc_bits
        Width of the signed accumulators; sums wrap modulo ``2**acc_bits``.
    array_scale
        Units per tensor core in the system presets (LUT Tensor Core's "8X" is 8).
        Does not change the unit RTL.
    """

    m: int = param(2, "activation rows M of the tile", lo=1, hi=64)
    n: int = param(64, "weight columns N (outputs) of the tile", lo=1, hi=256)
    k: int = param(4, "reduction length K of the tile", lo=1, hi=8)
    act_bits: int = param(8, "width of the signed integer activations", lo=2, hi=16)
    weight_bits: int = param(2, "width of the unsigned weight codes", lo=1,
                             hi=lambda cls: cls.MAX_WEIGHT_BITS)
    acc_bits: int = param(32, "width of the signed accumulators (sums wrap)", lo=8, hi=64)
    array_scale: int = param(1, "units per tensor core in the system presets (not RTL)",
                             lo=1, hi=64)

    MAX_WEIGHT_BITS = 4
    # The largest RTL generated (rtl.export.check_rtl_size), in MACs per tile: Amaranth's
    # elaboration grows faster than the size (M2N256K4 10 s, M4N256K4 36 s, M8N256K4
    # about 3 min; benchmarks/BENCHMARKS.md).
    rtl_max_macs = 4096

    @property
    def macs_per_tile(self) -> int:
        return self.m * self.n * self.k

    @property
    def act_range(self) -> tuple[int, int]:
        return -(1 << (self.act_bits - 1)), (1 << (self.act_bits - 1)) - 1

    @property
    def weight_value_range(self) -> tuple[int, int]:
        top = (1 << self.weight_bits) - 1
        return -top, top
