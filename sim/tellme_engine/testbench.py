"""Runs of the TeLLMe engine against its simulation DRAM (``sim/engine_run.py``): its
beats packed as the TLMM's ``act`` and ``idx`` fields, its output tiles unpacked, every
output word compared with the golden model."""
from __future__ import annotations

import numpy as np

from tokenfab.arch_models.common.engine import Layer
from tokenfab.arch_models.tellme_engine import golden
from tokenfab.hw.common.packing import pack, unpack
from tokenfab.hw.tellme.top import in_layout, out_layout
from tokenfab.hw.tellme_engine.params import Params
from tokenfab.hw.tellme_engine.top import TlmmEngine
from tokenfab.sim import engine_run


ENGINE = TlmmEngine
reference = golden.reference


def dram_image(p: Params, L: Layer, acts, w) -> dict[int, int]:
    """The INT8 activations (zero-padded) and the ternary weights as indices."""
    a = np.zeros((L.mb, L.kb * p.tile_k), np.int64)
    a[:L.M, :L.K] = acts
    idx = golden.weight_indices(p, L, w)              # [KB t, NB q]
    lay = in_layout(p.unit)

    def act_beat(r, c):
        chunk = a[r, c * p.tile_k:(c + 1) * p.tile_k].reshape(p.t, p.g)
        return pack(lay["act"].shape, chunk.tolist())

    def w_beat(j, c):
        cols = idx[c * p.t:(c + 1) * p.t, j * p.q:(j + 1) * p.q].T      # [q, t]
        return pack(lay["idx"].shape, cols.tolist())
    return engine_run.dram_image(p, L, act_beat, w_beat)


def read_output(p: Params, L: Layer, words) -> np.ndarray:
    """The ``M x N`` output from the output region's words."""
    lay = out_layout(p.unit)
    return engine_run.read_output(p, L, words, lambda v: np.asarray(unpack(lay, v))[None, :])


def random_operands(p: Params, M: int, K: int, N: int, rng):
    """Absmax INT8 activations (-127 to 127) and ternary weights ``[K, N]``."""
    return rng.integers(-127, 128, (M, K)), rng.integers(-1, 2, (K, N))


def columns(w) -> int:
    """N of the weights (ternary ``W[K, N]``)."""
    return w.shape[1]
