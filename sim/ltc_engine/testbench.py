"""Runs of the LUT Tensor Core engine against its simulation DRAM (``sim/engine_run.py``):
its beats packed as the unit's ``act`` and ``w`` fields, its output tiles unpacked, every
output word compared with the golden model."""
from __future__ import annotations

import numpy as np

from tokenfab.arch_models.common.engine import Layer
from tokenfab.arch_models.ltc_engine import golden
from tokenfab.arch_models.lut_tensor_core import golden as unit_golden
from tokenfab.hw.common.packing import pack, unpack
from tokenfab.hw.ltc_engine.params import Params
from tokenfab.hw.ltc_engine.top import LtcEngine
from tokenfab.hw.lut_tensor_core.top import in_layout, out_layout
from tokenfab.sim import engine_run


ENGINE = LtcEngine
reference = golden.reference


def dram_image(p: Params, L: Layer, acts, codes) -> dict[int, int]:
    """The activations and weight codes, padded to whole unit tiles (zero activations,
    code 0 weights: a zero activation cancels any weight)."""
    a = np.zeros((L.mb * p.m, L.kb * p.k), np.int64)
    a[:L.M, :L.K] = acts
    q = np.zeros((L.nb * p.n, L.kb * p.k), np.int64)
    q[:L.N, :L.K] = codes
    lay = in_layout(p.unit)

    def act_beat(r, c):
        return pack(lay["act"].shape, a[r * p.m:(r + 1) * p.m, c * p.k:(c + 1) * p.k].tolist())

    def w_beat(j, c):
        beat = unit_golden.encode_beat(p.unit, np.zeros((p.m, p.k), np.int64),
                                       q[j * p.n:(j + 1) * p.n, c * p.k:(c + 1) * p.k], True)
        return pack(lay["w"].shape, np.asarray(beat["w"]).tolist())
    return engine_run.dram_image(p, L, act_beat, w_beat)


def read_output(p: Params, L: Layer, words) -> np.ndarray:
    """The ``M x N`` output from the output region's words."""
    lay = out_layout(p.unit)
    return engine_run.read_output(p, L, words, lambda v: np.asarray(unpack(lay, v)))


def random_operands(p: Params, M: int, K: int, N: int, rng):
    """Activations over the unit's range and weight codes ``[N, K]``."""
    lo, hi = p.unit.act_range
    return rng.integers(lo, hi + 1, (M, K)), rng.integers(0, 1 << p.weight_bits, (N, K))


def columns(w) -> int:
    """N of the weights (codes ``[N, K]``)."""
    return w.shape[0]
