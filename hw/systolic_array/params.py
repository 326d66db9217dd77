"""Parameters of the conventional systolic array (the baseline every comparison needs)."""
from __future__ import annotations

import dataclasses

from tokenfab.errors import UsageError
from tokenfab.params import ParamsBase, param

DATAFLOWS = ("os", "ws", "is")
DTYPES = ("int8", "int4", "int16", "fp16")
WEIGHT_FORMATS = ("dense", "int4")
# The dequantise-then-multiply baseline's quantisation group (MixPE's, sail_mixpe.md B.3)
DEQUANT_GROUP = 128
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
    weights
        ``dense``: weights stored and fed as ``dtype``. ``int4``: the
        dequantise-then-multiply baseline: INT4 codes with one FP16 scale and INT4 zero
        point per 128 weights in memory, dequantised to FP16 by one unit per column at
        the array's top edge as they enter (``dtype`` must be ``fp16``).
    acc_bits
        Width of the signed integer accumulators; sums wrap modulo ``2**acc_bits``.
    array_scale
        Arrays side by side in the system presets (each takes a share of the output
        columns). Does not change the RTL.
    """

    rows: int = param(16, "array height R", lo=1, hi=1024)
    cols: int = param(16, "array width C", lo=1, hi=1024)
    dataflow: str = param("os", "output-, weight- or input-stationary", choices=DATAFLOWS)
    dtype: str = param("int8", "operand type (fp16: timing and cost only)", choices=DTYPES)
    weights: str = param("dense", "weights stored as dtype, or INT4 dequantised to fp16 "
                         "at the array edge (timing and cost only)", choices=WEIGHT_FORMATS)
    acc_bits: int = param(32, "width of the signed accumulators (sums wrap)", lo=8, hi=64)
    array_scale: int = param(1, "arrays per 16 in the asic preset (not RTL)", lo=1, hi=1024)

    # The largest RTL generated (rtl.export.check_rtl_size), in PEs: elaboration grows
    # about as the square of the PEs (32 x 32 18 s, 40 x 40 49 s; BENCHMARKS.md). The
    # timing and cost levels take any size up to 1024 x 1024.
    rtl_max_macs = 1024

    def __post_init__(self):
        super().__post_init__()
        if self.weights == "int4" and self.dtype != "fp16":
            raise UsageError(f"weights 'int4' are dequantised to fp16, so dtype must be "
                             f"'fp16', not {self.dtype!r}")

    @property
    def weight_storage_bits(self) -> float:
        """Bits per weight in memory (INT4 codes carry a 16 + 4-bit scale and zero point
        per group)."""
        if self.weights == "int4":
            return 4 + 20 / DEQUANT_GROUP
        return self.operand_bits

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
