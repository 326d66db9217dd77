"""The LUT Tensor Core engine's golden model: where a layer sits in DRAM (the driver's
blocked layout of the unit's beats, ``hw/ltc_engine/top.py``) and the reference output.
The bench packs and unpacks the DRAM words (``sim/ltc_engine/testbench.py``)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from tokenfab.arch_models.lut_tensor_core import golden as unit_golden
from tokenfab.hw.ltc_engine.params import Params


@dataclasses.dataclass(frozen=True)
class Layer:
    """A GEMM layer ``O[M, N] = A[M, K] x W[N, K]`` in unit blocks and where it sits."""
    M: int
    K: int
    N: int
    mb: int
    nb: int
    kb: int
    a_base: int          # byte addresses
    w_base: int
    o_base: int
    words: int           # DRAM words the image spans


def layer(p: Params, M: int, K: int, N: int) -> Layer:
    mb, nb, kb = math.ceil(M / p.m), math.ceil(N / p.n), math.ceil(K / p.k)
    wb = p.word_bytes
    a_words, w_words = mb * kb * p.a_words, nb * kb * p.w_words
    o_words = mb * nb * p.o_words

    def page(words):                       # each region from a 4 KiB boundary
        return -(-words * wb // 4096) * 4096
    a_base = 0
    w_base = page(a_words)
    o_base = w_base + page(w_words)
    return Layer(M, K, N, mb, nb, kb, a_base, w_base, o_base, (o_base + o_words * wb) // wb)


def reference(p: Params, acts, codes) -> np.ndarray:
    """What the engine must leave in DRAM: the unit's GEMM, wrapped to ``acc_bits``."""
    return unit_golden.ref_gemm(p.unit, acts, codes)
