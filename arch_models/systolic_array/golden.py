"""Bit-exact numpy model of the systolic array (``tokenfab.hw.systolic_array``) and the
mapping of a GEMM onto its folds, in SCALE-Sim's fold order.

``ref_beats`` is what the array computes beat by beat; ``gemm_beats`` turns
``C[M, N] = A[M, K] @ B[K, N]`` into beats fold by fold, and ``gemm_from_rows`` puts the
output rows back together (adding the partial sums of the K folds of the weight- and
input-stationary dataflows), so that ``gemm`` must equal ``A @ B``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from tokenfab.hw.systolic_array.params import Params


def wrap(v, bits: int) -> np.ndarray:
    v = np.asarray(v, dtype=np.int64)
    half = 1 << (bits - 1)
    return ((v + half) & ((1 << bits) - 1)) - half


def ref_beats(p: Params, beats) -> list[np.ndarray]:
    """Output rows (``C`` values each) for a sequence of beats."""
    R, C = p.rows, p.cols
    outs = []
    if p.dataflow == "os":
        acc = np.zeros((R, C), np.int64)
        for b in beats:
            acc += np.outer(np.asarray(b["a"], np.int64), np.asarray(b["b"], np.int64))
            if b["last"]:
                outs += list(wrap(acc, p.acc_bits))
                acc[:] = 0
        return outs
    stat = np.zeros((R, C), np.int64)
    for b in beats:
        if b["load"]:
            stat[1:] = stat[:-1].copy()
            stat[0] = np.asarray(b["b"], np.int64)
        else:
            outs.append(wrap(np.asarray(b["a"], np.int64) @ stat, p.acc_bits))
    return outs


def expected(p: Params, beats) -> list[np.ndarray]:
    return ref_beats(p, beats)


@dataclasses.dataclass(frozen=True)
class Fold:
    """One fold: the rows and columns of C it covers and its K range."""
    m0: int
    n0: int
    k0: int
    beats: tuple


def _pad(v, n: int) -> list[int]:
    v = [int(x) for x in v]
    return v + [0] * (n - len(v))


def beat(p: Params, a=(), b=(), load=False, last=False) -> dict:
    return {"a": _pad(a, p.rows), "b": _pad(b, p.cols), "load": int(load), "last": int(last)}


def gemm_folds(p: Params, A, B) -> list[Fold]:
    """The folds of ``A[M, K] @ B[K, N]`` in SCALE-Sim's order (column folds outer)."""
    A, B = np.asarray(A, np.int64), np.asarray(B, np.int64)
    M, K = A.shape
    N = B.shape[1]
    R, C = p.rows, p.cols
    folds = []
    if p.dataflow == "os":
        for n0 in range(0, N, C):
            for m0 in range(0, M, R):
                bs = tuple(beat(p, A[m0:m0 + R, k], B[k, n0:n0 + C], last=k == K - 1)
                           for k in range(K))
                folds.append(Fold(m0, n0, 0, bs))
        return folds
    # ws: B[k0:k0+R, n0:n0+C] stationary, rows of A stream; is: A[m0:m0+C, k0:k0+R]^T
    # stationary, columns of B stream. The stationary block enters bottom row first.
    outer, stream_len = (N, M) if p.dataflow == "ws" else (M, N)
    for c0 in range(0, outer, C):
        for k0 in range(0, K, R):
            rows = min(R, K - k0)
            if p.dataflow == "ws":
                block = B[k0:k0 + rows, c0:c0 + C]
                vecs = [A[s, k0:k0 + rows] for s in range(stream_len)]
            else:
                block = A[c0:c0 + C, k0:k0 + rows].T
                vecs = [B[k0:k0 + rows, s] for s in range(stream_len)]
            block = np.vstack([block, np.zeros((R - rows, block.shape[1]), np.int64)])
            loads = [beat(p, b=block[R - 1 - r], load=True) for r in range(R)]
            streams = [beat(p, a=v, last=s == stream_len - 1) for s, v in enumerate(vecs)]
            m0, n0 = (0, c0) if p.dataflow == "ws" else (c0, 0)
            folds.append(Fold(m0, n0, k0, tuple(loads + streams)))
    return folds


def gemm_beats(p: Params, A, B) -> list[dict]:
    return [b for f in gemm_folds(p, A, B) for b in f.beats]


def gemm_from_rows(p: Params, shape, folds: list[Fold], rows) -> np.ndarray:
    """Reassemble ``C[M, N]`` from the output rows of ``folds`` (wrapped to acc_bits)."""
    M, K, N = shape
    R, C = p.rows, p.cols
    out = np.zeros((M + R + C, N + R + C), np.int64)
    it = iter(rows)
    for f in folds:
        if p.dataflow == "os":
            for i in range(R):
                out[f.m0 + i, f.n0:f.n0 + C] += next(it)
        elif p.dataflow == "ws":
            for s in range(M):
                out[s, f.n0:f.n0 + C] += next(it)
        else:
            for s in range(N):
                out[f.m0:f.m0 + C, s] += next(it)
    return wrap(out[:M, :N], p.acc_bits)


def gemm(p: Params, A, B) -> np.ndarray:
    """``A @ B`` computed the way the array does it, fold by fold."""
    A, B = np.asarray(A, np.int64), np.asarray(B, np.int64)
    folds = gemm_folds(p, A, B)
    rows = ref_beats(p, [b for f in folds for b in f.beats])
    return gemm_from_rows(p, (A.shape[0], A.shape[1], B.shape[1]), folds, rows)

