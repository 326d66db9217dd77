"""Bit-exact numpy models of TeLLMe's units (``tokenfab.hw.tellme``) and of a BitNet-style ternary
linear layer.

- ``encode_weights``: the offline encoder, ``g`` ternary weights -> one base-3 index
  (digit ``j`` is ``w_j + 1``);
- ``ref_beats``: the TLMM engine beat by beat (tables, lookups, wrapping accumulation);
- ``tlmm_matvec``: a whole ``x @ W`` run through the engine's beats, equal to the plain
  integer product (tested);
- ``absmax_quantize`` / ``bitnet_linear``: the layer the engine serves (INT8 activations,
  ternary weights, INT32 outputs);
- ``rmsmax``: the RMS-MAX unit's fixed-point arithmetic.
"""
from __future__ import annotations

import math

import numpy as np

from tokenfab.hw.tellme.params import Params


def wrap(v, bits: int):
    v = np.asarray(v, dtype=np.int64)
    half = 1 << (bits - 1)
    return ((v + half) & ((1 << bits) - 1)) - half


# ---------------------------------------------------------------- TLMM
def encode_weights(w, g: int) -> np.ndarray:
    """Ternary ``W[n, k]`` -> indices ``[ceil(n / g), k]`` (rows padded with zeros)."""
    w = np.asarray(w, dtype=np.int64)
    if not np.isin(w, (-1, 0, 1)).all():
        raise ValueError("weights must be ternary (-1, 0, +1)")
    n, k = w.shape
    pad = (-n) % g
    w = np.vstack([w, np.zeros((pad, k), np.int64)])
    digits = (w + 1).reshape(-1, g, k)
    return (digits * (3 ** np.arange(g))[None, :, None]).sum(axis=1)


def decode_index(idx, g: int) -> np.ndarray:
    """The inverse of :func:`encode_weights`: base-3 indices -> ``[..., g]`` ternary
    weights. Written here, not taken from the RTL, so the two check each other."""
    idx = np.asarray(idx, dtype=np.int64)
    return (idx[..., None] // 3 ** np.arange(g)) % 3 - 1


def build_table(p: Params, act_group) -> np.ndarray:
    """All ``3**g`` entries for one group of activations, wrapped to ``entry_bits``."""
    coeffs = decode_index(np.arange(3 ** p.g), p.g)
    return wrap(coeffs @ np.asarray(act_group, dtype=np.int64), p.entry_bits)


def lookup(p: Params, table: np.ndarray, idx: int) -> int:
    """What the RTL reads: the full table, or the half table's mirrored and negated
    entries (equal for valid indices, since the table is symmetric); 0 past 3**g - 1."""
    if idx >= p.n_tb:
        return 0
    center = (p.n_tb - 1) // 2
    if p.table == "full" or idx > center:
        return int(table[idx])
    if idx == center:
        return 0
    return int(wrap(-table[p.n_tb - 1 - idx], p.entry_bits))


def ref_beats(p: Params, beats) -> list[np.ndarray]:
    tables = np.zeros((p.t, p.n_tb), np.int64)
    acc = np.zeros(p.q, np.int64)
    outs = []
    for b in beats:
        act = np.asarray(b["act"], dtype=np.int64)
        if b["load"]:
            tables = np.stack([build_table(p, act[t]) for t in range(p.t)])
        idx = np.asarray(b["idx"], dtype=np.int64)
        for j in range(p.q):
            acc[j] += sum(lookup(p, tables[t], int(idx[j][t])) for t in range(p.t))
        acc = wrap(acc, p.acc_bits)
        if b["last"]:
            outs.append(acc.copy())
            acc[:] = 0
    return outs


def tlmm_beats(p: Params, x, w) -> list[dict]:
    """Beats computing ``x @ w`` (x: INT8 ``[n]``, w: ternary ``[n, k]``), in the paper's
    loop order: for each block of ``t * g`` activations the tables are built once and
    the output columns are walked ``q`` at a time; each (block, column group) beat emits
    a partial sum (``last``), added into the INT32 output buffer outside the engine."""
    x = np.asarray(x, dtype=np.int64)
    idx = encode_weights(w, p.g)                        # [n_groups, k]
    n_groups, k = idx.shape
    center = (p.n_tb - 1) // 2                          # the index of three zero weights
    blocks = math.ceil(n_groups / p.t)
    xg = np.zeros(blocks * p.t * p.g, np.int64)
    xg[:x.size] = x
    idx = np.vstack([idx, np.full((blocks * p.t - n_groups, k), center)])
    kq = math.ceil(k / p.q)
    idx = np.hstack([idx, np.full((idx.shape[0], kq * p.q - k), center)])
    beats = []
    for blk in range(blocks):
        act = xg[blk * p.t * p.g:(blk + 1) * p.t * p.g].reshape(p.t, p.g)
        for c in range(kq):
            cols = idx[blk * p.t:(blk + 1) * p.t, c * p.q:(c + 1) * p.q].T   # [q, t]
            beats.append({"act": act, "load": int(c == 0), "idx": cols, "last": 1})
    return beats


def tlmm_matvec(p: Params, x, w) -> np.ndarray:
    k = np.asarray(w).shape[1]
    kq = math.ceil(k / p.q)
    outs = ref_beats(p, tlmm_beats(p, x, w))
    y = np.zeros(kq * p.q, np.int64)
    for i, o in enumerate(outs):
        c = i % kq
        y[c * p.q:(c + 1) * p.q] += o
    return wrap(y[:k], 32)


def absmax_quantize(x) -> tuple[np.ndarray, float]:
    """BitNet per-token absmax INT8: ``q = round(127 x / max|x|)`` in [-127, 127]."""
    x = np.asarray(x, dtype=np.float64)
    m = float(np.abs(x).max())
    if m == 0:
        return np.zeros(x.shape, np.int64), 1.0
    return np.clip(np.round(127 * x / m), -127, 127).astype(np.int64), m / 127


def bitnet_linear(x_q, w) -> np.ndarray:
    """INT8 activations x ternary weights -> INT32 (wrapping like the engine)."""
    return wrap(np.asarray(x_q, np.int64) @ np.asarray(w, np.int64), 32)


# ---------------------------------------------------------------- RMS-MAX
def rmsmax(p: Params, x, gamma) -> dict:
    """The unit's exact output for one vector: ``q`` (INT8), ``max`` and ``inv_rms``."""
    x = [int(v) for v in x]
    gamma = [int(v) for v in gamma]
    S, F, d = p.recip_bits, p.frac_bits, p.d
    z = [a * b for a, b in zip(x, gamma)]
    mx = max(abs(v) for v in z)
    quo = (127 << S) // mx if mx else (1 << (S + 7)) - 1
    s2 = sum(v * v for v in x)
    r = 0
    for bit in range(F, -1, -1):
        cand = r | (1 << bit)
        if cand * cand * (s2 + d) <= d << (2 * F):
            r = cand
    q = []
    for v in z:
        mag = (abs(v) * quo + (1 << (S - 1))) >> S
        q.append(-mag if v < 0 else mag)
    return {"q": q, "max": mx, "inv_rms": r}


def expected(p: Params, beats):
    if p.unit == "rmsmax":
        return [rmsmax(p, b["x"], b["gamma"]) for b in beats]
    return ref_beats(p, beats)
