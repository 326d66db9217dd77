"""Numpy helpers shared by the golden models of the GEMM-tile designs."""
from __future__ import annotations

import numpy as np


def wrap_signed(x, bits: int):
    """Two's-complement wrap of integer array ``x`` to ``bits`` bits (int64 or object)."""
    x = np.asarray(x)
    if bits >= 63 or x.dtype == object:
        mod = 1 << bits
        half = 1 << (bits - 1)
        return np.vectorize(lambda v: ((int(v) + half) % mod) - half, otypes=[object])(x)
    mod = np.int64(1) << np.int64(bits)
    half = np.int64(1) << np.int64(bits - 1)
    return ((x.astype(np.int64) + half) % mod) - half


def reinterpret(codes, weight_bits: int):
    """LUT Tensor Core Eq. 2: unsigned code q -> ``2q - (2**b - 1)``, odd values in
    ``[-(2**b - 1), 2**b - 1]``. For 1-bit weights {0, 1} -> {-1, +1}."""
    codes = np.asarray(codes, dtype=np.int64)
    return 2 * codes - ((1 << weight_bits) - 1)


def offset_correct(out, acts, weight_bits: int):
    """Recover ``A @ Q.T`` (unsigned codes) from ``A @ reinterpret(Q).T``:
    ``sum a*q = (sum a*q' + (2**b - 1) * sum a) / 2``."""
    acts = np.asarray(acts, dtype=np.int64)
    total = np.asarray(out, dtype=np.int64) + ((1 << weight_bits) - 1) * acts.sum(axis=1)[:, None]
    assert (total % 2 == 0).all()
    return total // 2


def run_beats(beats, tile_fn, acc_bits: int) -> list[np.ndarray]:
    """Accumulate ``tile_fn(beat)`` over beats; emit the wrapped sum at each ``last`` beat."""
    outs, acc = [], None
    for beat in beats:
        part = tile_fn(beat)
        acc = part if acc is None else acc + part
        if beat["last"]:
            outs.append(wrap_signed(acc, acc_bits))
            acc = None
    return outs


def gemm_tiles(a, codes, m: int, n: int, k: int):
    """Split ``A[Mt, Kt] x Q[Nt, Kt]`` into tile beats (zero-padded), output tiles in
    row-major order, the K chunks of each accumulated with ``last`` on the final chunk.

    Yields ``(row0, col0, act_tile[m, k], code_tile[n, k], last)``. Padding codes are the
    code whose arithmetic value times the zero-padded activation is 0 either way.
    """
    a = np.asarray(a, dtype=np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    mt, kt = a.shape
    nt = codes.shape[0]
    mp, np_, kp = -(-mt // m) * m, -(-nt // n) * n, -(-kt // k) * k
    a_pad = np.zeros((mp, kp), dtype=np.int64)
    a_pad[:mt, :kt] = a
    q_pad = np.zeros((np_, kp), dtype=np.int64)
    q_pad[:nt, :kt] = codes
    for r0 in range(0, mp, m):
        for c0 in range(0, np_, n):
            for k0 in range(0, kp, k):
                yield (r0, c0, a_pad[r0:r0 + m, k0:k0 + k], q_pad[c0:c0 + n, k0:k0 + k],
                       k0 + k == kp)


def gemm_via_tiles(a, codes, m, n, k, tile_fn, acc_bits):
    """Run a whole GEMM through ``tile_fn(act_tile, code_tile)`` and reassemble the output
    (padding rows and columns removed)."""
    mt, nt = np.asarray(a).shape[0], np.asarray(codes).shape[0]
    mp, np_ = -(-mt // m) * m, -(-nt // n) * n
    out = np.zeros((mp, np_), dtype=np.int64)
    acc = None
    for r0, c0, at, qt, last in gemm_tiles(a, codes, m, n, k):
        part = tile_fn(at, qt)
        acc = part if acc is None else acc + part
        if last:
            out[r0:r0 + m, c0:c0 + n] = wrap_signed(acc, acc_bits)
            acc = None
    return out[:mt, :nt]
