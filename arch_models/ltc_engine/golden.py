"""The LUT Tensor Core engine's golden model: the DRAM image the driver lays out
(``hw/ltc_engine/top.py``'s blocked layout of the unit's beats), the reference output,
and the output read back from DRAM."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from tokenfab.arch_models.lut_tensor_core import golden as unit_golden
from tokenfab.hw.common.packing import pack, unpack
from tokenfab.hw.ltc_engine.params import Params
from tokenfab.hw.lut_tensor_core.top import in_layout, out_layout


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


def _words(value: int, n: int, bits: int) -> list[int]:
    mask = (1 << bits) - 1
    return [(value >> (i * bits)) & mask for i in range(n)]


def dram_image(p: Params, L: Layer, acts, codes) -> dict[int, int]:
    """Word address -> word of the activations and weights, padded to whole unit tiles
    (zero activations, code 0 weights: a zero activation cancels any weight)."""
    u = p.unit
    a = np.zeros((L.mb * p.m, L.kb * p.k), np.int64)
    a[:L.M, :L.K] = acts
    q = np.zeros((L.nb * p.n, L.kb * p.k), np.int64)
    q[:L.N, :L.K] = codes
    lay = in_layout(u)
    img = {}
    wb = p.word_bytes
    for r in range(L.mb):
        for c in range(L.kb):
            v = pack(lay["act"].shape, a[r * p.m:(r + 1) * p.m, c * p.k:(c + 1) * p.k].tolist())
            base = L.a_base // wb + (r * L.kb + c) * p.a_words
            for i, w in enumerate(_words(v, p.a_words, p.data_bits)):
                img[base + i] = w
    for j in range(L.nb):
        for c in range(L.kb):
            beat = unit_golden.encode_beat(u, np.zeros((p.m, p.k), np.int64),
                                           q[j * p.n:(j + 1) * p.n, c * p.k:(c + 1) * p.k],
                                           True)
            v = pack(lay["w"].shape, np.asarray(beat["w"]).tolist())
            base = L.w_base // wb + (j * L.kb + c) * p.w_words
            for i, w in enumerate(_words(v, p.w_words, p.data_bits)):
                img[base + i] = w
    return img


def read_output(p: Params, L: Layer, words) -> np.ndarray:
    """The ``M x N`` output from the DRAM words at ``o_base`` (``words[i]``: word i of
    the output region)."""
    out = np.zeros((L.mb * p.m, L.nb * p.n), np.int64)
    lay = out_layout(p.unit)
    for r in range(L.mb):
        for j in range(L.nb):
            base = (r * L.nb + j) * p.o_words
            v = sum(int(words[base + i]) << (i * p.data_bits) for i in range(p.o_words))
            out[r * p.m:(r + 1) * p.m, j * p.n:(j + 1) * p.n] = np.asarray(unpack(lay, v))
    return out[:L.M, :L.N]


def reference(p: Params, acts, codes) -> np.ndarray:
    """What the engine must leave in DRAM: the unit's GEMM, wrapped to ``acc_bits``."""
    return unit_golden.ref_gemm(p.unit, acts, codes)
