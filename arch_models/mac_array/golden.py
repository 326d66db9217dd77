"""Bit-exact numpy model of the MAC-array baseline (``tokenfab.hw.mac_array``)."""
from __future__ import annotations

import numpy as np

from tokenfab.arch_models.common.tiles import gemm_via_tiles, reinterpret, run_beats
from tokenfab.hw.mac_array.params import Params


def dequantize(p: Params, codes, scale=1, zero=0) -> np.ndarray:
    """The dequantizer in front of the array: code ``q`` with its column's group scale and
    zero offset -> ``sat(scale * ((2q - (2**b - 1)) - zero))`` in the activation format.
    ``scale`` and ``zero`` broadcast against ``codes`` (per row of a ``[N, K]`` tile)."""
    lo, hi = p.act_range
    v = reinterpret(codes, p.weight_bits)
    return np.clip((v - np.asarray(zero, np.int64)) * np.asarray(scale, np.int64), lo, hi)


def group_params(p: Params, values, k_total: int) -> np.ndarray:
    """Per-group ``values[N, ceil(K / group)]`` spread over each weight ``[N, K]``."""
    return np.repeat(np.asarray(values, np.int64), p.group, axis=1)[:, :k_total]


def ref_tile(act_tile, w_tile) -> np.ndarray:
    return np.asarray(act_tile, dtype=np.int64) @ np.asarray(w_tile, dtype=np.int64).T


def ref_beats(p: Params, beats) -> list[np.ndarray]:
    return run_beats(beats, lambda bt: ref_tile(bt["act"], dequantize(
        p, bt["w"], np.asarray(bt["scale"])[:, None], np.asarray(bt["zero"])[:, None])),
        p.acc_bits)


def ref_gemm(p: Params, acts, codes, scales=None, zeros=None) -> np.ndarray:
    """``acts[M, K] x codes[N, K]`` with ``scales`` and ``zeros`` of shape ``[N, ceil(K /
    group)]`` (default: scale 1, offset 0); the weights dequantized first, as the array
    sees them, then tiled."""
    codes = np.asarray(codes, np.int64)
    groups = (codes.shape[0], -(-codes.shape[1] // p.group))
    s = group_params(p, np.ones(groups, np.int64) if scales is None else scales,
                     codes.shape[1])
    z = group_params(p, np.zeros(groups, np.int64) if zeros is None else zeros,
                     codes.shape[1])
    w = dequantize(p, codes, s, z)
    return gemm_via_tiles(acts, w, p.m, p.n, p.k, ref_tile, p.acc_bits)


def encode_beat(p: Params, act_tile, code_tile, last: bool, scale=None,
                zero=None) -> dict:
    """A beat: activations, weight codes and their columns' group scale and zero offset
    (default 1 and 0)."""
    return {"act": np.asarray(act_tile, dtype=np.int64),
            "w": np.asarray(code_tile, dtype=np.int64),
            "scale": np.ones(p.n, np.int64) if scale is None else np.asarray(scale, np.int64),
            "zero": np.zeros(p.n, np.int64) if zero is None else np.asarray(zero, np.int64),
            "last": int(bool(last))}
