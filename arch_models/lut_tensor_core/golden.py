"""Bit-exact numpy model of the LUT Tensor Core unit (``tokenfab.hw.lut_tensor_core``).

``ref_tile`` follows the datapath step by step: table precompute, offline-inverted weight
groups, sign flip, shift by bit-plane, accumulate. ``ref_matmul`` is the plain integer
product it must equal; tests hold the two together.
"""
from __future__ import annotations

import numpy as np

from tokenfab.arch_models.common.tiles import gemm_via_tiles, reinterpret, run_beats, wrap_signed
from tokenfab.hw.lut_tensor_core.params import Params


def tables(acts, k: int) -> np.ndarray:
    """The 2**(k-1) symmetrized entries per activation row: entry ``i`` is the dot product
    of the row with signs (+1 where bit j of i is set, else -1; the top sign is -1)."""
    acts = np.asarray(acts, dtype=np.int64)
    idx = np.arange(1 << (k - 1))
    signs = np.where((idx[:, None] >> np.arange(k - 1)[None, :]) & 1, 1, -1)
    signs = np.concatenate([signs, -np.ones((len(idx), 1), dtype=np.int64)], axis=1)
    return acts @ signs.T                                   # [M, 2**(k-1)]


def pack_weights(codes, weight_bits: int, k: int) -> np.ndarray:
    """Offline weight packing for the unit: codes [N, K] -> groups [N, weight_bits].

    Group (n, b) holds bit b of the K codes of column n, bit j of the group from code j.
    Where the top bit (the sign selector) is 1 the lower K-1 bits are inverted, so that the
    hardware only negates the entry (the paper's Eq. 6: ``LUT[w] = -LUT[~w]``).
    """
    codes = np.asarray(codes, dtype=np.int64)
    if codes.ndim != 2 or codes.shape[1] != k:
        raise ValueError(f"codes must have shape (N, {k}), not {codes.shape}")
    if codes.min(initial=0) < 0 or codes.max(initial=0) >= (1 << weight_bits):
        raise ValueError(f"codes must be in 0..{(1 << weight_bits) - 1}")
    planes = (codes[:, None, :] >> np.arange(weight_bits)[None, :, None]) & 1   # [N, B, K]
    groups = (planes << np.arange(k)[None, None, :]).sum(axis=2)
    low_mask = (1 << (k - 1)) - 1
    top = groups >> (k - 1)
    return np.where(top == 1, (1 << (k - 1)) | (~groups & low_mask), groups)


def ref_tile(act_tile, packed, weight_bits: int, k: int) -> np.ndarray:
    """One beat through the datapath: [M, K] activations x packed [N, B] -> [M, N]."""
    return lookup_tile(tables(act_tile, k), packed, weight_bits, k)


def lookup_tile(tab, packed, weight_bits: int, k: int) -> np.ndarray:
    """The lookups of one beat: tables [M, 2**(K-1)] x packed [N, B] -> [M, N]."""
    tab = np.asarray(tab, dtype=np.int64)
    packed = np.asarray(packed, dtype=np.int64)
    total = np.zeros((tab.shape[0], packed.shape[0]), dtype=np.int64)
    for b in range(weight_bits):
        group = packed[:, b]
        sign = (group >> (k - 1)) & 1
        index = group & ((1 << (k - 1)) - 1)
        value = tab[:, index]                                # [M, N]
        total += np.where(sign[None, :] == 1, -value, value) << b
    return total


def ref_beats(p: Params, beats) -> list[np.ndarray]:
    """Outputs of a beat sequence; beats are dicts with ``act`` [M,K] (or ``tab``, the
    external tables), ``w`` (packed [N,B]) and ``last`` (or ``acc``, the register-file
    partial sums: then every beat gives ``acc + A x W``, wrapped)."""
    def tile(bt):
        tab = bt["tab"] if p.precompute == "external" else tables(bt["act"], p.k)
        return lookup_tile(tab, bt["w"], p.weight_bits, p.k)
    if p.accumulators == "regfile":
        return [wrap_signed(np.asarray(bt["acc"], dtype=np.int64) + tile(bt), p.acc_bits)
                for bt in beats]
    return run_beats(beats, tile, p.acc_bits)


def ref_matmul(acts, codes, weight_bits: int) -> np.ndarray:
    """The plain product the unit computes: ``A @ reinterpret(Q).T`` (not wrapped)."""
    return np.asarray(acts, dtype=np.int64) @ reinterpret(codes, weight_bits).T


def ref_gemm(p: Params, acts, codes) -> np.ndarray:
    """A whole GEMM ``A[Mt,Kt] x Q[Nt,Kt]`` tiled through the unit's datapath."""
    def tile(at, qt):
        return ref_tile(at, pack_weights(qt, p.weight_bits, p.k), p.weight_bits, p.k)
    return gemm_via_tiles(acts, codes, p.m, p.n, p.k, tile, p.acc_bits)


def encode_beat(p: Params, act_tile, code_tile, last: bool, acc=None) -> dict:
    """The beat the unit's input stream carries for one tile of activations and codes:
    with ``precompute="external"`` also the tables (the vector unit's precompute), with
    ``accumulators="regfile"`` the partial sums ``acc`` it adds to (default zero)."""
    act = np.asarray(act_tile, dtype=np.int64)
    beat = {"act": act, "w": pack_weights(code_tile, p.weight_bits, p.k),
            "last": int(bool(last))}
    if p.precompute == "external":
        beat["tab"] = tables(act, p.k)
    if p.accumulators == "regfile":
        beat["acc"] = np.zeros((p.m, p.n), np.int64) if acc is None else np.asarray(acc)
    return beat


def chain_regfile(p: Params, beats, first_acc=None) -> list[dict]:
    """One accumulation sequence as a register file runs it: each beat brings the partial
    sums the previous one left (the first brings ``first_acc``, default zero)."""
    acc = np.zeros((p.m, p.n), np.int64) if first_acc is None else np.asarray(first_acc)
    out = []
    for bt in beats:
        bt = {**bt, "acc": acc}
        out.append(bt)
        acc = ref_beats(p, [bt])[0]
    return out


__all__ = ["tables", "pack_weights", "ref_tile", "lookup_tile", "ref_beats", "ref_matmul",
           "ref_gemm", "encode_beat", "chain_regfile", "wrap_signed"]
