"""The TeLLMe engine's golden model: its weight beats (the TLMM's base-3 indices of a
ternary ``W[K, N]``, ``tellme.golden.encode_weights``) and the reference output. Where a
layer sits in DRAM is every engine's (``arch_models/common/engine.layer``)."""
from __future__ import annotations

import numpy as np

from tokenfab.arch_models.tellme import golden as unit_golden
from tokenfab.hw.tellme_engine.params import Params


def weight_indices(p: Params, L, w) -> np.ndarray:
    """Indices ``[KB t, NB q]`` of ``w`` padded with zero weights to whole unit tiles
    (padding encodes as the index of ``g`` zero weights, which reads 0)."""
    K, N = np.asarray(w).shape
    full = np.zeros((L.kb * p.tile_k, L.nb * p.tile_n), np.int64)
    full[:K, :N] = w
    return unit_golden.encode_weights(full, p.g)


def reference(p: Params, acts, w) -> np.ndarray:
    """What the engine must leave in DRAM: ``X W`` wrapped to ``acc_bits`` (the TLMM's
    tables are exact for absmax INT8 activations, ``tellme.golden.build_table``)."""
    return unit_golden.wrap(np.asarray(acts, np.int64) @ np.asarray(w, np.int64), p.acc_bits)
