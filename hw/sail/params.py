"""Parameters of one SAIL C-SRAM block: LUT-GEMV in SRAM arrays beside an LLC slice.

The SAIL paper (Zhang et al., arXiv 2509.25853) publishes only its headline numbers; the
block built here is ours where the paper is silent (``sail_mixpe.md`` A.3), and every such
choice is a parameter.
"""
from __future__ import annotations

import dataclasses
import math

from tokenfab.errors import UsageError
from tokenfab.params import ParamsBase, param

WORDLINES = 256          # rows of one C-SRAM array (Neural Cache / gem-forge: 256 x 256)
BITLINES = 256           # columns of one C-SRAM array
LINE_BITS = 256          # one line of the slice's data array as the block reads it
FP16_PER_LINE = LINE_BITS // 16
Y_PER_LINE = LINE_BITS // 32        # FP32 results (or INT32 accumulators) per line
FIELD_BITS = 16                     # descriptor address and size fields
NBW_CHOICES = (2, 4, 8)
OPS = {"write": 0, "read": 1, "gemv": 2, "nop": 3}      # instruction codes of a beat


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(ParamsBase):
    """One SAIL C-SRAM block (``sail_mixpe.md`` A.3, our design where the paper is silent).

    Parameters
    ----------
    nbw
        Weights per table ("number of basis weights"): a table has ``2**nbw`` entries,
        one per pattern of activation bits, each the sum of the weights whose bit is set.
        One table fills ``2**nbw`` of an array's 256 word-lines. 2, 4 or 8 (a group of
        ``nbw`` activations must sit inside one 16-activation line).
    weight_bits
        Signed two's-complement weights. Table entries are
        ``weight_bits + ceil(log2 nbw)`` bits wide, so an array holds the tables of
        ``floor(256 / entry_bits)`` outputs side by side (36 at the defaults).
    act_bits
        Activations are FP16 in memory; the block quantises them to ``act_bits``-bit
        signed integers with one power-of-two scale per token (the token's largest FP16
        exponent; a shift, truncated) and processes them bit-serially, LSB first.
    arrays
        C-SRAM arrays of 256 x 256 bit-cells in the block (8 = 64 KB beside a 1 MB slice).
    slots
        Accumulator banks: tokens one GEMV instruction serves (the batch per pass).
    prt_entries
        Entries of the data-feeding module's pattern-reuse table (the paper's 32); 0
        turns the table off, so every lookup reads the array.
    acc_bits
        Accumulator width; sums wrap modulo ``2**acc_bits``.
    lines
        256-bit lines of the slice's data array the block addresses (its window of the
        LLC slice: weights, activations, scales and results live there).
    """

    nbw: int = param(8, "weights per table (2**nbw entries)", choices=NBW_CHOICES)
    weight_bits: int = param(4, "signed weight width", lo=2, hi=8)
    act_bits: int = param(8, "activation width after in-array quantisation", lo=2, hi=12)
    arrays: int = param(8, "256 x 256 C-SRAM arrays in the block", lo=1, hi=32)
    slots: int = param(8, "accumulator banks (tokens per GEMV)", lo=1, hi=64)
    prt_entries: int = param(32, "pattern-reuse table entries (0: off)", lo=0, hi=64)
    acc_bits: int = param(32, "accumulator width (wraps)", lo=8, hi=32)
    lines: int = param(1024, "256-bit lines of the slice window the block addresses",
                       lo=16, hi=1 << FIELD_BITS)

    def __post_init__(self):
        super().__post_init__()
        if self.lines & (self.lines - 1):
            raise UsageError(f"lines must be a power of two, not {self.lines}")
        if self.outputs_per_array < 1:
            raise UsageError(f"an entry of {self.entry_bits} bits does not fit the "
                             f"{BITLINES} bit-lines of an array")

    @property
    def entry_bits(self) -> int:
        """Width of one table entry: the sum of up to ``nbw`` signed weights."""
        return self.weight_bits + math.ceil(math.log2(self.nbw))

    @property
    def outputs_per_array(self) -> int:
        return BITLINES // self.entry_bits

    @property
    def outputs(self) -> int:
        """Output neurons one GEMV instruction computes (every array's columns)."""
        return self.outputs_per_array * self.arrays

    @property
    def patterns(self) -> int:
        return 1 << self.nbw

    @property
    def addr_bits(self) -> int:
        return max(1, (self.lines - 1).bit_length())

    def groups(self, k_lines: int) -> int:
        """Groups of ``nbw`` inputs in ``k_lines`` lines of 16 activations."""
        return k_lines * FP16_PER_LINE // self.nbw

    @property
    def macs_per_tile(self) -> int:
        """Products one lookup of all arrays stands for: ``nbw`` per output, one
        activation bit-plane (a full product takes ``act_bits`` lookups)."""
        return self.outputs * self.nbw
