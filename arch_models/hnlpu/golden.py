"""Bit-exact numpy model of the hardwired GEMV unit (``tokenfab.hw.hnlpu``).

``ref`` is the plain product ``x @ W`` on the stored integer weights. ``neuron_bit_serial``
computes the same thing the way the hardwired neuron does (bit-planes, one population
count per distinct weight value, multiply by the value at the end), so the tests can show
the two agree.
"""
from __future__ import annotations

import numpy as np

from tokenfab.hw.hnlpu.params import Params


def ref(p: Params, x) -> np.ndarray:
    """``y = x @ W`` for one vector ``x[rows]`` or a batch ``x[n, rows]``."""
    return np.asarray(x, dtype=np.int64) @ p.weight_matrix()


def neuron_bit_serial(p: Params, x) -> np.ndarray:
    """The hardwired-neuron arithmetic for one vector, plane by plane, MSB first."""
    x = np.asarray(x, dtype=np.int64)
    bits = (x[:, None] >> np.arange(p.input_bits)) & 1            # [rows, bit]
    w = p.weight_matrix()
    y = np.zeros(p.cols, dtype=np.int64)
    for j in range(p.cols):
        for v in np.unique(w[:, j]):
            if v == 0:
                continue
            rows = w[:, j] == v
            acc = 0
            for b in range(p.input_bits - 1, -1, -1):
                count = int(bits[rows, b].sum())
                acc = 2 * acc + (-count if b == p.input_bits - 1 else count)
            y[j] += int(v) * acc
    return y


def expected(p: Params, beats) -> list[np.ndarray]:
    return [ref(p, b["x"]) for b in beats]


def dequantized(p: Params, y) -> np.ndarray:
    """Outputs in the weights' own units (FP4 weights are held doubled)."""
    from tokenfab.hw.hnlpu.params import SCALE
    return np.asarray(y) / SCALE[p.weight_format]
