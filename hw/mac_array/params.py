"""Parameters of the conventional MAC-array baseline."""
from __future__ import annotations

import dataclasses

from tokenfab.errors import UsageError
from tokenfab.hw.common.params import TileParams
from tokenfab.params import param


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(TileParams):
    """A dequantization-based MAC array, as the LUT Tensor Core and MixPE papers' baselines
    build one: every weight code is dequantized to the activation format in front of the
    array, which then multiplies full ``act_bits x act_bits`` operands, one tile per cycle.

    The dequantizer takes a code ``q`` (``weight_bits``, 1-8) as the LUT Tensor Core's
    Eq. 2 reinterprets it, ``q' = 2q - (2**b - 1)``, and gives ``sat(s * (q' - z))``:
    per quantisation group of ``group`` weights along K and per output column, an
    unsigned integer scale ``s`` (``scale_bits``) and a signed zero offset ``z``
    (``weight_bits + 1`` bits; the paper's ``z' = 2z + 1 - 2**b`` fits it), saturated to
    the signed ``act_bits`` activation format. Integer group scales into the INT8
    activation format are how QServe's W4A8 kernels dequantize (Lin et al., 2024); ``s = 1,
    z = 0`` is the bare reinterpretation. A beat carries its columns' scales and offsets.

    Parameters
    ----------
    scale_bits
        Width of the unsigned per-group integer scale.
    group
        Quantisation group size along K (a multiple of ``k``: a beat's weights share one).
    """

    MAX_WEIGHT_BITS = 8
    scale_bits: int = param(4, "width of the unsigned per-group integer scale", lo=1, hi=8)
    group: int = param(128, "quantisation group size along K (a multiple of k)", lo=1,
                       hi=4096)

    def __post_init__(self):
        super().__post_init__()
        if self.group % self.k:
            raise UsageError(f"group must be a multiple of k ({self.k}): a beat's weights "
                             f"share one scale, not {self.group}")

    @property
    def cycles_per_tile(self) -> int:
        return 1

    @property
    def zero_range(self) -> tuple[int, int]:
        """The signed zero offset's range (``weight_bits + 1`` bits)."""
        return -(1 << self.weight_bits), (1 << self.weight_bits) - 1
