"""Parameters of the LUT Tensor Core engine: its unit's, and the buffers and the AXI port
every engine has (``hw/common/engine.EngineParams``)."""
from __future__ import annotations

import dataclasses
import functools

from tokenfab.hw.common.engine import EngineParams
from tokenfab.hw.lut_tensor_core.params import Params as UnitParams
from tokenfab.params import param


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(EngineParams):
    """A whole-layer GEMM engine of ``units`` LUT Tensor Core units (see
    ``EngineParams`` for the buffers and the AXI port).

    Parameters
    ----------
    m, n, k, act_bits, weight_bits, acc_bits
        The unit's tile and widths (``lut-tensor-core``'s parameters).
    """

    m: int = param(2, "activation rows M of the unit's tile", lo=1, hi=8)
    n: int = param(64, "weight columns N of the unit's tile", lo=1, hi=256)
    k: int = param(4, "reduction length K of the unit's tile", lo=2, hi=6)
    act_bits: int = param(8, "width of the signed integer activations", lo=2, hi=16)
    weight_bits: int = param(2, "width of the unsigned weight codes", lo=1, hi=4)
    acc_bits: int = param(32, "width of the accumulators and outputs", lo=8, hi=32)

    @functools.cached_property
    def unit(self) -> UnitParams:
        return UnitParams(m=self.m, n=self.n, k=self.k, act_bits=self.act_bits,
                          weight_bits=self.weight_bits, acc_bits=self.acc_bits)

    # a unit tile of the layer and its beats
    tile_m = property(lambda self: self.m)
    tile_n = property(lambda self: self.n)
    tile_k = property(lambda self: self.k)

    @property
    def a_bits(self) -> int:
        """One activation beat: M x K activations."""
        return self.m * self.k * self.act_bits

    @property
    def w_bits(self) -> int:
        """One weight beat: N columns x bit-planes x K bits."""
        return self.n * self.weight_bits * self.k

    @property
    def o_lanes(self) -> int:
        return self.m * self.n
