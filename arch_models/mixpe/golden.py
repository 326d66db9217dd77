"""Bit-exact numpy model of MixPE (``tokenfab.hw.mixpe``) and the mapping of a quantised
GEMM onto its folds.

A quantised GEMM is ``Y[M, N] = sum_k A[M, k] * s[g(k), n] * (Q[k, n] - Z[g(k), n])``:
activations ``A`` (INT8, or FP16 bit patterns), INT4 weight codes ``Q`` (0..15), one FP16
scale (bit pattern) and one INT4 zero point per group of ``group`` rows of ``Q`` and per
column. The array computes each group's integer sum ``P = sum_k Q a``, then
``fl32(s * (P - z * sum_k a))`` (one rounding) and adds it to the FP32 result (RNE), group
after group; ``reference`` computes exactly that with whole-matrix numpy, and
``ref_beats`` the same beat by beat as the RTL sees it.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from tokenfab.arch_models.common.fp import fp16_fields, fp32_bits, scaled_int_to_fp32
from tokenfab.errors import UsageError
from tokenfab.hw.mixpe.params import ALIGN_GUARD_BITS, WEIGHT_BITS, Params


# ---------------------------------------------------------------- number formats
def group_exponent(bits) -> np.ndarray:
    """The largest effective FP16 exponent along the last axis (the feeder's ``emax``)."""
    return fp16_fields(bits)[1].max(axis=-1)


def align(bits, emax) -> np.ndarray:
    """FP16 activations aligned to the group exponent ``emax``: signed integers ``v`` with
    ``value ~= v * 2**(emax - 29)``, 4 guard bits, truncated."""
    sign, eff, sig = fp16_fields(bits)
    sh = np.maximum(np.asarray(emax, np.int64) - eff, 0)
    mag = np.where(sh >= 63, 0, (sig << ALIGN_GUARD_BITS) >> np.minimum(sh, 62))
    return np.where(sign == 1, -mag, mag)


def activations(p: Params, a, emax=None) -> np.ndarray:
    """The integers the PEs add for beat activations ``a`` (rows x lanes)."""
    if p.mode == "w4a8":
        return np.asarray(a, np.int64)
    return align(a, np.asarray(emax, np.int64)[:, None])


def scale_offset(p: Params, s_eff, emax) -> np.ndarray:
    return s_eff - 25 if p.mode == "w4a8" else s_eff + emax - 50 - ALIGN_GUARD_BITS


def dequant(p: Params, P, total, z, s_bits, emax=0) -> np.ndarray:
    """``fl32(s * (P - z * total))`` (W4A16: times ``2**(emax - 29)``), one RNE rounding;
    a zero difference gives +0. Broadcasts."""
    d = np.asarray(P, np.int64) - np.asarray(z, np.int64) * np.asarray(total, np.int64)
    sign, eff, sig = fp16_fields(s_bits)
    return scaled_int_to_fp32(np.where(sign == 1, -d, d), sig,     # exact: below 2**53
                              scale_offset(p, eff, np.asarray(emax, np.int64)))


# ---------------------------------------------------------------- beat by beat
def ref_beats(p: Params, beats) -> list[np.ndarray]:
    """Output rows (``C`` FP32 bit patterns each) for a sequence of beats, stepping the
    array's state exactly as the RTL does."""
    R, C = p.R, p.C
    planes = np.zeros((WEIGHT_BITS, R, C), np.int64)
    acc = np.zeros((R, C), np.int64)
    rowsum = np.zeros(R, np.int64)
    y = np.zeros((R, C), np.float32)
    fresh = np.ones((R, C), bool)
    after_glast, prev_plane = True, 0
    outs = []
    for b in beats:
        first = after_glast
        a = activations(p, b["a"], b.get("emax"))
        q = np.asarray(b["q"], np.int64)
        counts = p.pe == "parallel" or b["plane"] == WEIGHT_BITS - 1
        rowsum = (0 if first else rowsum) + (a.sum(axis=1) if counts else 0)
        if p.pe == "parallel":
            for i in range(WEIGHT_BITS):
                planes[i] = (0 if first else planes[i]) + a @ ((q >> i) & 1).T
            P = sum(planes[i] << i for i in range(WEIGHT_BITS))
        else:
            add = a @ (q & 1).T
            dbl = not first and b["plane"] != prev_plane
            acc = add if first else (2 * acc + add if dbl else acc + add)
            P = acc
            prev_plane = b["plane"]
        after_glast = bool(b["glast"])
        if b["glast"]:
            emax = np.asarray(b["emax"], np.int64)[:, None] if p.mode == "w4a16" else 0
            prod = dequant(p, P, rowsum[:, None], np.asarray(b["z"])[None, :],
                           np.asarray(b["s"])[None, :], emax)
            y = np.where(fresh, prod, y + prod).astype(np.float32)
            fresh[:] = bool(b["last"])
            if b["last"]:
                outs += list(fp32_bits(y))
    return outs


def expected(p: Params, beats) -> list[np.ndarray]:
    return ref_beats(p, beats)


# ---------------------------------------------------------------- a GEMM fold by fold
@dataclasses.dataclass(frozen=True)
class QuantGemm:
    """Operands of a quantised GEMM (see the module doc)."""
    A: np.ndarray          # [M, K] INT8 values, or FP16 bit patterns (W4A16)
    Q: np.ndarray          # [K, N] 0..15
    S: np.ndarray          # [ceil(K / group), N] FP16 bit patterns
    Z: np.ndarray          # [ceil(K / group), N] 0..15

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.A.shape[0], self.A.shape[1], self.Q.shape[1]


def check_operands(p: Params, g: QuantGemm) -> QuantGemm:
    A, Q, S, Z = (np.asarray(x, np.int64) for x in (g.A, g.Q, g.S, g.Z))
    M, K = A.shape
    if Q.shape[0] != K:
        raise UsageError(f"Q must have K = {K} rows, not {Q.shape[0]}")
    groups = math.ceil(K / p.group)
    if S.shape != (groups, Q.shape[1]) or Z.shape != S.shape:
        raise UsageError(f"scales and zero points must be {groups} x {Q.shape[1]} "
                         f"(groups of {p.group} along K), not {S.shape} and {Z.shape}")
    lo, hi = (-128, 127) if p.mode == "w4a8" else (0, 0xFFFF)
    for name, x, a, b in (("A", A, lo, hi), ("Q", Q, 0, 15), ("Z", Z, 0, 15),
                          ("S", S, 0, 0xFFFF)):
        if x.size and (x.min() < a or x.max() > b):
            raise UsageError(f"{name} values must be from {a} to {b}")
    return QuantGemm(A, Q, S, Z)


def group_steps(p: Params, K: int) -> list[tuple[int, int, int]]:
    """(group index, first k, steps of ``lanes`` products) of each group along K; with
    edge dequant units a short last group is padded with zero steps to the shortest
    group they keep up with."""
    out = []
    for g, k0 in enumerate(range(0, K, p.group)):
        n = math.ceil(min(p.group, K - k0) / p.L)
        out.append((g, k0, max(n, math.ceil(p.min_group_cycles / p.planes))))
    return out


def streamed_beats(p: Params, K: int) -> int:
    """Beats of one fold for reduction length K."""
    return p.planes * sum(n for _, _, n in group_steps(p, K))


@dataclasses.dataclass(frozen=True)
class Fold:
    m0: int
    n0: int
    beats: tuple


def _fold_beats(p: Params, g: QuantGemm, m0: int, n0: int) -> tuple:
    R, C = p.R, p.C
    M, K, N = g.shape
    A = np.zeros((R, K), np.int64)
    A[:min(R, M - m0)] = g.A[m0:m0 + R]
    cols = slice(n0, n0 + C)
    width = min(C, N - n0)

    def padc(v):
        out = np.zeros(C, np.int64)
        out[:width] = v
        return out

    beats = []
    groups = group_steps(p, K)
    for gi, (grp, k0, steps) in enumerate(groups):
        real = min(p.group, K - k0)
        L = p.L
        a_blk = np.zeros((R, steps * L), np.int64)
        a_blk[:, :real] = A[:, k0:k0 + real]
        q_blk = np.zeros((steps * L, C), np.int64)
        q_blk[:real, :width] = g.Q[k0:k0 + real, cols]
        emax = group_exponent(a_blk).tolist() if p.mode == "w4a16" else None
        s, z = padc(g.S[grp, cols]).tolist(), padc(g.Z[grp, cols]).tolist()
        order = ([(pl, k) for pl in range(WEIGHT_BITS - 1, -1, -1) for k in range(steps)]
                 if p.pe == "serial" else [(None, k) for k in range(steps)])
        for n, (pl, k) in enumerate(order):
            glast = n == len(order) - 1
            qk = q_blk[k * L:(k + 1) * L].T
            b = {"a": a_blk[:, k * L:(k + 1) * L].tolist(),
                 "q": (qk if pl is None else (qk >> pl) & 1).tolist(),
                 "s": s, "z": z, "glast": int(glast),
                 "last": int(glast and gi == len(groups) - 1)}
            if emax is not None:
                b["emax"] = emax
            if pl is not None:
                b["plane"] = pl
            beats.append(b)
    return tuple(beats)


def gemm_folds(p: Params, g: QuantGemm) -> list[Fold]:
    """The folds in SCALE-Sim's output-stationary order (column folds outer)."""
    g = check_operands(p, g)
    M, K, N = g.shape
    return [Fold(m0, n0, _fold_beats(p, g, m0, n0))
            for n0 in range(0, N, p.C) for m0 in range(0, M, p.R)]


def gemm_beats(p: Params, g: QuantGemm) -> list[dict]:
    return [b for f in gemm_folds(p, g) for b in f.beats]


def gemm(p: Params, g: QuantGemm) -> np.ndarray:
    """``Y`` (float32) computed the way the array does it, fold by fold, beat by beat."""
    folds = gemm_folds(p, g)
    rows = iter(ref_beats(p, [b for f in folds for b in f.beats]))
    M, K, N = g.shape
    out = np.zeros((M + p.R, N + p.C), np.int64)
    for f in folds:
        for i in range(p.R):
            out[f.m0 + i, f.n0:f.n0 + p.C] = next(rows)
    return out[:M, :N].astype(np.uint32).view(np.float32)


def reference(p: Params, g: QuantGemm) -> np.ndarray:
    """The same numbers with whole-matrix numpy, group by group (no beats, no folds)."""
    g = check_operands(p, g)
    M, K, N = g.shape
    y = None
    for grp, k0, _ in group_steps(p, K):
        k1 = min(k0 + p.group, K)
        blk = g.A[:, k0:k1]
        if p.mode == "w4a16":
            emax = group_exponent(blk)[:, None]
            a = align(blk, emax)
        else:
            emax, a = 0, blk
        P = a @ g.Q[k0:k1]
        prod = dequant(p, P, a.sum(axis=1)[:, None], g.Z[grp][None, :],
                       g.S[grp][None, :], emax)
        y = prod if y is None else (y + prod).astype(np.float32)
    return y


def random_gemm(p: Params, M: int, K: int, N: int, rng, *, act_scale: float = 1.0
                ) -> QuantGemm:
    """Random operands: INT8 activations, or FP16 ones of random sign and magnitude
    around ``act_scale`` spanning several binades; scales from 2**-12 to 2**2."""
    groups = math.ceil(K / p.group)
    if p.mode == "w4a8":
        A = rng.integers(-128, 128, (M, K))
    else:
        vals = rng.standard_normal((M, K)) * act_scale * 2.0 ** rng.integers(-6, 4, (M, K))
        A = vals.astype(np.float16).view(np.uint16).astype(np.int64)
    S = (2.0 ** rng.uniform(-12, 2, (groups, N))).astype(np.float16)
    S = np.where(rng.random((groups, N)) < 0.1, -S, S)       # a few negative scales
    return QuantGemm(A, rng.integers(0, 16, (K, N)),
                     S.view(np.uint16).astype(np.int64), rng.integers(0, 16, (groups, N)))


def dequantised_weights(p: Params, g: QuantGemm) -> np.ndarray:
    """W[K, N] = s * (Q - z) in float64 (what a dequantise-then-multiply PE computes)."""
    K = g.Q.shape[0]
    s = np.asarray(g.S, np.uint16).view(np.float16).astype(np.float64)
    rows = np.arange(K) // p.group
    return s[rows] * (g.Q - g.Z[rows])


def real_activations(p: Params, g: QuantGemm) -> np.ndarray:
    if p.mode == "w4a8":
        return g.A.astype(np.float64)
    return np.asarray(g.A, np.uint16).view(np.float16).astype(np.float64)
