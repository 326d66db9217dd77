"""Parameters of the TeLLMe engine: its TLMM unit's, and the buffers and the AXI port
every engine has (``hw/common/engine.EngineParams``)."""
from __future__ import annotations

import dataclasses
import functools

from tokenfab.hw.common.engine import EngineParams
from tokenfab.hw.tellme.params import TABLES
from tokenfab.hw.tellme.params import Params as UnitParams
from tokenfab.params import param


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(EngineParams):
    """A whole-layer ternary matmul engine of ``units`` TLMM units (TeLLMe's table-lookup
    engine; see ``EngineParams`` for the buffers and the AXI port).

    Parameters
    ----------
    g, t, q, table, acc_bits
        The TLMM's (``tellme`` with ``unit=tlmm``): a unit tile is one token row x ``q``
        output columns x ``t * g`` of K.

    Defaults: the paper's G = 3, T = 28 and the calibrated Q = 4 in one unit, a 128-bit
    AXI port (the K26's HP ports) and banks of 8 tokens x 16 column blocks x 8 K chunks.
    """

    units: int = param(1, "TLMM units side by side along N", lo=1, hi=8)
    data_bits: int = param(128, "AXI4 data width", choices=(32, 64, 128, 256))
    buf_m: int = param(8, "tokens (row blocks) a buffer bank holds", lo=1, hi=64)
    buf_n: int = param(16, "column blocks of q columns a buffer bank holds", lo=1, hi=64)
    buf_k: int = param(8, "K chunks of t x g a buffer bank holds", lo=1, hi=256)
    g: int = param(3, "ternary weights per index group", lo=1, hi=5)
    t: int = param(28, "tables built in parallel per beat", lo=1, hi=64)
    q: int = param(4, "index vectors (output columns) looked up per cycle", lo=1, hi=32)
    table: str = param("full", "full table or half table with sign logic", choices=TABLES)
    acc_bits: int = param(32, "width of the accumulators and outputs", lo=12, hi=48)

    @functools.cached_property
    def unit(self) -> UnitParams:
        return UnitParams(unit="tlmm", g=self.g, t=self.t, q=self.q, table=self.table,
                          acc_bits=self.acc_bits)

    # a unit tile of the layer and its beats
    tile_m = property(lambda self: 1)
    tile_n = property(lambda self: self.q)
    tile_k = property(lambda self: self.t * self.g)

    @property
    def a_bits(self) -> int:
        """One activation beat: ``t x g`` INT8 activations."""
        return self.t * self.g * 8

    @property
    def w_bits(self) -> int:
        """One weight beat: ``q x t`` indices of ``idx_bits``."""
        return self.q * self.t * self.unit.idx_bits

    @property
    def o_lanes(self) -> int:
        return self.q
