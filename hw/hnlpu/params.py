"""Parameters of a hardwired-weight GEMV unit (HNLPU, Liu et al., ASPLOS '26).

The weights are part of the design: a matrix ``W[rows, cols]`` (``rows`` inputs, ``cols``
outputs, ``y = x @ W``) drawn at random from ``seed`` or read from a ``.npy`` file. They are
held as small integers:

- ``int4``: -8 .. 7;
- ``fp4``: E2M1 values {0, 0.5, 1, 1.5, 2, 3, 4, 6} and their negatives, held doubled
  (-12 .. 12), so outputs are in units of 0.5;
- ``ternary``: -1, 0, +1.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from tokenfab.hw.common.params import signed_width
from tokenfab.errors import UsageError
from tokenfab.params import ParamsBase, param

FP4_E2M1 = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
FORMATS = ("int4", "fp4", "ternary")
STYLES = ("cell", "neuron")
SCALE = {"int4": 1, "fp4": 2, "ternary": 1}     # stored integer = value x SCALE


def format_levels(fmt: str) -> np.ndarray:
    """Every integer a weight of ``fmt`` can take (after ``SCALE``)."""
    if fmt == "int4":
        return np.arange(-8, 8)
    if fmt == "fp4":
        mags = [int(2 * v) for v in FP4_E2M1]
        return np.array(sorted(set(mags + [-v for v in mags])))
    return np.array([-1, 0, 1])


def to_levels(values, fmt: str, origin: str) -> np.ndarray:
    """Map user weights (as in the format, e.g. 1.5 for FP4) to stored integers; every
    value must be representable."""
    arr = np.asarray(values, dtype=np.float64)
    scaled = arr * SCALE[fmt]
    ok = np.isin(scaled, format_levels(fmt))
    if not ok.all():
        bad = arr[~ok].ravel()[0]
        allowed = ", ".join(f"{v / SCALE[fmt]:g}" for v in format_levels(fmt))
        raise UsageError(f"{origin}: weight {bad:g} is not a {fmt} value; allowed: {allowed}")
    return scaled.astype(np.int64)


@functools.lru_cache(maxsize=32)
def _weights(path: str, fmt: str, rows: int, cols: int, seed: int, density: float):
    if path:
        p = Path(path)
        try:
            raw = np.load(p, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:   # EOFError: an empty file
            raise UsageError(f"weights file {path!r} cannot be read as .npy "
                             f"({exc or type(exc).__name__})") from None
        if not isinstance(raw, np.ndarray):
            raise UsageError(f"weights file {path!r} is an .npz archive; save one matrix "
                             "with numpy.save as a .npy file")
        if raw.dtype.kind not in "iuf":
            raise UsageError(f"weights file {path!r} holds {raw.dtype} values; the weights "
                             "must be a plain integer or floating-point array")
        if raw.ndim != 2 or raw.shape != (rows, cols):
            raise UsageError(f"weights file {path!r} has shape {raw.shape}; set rows and cols "
                             f"to match it (now rows={rows}, cols={cols})")
        w = to_levels(raw, fmt, path)
    else:
        rng = np.random.default_rng(seed)
        nonzero = format_levels(fmt)[format_levels(fmt) != 0]
        w = rng.choice(nonzero, size=(rows, cols))
        w[rng.random((rows, cols)) >= density] = 0
    w.setflags(write=False)
    return w


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(ParamsBase):
    """A hardwired GEMV unit ``y[cols] = x[rows] @ W[rows, cols]``.

    Parameters
    ----------
    rows, cols
        Inputs and outputs of the matrix.
    input_bits
        Width of the signed integer inputs.
    weight_format
        ``int4``, ``fp4`` (E2M1) or ``ternary``.
    style
        ``cell``: one constant multiplier per nonzero weight and an adder tree per output,
        one input vector per cycle. ``neuron``: the paper's hardwired neuron, inputs
        bit-serial (``input_bits`` cycles per vector), one population count per distinct
        weight value and output, then one constant multiply per value and a small adder tree.
    seed, density
        Random weights: nonzero with probability ``density``, uniform over the format's
        nonzero values.
    weights
        Path of a ``.npy`` matrix of shape ``(rows, cols)`` in the format's values; overrides
        the random draw.

    kv_format, windows, collective, mla
        The system model's options (not RTL): the KV cache in BF16 or FP8; sliding-window
        layers (gpt-oss's ``layer_types``) attending to the whole context, as the
        throughput calibration assumes, or holding and reading only their window; each
        reduction over a row or column of chips as one direct
        all-reduce (every chip sends its whole partial vector to each peer, one link
        latency) or a reduce-scatter then an all-gather (a ``1/(peers+1)`` slice each way,
        two latencies); multi-head latent attention (DeepSeek-V3, Kimi-K2) run on the
        cached latent with the up-projections absorbed into the query and output, or with
        K and V up-projected once per token and cached per head.

    The system (the chip links, HBM, attention buffer) is the ``hnlpu`` system file:
    ``--set network.latency=50ns``, ``--set memory.bandwidth=3.2TB/s``.
    """

    rows: int = param(64, "inputs of the hardwired GEMV (weight rows)", lo=1, hi=4096)
    cols: int = param(16, "outputs of the hardwired GEMV (neurons)", lo=1, hi=1024)
    input_bits: int = param(8, "bit-serial activation width", lo=2, hi=16)
    weight_format: str = param("fp4", "hardwired weight format", choices=FORMATS)
    style: str = param("neuron", "hardwired neuron or cell embedding", choices=STYLES)
    seed: int = param(1, "seed of the random weights", lo=0, hi=2**31 - 1)
    density: float = param(0.9, "fraction of nonzero random weights", lo=0.0, hi=1.0)
    weights: str = param("", "path of a .npy weight matrix (overrides the random draw)")
    kv_format: str = param("bf16", "system: KV-cache format in the attention buffer and HBM",
                           choices=("bf16", "fp8"))
    windows: str = param("ignore", "system: sliding-window layers attend to the whole "
                         "context (the calibration point's assumption) or keep only their "
                         "window", choices=("ignore", "honour"))
    collective: str = param("all-reduce", "system: each reduction as one direct all-reduce, "
                            "or a reduce-scatter then an all-gather",
                            choices=("all-reduce", "reduce-scatter"))
    mla: str = param("absorbed", "system: multi-head latent attention on the cached latent "
                     "(W_UK into the query, W_UV after attention) or with each head's K and "
                     "V up-projected once and cached", choices=("absorbed", "explicit"))

    def __post_init__(self):
        super().__post_init__()
        self.weight_matrix()                      # a bad file fails here, at the boundary

    def weight_matrix(self) -> np.ndarray:
        """Stored integer weights ``W[rows, cols]`` (FP4 doubled; see the module doc)."""
        return _weights(self.weights, self.weight_format, self.rows, self.cols, self.seed,
                        float(self.density))

    @property
    def input_range(self) -> tuple[int, int]:
        return -(1 << (self.input_bits - 1)), (1 << (self.input_bits - 1)) - 1

    @property
    def out_bits(self) -> int:
        """Exact output width: the extreme sums of the actual columns."""
        lo_x, hi_x = self.input_range
        w = self.weight_matrix()
        lo = np.minimum(w * lo_x, w * hi_x).sum(axis=0).min()
        hi = np.maximum(w * lo_x, w * hi_x).sum(axis=0).max()
        return max(2, signed_width(int(lo), int(hi)))

    @property
    def cycles_per_tile(self) -> int:
        """Cycles per input vector."""
        return self.input_bits if self.style == "neuron" else 1

    # The largest RTL generated (rtl.export.check_rtl_size), in weights: 256 x 256
    # elaborates in 39 s and 1 GB (BENCHMARKS.md).
    rtl_max_macs = 65_536

    @property
    def macs_per_tile(self) -> int:
        return self.rows * self.cols
