"""Parameters of the conventional systolic array (the baseline every comparison needs)."""
from __future__ import annotations

import dataclasses

from tokenfab.params import ParamsBase, check_choice, check_int

DATAFLOWS = ("os", "ws", "is")
DTYPES = ("int8", "int4", "int16", "fp16")
INT_BITS = {"int4": 4, "int8": 8, "int16": 16}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(ParamsBase):
    """An R x C array of multiply-accumulate PEs, as SCALE-Sim models it.

    Parameters
    ----------
    rows, cols
        Array height R and width C.
    dataflow
        ``os`` output-stationary (each PE owns one output; A enters the left edge, B the
        top edge, both skewed), ``ws`` weight-stationary (a block of B is loaded into the
        PEs; rows of A stream from the left, partial sums flow down and leave at the
        bottom) or ``is`` input-stationary (a block of A is loaded; columns of B stream).
        ``ws`` and ``is`` are the same circuit with the operands' roles swapped.
    dtype
        Operand type: ``int8`` (default), ``int4``, ``int16`` or ``fp16`` (``fp16`` in the
        timing and cost levels only; the RTL is integer).
    acc_bits
        Width of the signed integer accumulators; sums wrap modulo ``2**acc_bits``.
    array_scale
        Arrays side by side in the system presets (each takes a share of the output
        columns). Does not change the RTL.
    """

    rows: int = 16
    cols: int = 16
    dataflow: str = "os"
    dtype: str = "int8"
    acc_bits: int = 32
    array_scale: int = 1

    def __post_init__(self):
        check_int("rows", self.rows, 1, 1024)
        check_int("cols", self.cols, 1, 1024)
        check_choice("dataflow", self.dataflow, DATAFLOWS)
        check_choice("dtype", self.dtype, DTYPES)
        check_int("acc_bits", self.acc_bits, 8, 64)
        check_int("array_scale", self.array_scale, 1, 1024)

    @property
    def operand_bits(self) -> int:
        return 16 if self.dtype == "fp16" else INT_BITS[self.dtype]

    @property
    def operand_range(self) -> tuple[int, int]:
        b = self.operand_bits
        return -(1 << (b - 1)), (1 << (b - 1)) - 1

    @property
    def macs_per_tile(self) -> int:
        """MACs of one array step (every PE busy): the system model's unit of work."""
        return self.rows * self.cols

    @property
    def cycles_per_tile(self) -> int:
        return 1
