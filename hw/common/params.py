"""Parameters shared by every design that computes GEMM tiles of shape M x N x K."""
from __future__ import annotations

import dataclasses

from tokenfab.params import ParamsBase, check_int


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

    m: int = 2
    n: int = 64
    k: int = 4
    act_bits: int = 8
    weight_bits: int = 2
    acc_bits: int = 32
    array_scale: int = 1

    MAX_WEIGHT_BITS = 4

    def __post_init__(self):
        check_int("m", self.m, 1, 64)
        check_int("n", self.n, 1, 256)
        check_int("k", self.k, 1, 8)
        check_int("act_bits", self.act_bits, 2, 16)
        check_int("weight_bits", self.weight_bits, 1, self.MAX_WEIGHT_BITS)
        check_int("acc_bits", self.acc_bits, 8, 64)
        check_int("array_scale", self.array_scale, 1, 64)

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
