"""Numpy counterparts of ``tokenfab.hw.common.fp``: FP16 fields, an integer times an FP16
significand rounded once to FP32 (RNE), and FP32 bit patterns."""
from __future__ import annotations

import numpy as np


def fp16_fields(bits):
    """(sign, effective exponent, 11-bit significand) of FP16 bit patterns (subnormals:
    exponent 1, no implicit bit)."""
    bits = np.asarray(bits, np.int64) & 0xFFFF
    exp = (bits >> 10) & 0x1F
    sig = (bits & 0x3FF) | np.where(exp != 0, 1 << 10, 0)
    return bits >> 15, np.maximum(exp, 1), sig


def scaled_int_to_fp32(value, sig, exp_offset) -> np.ndarray:
    """``value * sig * 2**exp_offset`` rounded once to FP32 (RNE), as the hardware unit
    of the same name: exact in float64 while ``|value * sig| < 2**53``."""
    val = np.asarray(value, np.int64) * np.asarray(sig, np.int64)
    return np.ldexp(val.astype(np.float64), np.asarray(exp_offset, np.int64)).astype(np.float32)


def fp32_bits(x) -> np.ndarray:
    return np.asarray(x, np.float32).view(np.uint32).astype(np.int64)
