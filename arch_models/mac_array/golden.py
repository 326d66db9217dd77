"""Bit-exact numpy model of the MAC-array baseline (``tokenfab.hw.mac_array``)."""
from __future__ import annotations

import numpy as np

from tokenfab.arch_models.common.tiles import gemm_via_tiles, reinterpret, run_beats
from tokenfab.hw.mac_array.params import Params


def dequantize(codes, weight_bits: int) -> np.ndarray:
    """The dequantizer in front of the array: code q -> signed operand ``2q - (2**b-1)``."""
    return reinterpret(codes, weight_bits)


def ref_tile(act_tile, w_tile) -> np.ndarray:
    return np.asarray(act_tile, dtype=np.int64) @ np.asarray(w_tile, dtype=np.int64).T


def ref_beats(p: Params, beats) -> list[np.ndarray]:
    return run_beats(beats, lambda bt: ref_tile(bt["act"], bt["w"]), p.acc_bits)


def ref_gemm(p: Params, acts, codes) -> np.ndarray:
    return gemm_via_tiles(acts, codes, p.m, p.n, p.k,
                          lambda at, qt: ref_tile(at, dequantize(qt, p.weight_bits)),
                          p.acc_bits)


def encode_beat(p: Params, act_tile, code_tile, last: bool) -> dict:
    return {"act": np.asarray(act_tile, dtype=np.int64),
            "w": dequantize(code_tile, p.weight_bits), "last": int(bool(last))}
