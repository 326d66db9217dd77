"""Parameters of MixPE: an output-stationary systolic array of shift-and-add
mixed-precision PEs with dequantisation once per quantisation group."""
from __future__ import annotations

import dataclasses
import math

from tokenfab.errors import UsageError
from tokenfab.hw.common.params import signed_width
from tokenfab.params import ParamsBase, param

MODES = ("w4a8", "w4a16")
PE_STYLES = ("parallel", "serial")
FUSE = ("k", "mn")
DEQUANT = ("pe", "edge")
WEIGHT_BITS = 4
# W4A16: FP16 significands (11 bits) keep this many guard bits when aligned to the
# group's largest exponent (sail_mixpe.md B.3: "11 bits plus guard bits"; ours).
ALIGN_GUARD_BITS = 4
# The authors' simulator's arrays (sail_mixpe.md B.2: conf_mixint.ini 64 x 64,
# conf_mixfloat.ini 32 x 32).
PAPER_ARRAY = {"w4a8": 64, "w4a16": 32}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(ParamsBase):
    """MixPE (Zhang et al., arXiv 2411.16158) as we build it where the paper is silent
    (``sail_mixpe.md`` B.3).

    Parameters
    ----------
    mode
        ``w4a8``: INT8 activations x INT4 weights; ``w4a16``: FP16 activations, aligned
        per group to the group's largest exponent, x INT4 weights.
    rows, cols
        Array height (tokens) and width (output neurons); 0 takes the authors' size,
        64 x 64 for ``w4a8`` and 32 x 32 for ``w4a16``.
    group
        Quantisation group size G along K: one scale and zero point per G weights.
    lanes
        Products each PE adds per cycle (consecutive k, a dot product of ``lanes``
        terms through an adder tree); ``group`` must be a multiple of it. The default 4
        is the authors' simulator's throughput per PE (floor(8/4)**2 for W4A8 on its
        (8, 4) PE, floor(16/8)**2 for W4A16 on its (16, 8) PE; sail_mixpe.md B.2).
    fuse
        How a PE's ``lanes`` products are arranged. ``k`` (ours): a dot product of
        ``lanes`` consecutive k through an adder tree. ``mn``: sqrt(lanes) tokens x
        sqrt(lanes) outputs, the geometry of the authors' simulator (its BitFusion
        ``get_compute_cycles_output_stationary`` divides the batch by
        rows x floor(8/4)); built as an array of sqrt(lanes) x more rows and columns of
        one-product PEs, so a batch smaller than rows x sqrt(lanes) leaves PEs idle.
    pe
        ``parallel``: four bit-plane accumulators, one product per cycle, the shifts
        applied once per group; ``serial``: one accumulator, one weight bit-plane per
        cycle (MSB first, doubled between planes), four cycles per product.
    dequant
        ``pe`` (default): a dequantisation unit in every PE; ``edge``: one per column at
        the array edge, taking one row per cycle (a group must last at least
        ``max(rows, cols)`` cycles: at the default 64 x 64 x 4 lanes, G = 128 lasts 32).
    array_scale
        Arrays side by side in the ``asic`` system preset (one 64 x 64 x 4 array does
        16,384 products per cycle, four times the sixteen 16 x 16 arrays of the
        systolic array's preset). Not RTL.
    """

    mode: str = param("w4a8", "activation format: INT8 or FP16 (weights INT4)",
                      choices=MODES)
    rows: int = param(0, "array height, tokens (0: 64 for w4a8, 32 for w4a16)", lo=0,
                      hi=1024)
    cols: int = param(0, "array width, outputs (0: 64 for w4a8, 32 for w4a16)", lo=0,
                      hi=1024)
    group: int = param(128, "quantisation group size along K", lo=1, hi=4096)
    lanes: int = param(4, "products per PE per cycle (a dot product along K)", lo=1, hi=16)
    fuse: str = param("k", "a PE's lanes: a dot product along K, or sqrt(lanes) tokens x "
                      "sqrt(lanes) outputs", choices=FUSE)
    pe: str = param("parallel", "bit-parallel or bit-serial weight planes",
                    choices=PE_STYLES)
    dequant: str = param("pe", "dequant unit in every PE, or per column at the edge",
                         choices=DEQUANT)
    array_scale: int = param(1, "arrays in the asic preset (not RTL)", lo=1, hi=1024)

    def __post_init__(self):
        super().__post_init__()
        if self.fuse == "mn" and math.isqrt(self.lanes) ** 2 != self.lanes:
            raise UsageError(f"fuse 'mn' arranges lanes as a square of tokens x outputs, "
                             f"so lanes must be 1, 4, 9 or 16, not {self.lanes}")
        if self.group % self.L:
            raise UsageError(f"group must be a multiple of lanes ({self.L}), not "
                             f"{self.group}")
        if self.dequant == "edge" and self.group_beats < self.min_group_cycles:
            raise UsageError(
                f"dequant 'edge' takes one row per cycle per column and holds one group's "
                f"scales per column, so a group must last at least max(rows, cols) = "
                f"{self.min_group_cycles} cycles: group / lanes x {self.planes} (beats per "
                f"step) = {self.group_beats}; use dequant=pe, a larger group or a smaller "
                f"array")

    @property
    def _side(self) -> int:
        return math.isqrt(self.lanes) if self.fuse == "mn" else 1

    @property
    def R(self) -> int:
        """Rows of one-token PEs (``mn`` fusion: sqrt(lanes) per PE)."""
        return (self.rows or PAPER_ARRAY[self.mode]) * self._side

    @property
    def C(self) -> int:
        return (self.cols or PAPER_ARRAY[self.mode]) * self._side

    @property
    def L(self) -> int:
        """Products each one-token, one-output PE adds per cycle (along K)."""
        return self.lanes if self.fuse == "k" else 1

    @property
    def min_group_cycles(self) -> int:
        """Shortest group (in beats) the edge dequant units keep up with; 1 for pe."""
        return max(self.R, self.C) if self.dequant == "edge" else 1

    @property
    def group_beats(self) -> int:
        """Beats (cycles) of one whole group."""
        return self.group // self.L * self.planes

    @property
    def planes(self) -> int:
        """Beats (cycles) per product: 1 bit-parallel, 4 bit-serial."""
        return WEIGHT_BITS if self.pe == "serial" else 1

    @property
    def act_bits(self) -> int:
        """Width of the integer activations the PEs add (W4A16: aligned significands)."""
        return 8 if self.mode == "w4a8" else 1 + 11 + ALIGN_GUARD_BITS

    @property
    def act_range(self) -> tuple[int, int]:
        half = 1 << (self.act_bits - 1)
        return -half, half - 1

    @property
    def plane_bits(self) -> int:
        """Width of one bit-plane sum over a group (exact: never wraps)."""
        lo, hi = self.act_range
        return signed_width(lo * self.group, hi * self.group)

    @property
    def psum_bits(self) -> int:
        """Width of the group's integer sum P = sum q a (q in 0..15)."""
        lo, hi = self.act_range
        top = (1 << WEIGHT_BITS) - 1
        return signed_width(lo * top * self.group, hi * top * self.group)

    @property
    def dsum_bits(self) -> int:
        """Width of P - z * sum(a), z in 0..15."""
        lo, hi = self.act_range
        top = (1 << WEIGHT_BITS) - 1
        span = top * self.group * (hi - lo)
        return signed_width(-span - top * self.group, span + top * self.group)

    # The largest RTL generated (rtl.export.check_rtl_size), in products per cycle: the
    # default 64 x 64 x 4 elaborates in 13 s (its cells are Verilog instances); twice
    # that, 128 x 64, in 29 s and 1.2 GB (BENCHMARKS.md).
    rtl_max_macs = 32_768

    @property
    def macs_per_tile(self) -> int:
        return self.R * self.C * self.L

    @property
    def cycles_per_tile(self) -> int:
        return self.planes
