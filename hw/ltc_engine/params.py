"""Parameters of the LUT Tensor Core engine: units, buffers and the AXI port."""
from __future__ import annotations

import dataclasses
import math

from tokenfab.errors import UsageError
from tokenfab.hw.lut_tensor_core.params import Params as UnitParams
from tokenfab.params import ParamsBase, param


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(ParamsBase):
    """A whole-layer GEMM engine: ``units`` LUT Tensor Core units side by side along N,
    double-buffered activation, weight and output buffers, an AXI4 manager to DRAM and an
    AXI4-Lite register file that starts a layer.

    Parameters
    ----------
    m, n, k, act_bits, weight_bits, acc_bits
        The unit's tile and widths (``lut-tensor-core``'s parameters).
    units
        Units side by side: they share each activation beat, each takes its own columns.
    data_bits
        AXI4 data width.
    burst_beats, outstanding
        Longest INCR burst (beats) and most read bursts in flight.
    buf_m, buf_n, buf_k
        Buffer capacity per bank in unit tiles: row blocks, column blocks (a multiple of
        ``units``) and K chunks; the mapping's tile sizes may not exceed them.
    """

    m: int = param(2, "activation rows M of the unit's tile", lo=1, hi=8)
    n: int = param(64, "weight columns N of the unit's tile", lo=1, hi=256)
    k: int = param(4, "reduction length K of the unit's tile", lo=2, hi=6)
    act_bits: int = param(8, "width of the signed integer activations", lo=2, hi=16)
    weight_bits: int = param(2, "width of the unsigned weight codes", lo=1, hi=4)
    acc_bits: int = param(32, "width of the accumulators and outputs", lo=8, hi=32)
    units: int = param(2, "units side by side along N", lo=1, hi=8)
    data_bits: int = param(64, "AXI4 data width", choices=(32, 64, 128, 256))
    burst_beats: int = param(16, "longest INCR burst in beats", lo=1, hi=256)
    outstanding: int = param(4, "read bursts in flight at most", lo=1, hi=8)
    buf_m: int = param(8, "row blocks a buffer bank holds", lo=1, hi=64)
    buf_n: int = param(4, "column blocks a buffer bank holds", lo=1, hi=64)
    buf_k: int = param(16, "K chunks a buffer bank holds", lo=1, hi=256)

    def __post_init__(self):
        super().__post_init__()
        if self.buf_n % self.units:
            raise UsageError(f"buf_n must be a multiple of units ({self.units}), not "
                             f"{self.buf_n}")

    @property
    def unit(self) -> UnitParams:
        return UnitParams(m=self.m, n=self.n, k=self.k, act_bits=self.act_bits,
                          weight_bits=self.weight_bits, acc_bits=self.acc_bits)

    @property
    def word_bytes(self) -> int:
        return self.data_bits // 8

    def words(self, bits: int) -> int:
        return math.ceil(bits / self.data_bits)

    @property
    def a_words(self) -> int:
        """AXI words of one activation beat (M x K activations)."""
        return self.words(self.m * self.k * self.act_bits)

    @property
    def w_words(self) -> int:
        """AXI words of one weight beat (N columns x bit-planes x K bits)."""
        return self.words(self.n * self.weight_bits * self.k)

    @property
    def o_words(self) -> int:
        """AXI words of one output tile (M x N accumulators)."""
        return self.words(self.m * self.n * self.acc_bits)

    @property
    def macs_per_tile(self) -> int:
        return self.m * self.n * self.k * self.units
