"""Arithmetic building blocks: adder and multiplexer trees, tables of signed activation sums."""
from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Mux, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from tokenfab.hw.common.params import signed_width


def adder_tree(values):
    """Balanced pairwise sum of Amaranth values (widths grow as needed)."""
    values = list(values)
    if not values:
        raise ValueError("adder_tree needs at least one value")
    while len(values) > 1:
        nxt = [values[i] + values[i + 1] for i in range(0, len(values) - 1, 2)]
        if len(values) % 2:
            nxt.append(values[-1])
        values = nxt
    return values[0]


def mux_tree(items, index):
    """``items[index]`` as a balanced tree of 2:1 multiplexers on the index bits, LSB first.

    The same tree synthesis builds for a variable slice, written out so that a simulator
    selects narrow entries instead of shifting the whole packed vector (Verilator evaluates
    a shift of a vector wider than 64 bits word by word). Indices past the end give the
    last entry.
    """
    level = list(items)
    if not level:
        raise ValueError("mux_tree needs at least one item")
    bit = 0
    while len(level) > 1:
        level = [Mux(index[bit], level[i + 1], level[i]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
        bit += 1
    return level[0]


def symmetric_table_coeffs(k: int) -> np.ndarray:
    """Sign patterns of the 2**(k-1) symmetrized LUT Tensor Core table entries.

    Entry ``i`` is ``sum_j s_j a_j`` with ``s_j = +1`` where bit ``j`` of ``i`` is set and
    ``-1`` otherwise, for ``j < k-1``, and ``s_{k-1} = -1``: the half of the 2**k patterns
    whose top weight bit is 0. The other half is the negation of the complement.
    """
    rows = []
    for i in range(1 << (k - 1)):
        rows.append([1 if (i >> j) & 1 else -1 for j in range(k - 1)] + [-1])
    return np.array(rows, dtype=np.int64)


def ternary_table_coeffs(g: int) -> np.ndarray:
    """All 3**g patterns of {-1, 0, +1} coefficients, digit ``j`` of the base-3 index being
    ``coeff_j + 1`` (index 0 is all -1)."""
    rows = []
    for i in range(3 ** g):
        rows.append([((i // 3 ** j) % 3) - 1 for j in range(g)])
    return np.array(rows, dtype=np.int64)


def table_entry_width(coeffs: np.ndarray, act_bits: int) -> int:
    lo_a, hi_a = -(1 << (act_bits - 1)), (1 << (act_bits - 1)) - 1
    # Each term ranges over [c*lo_a, c*hi_a] (swapped when c < 0); sum the extremes.
    lo = hi = 0
    for row in np.asarray(coeffs):
        r_lo = sum(min(c * lo_a, c * hi_a) for c in row)
        r_hi = sum(max(c * lo_a, c * hi_a) for c in row)
        lo, hi = min(lo, r_lo), max(hi, r_hi)
    return signed_width(lo, hi)


class SignedSumTable(wiring.Component):
    """Combinational table precompute: ``entries[e] = sum_j coeffs[e, j] * act[j]``.

    Parameters
    ----------
    coeffs : array of shape (entries, inputs) with values in {-1, 0, +1}
        One row per table entry.
    act_bits : int
        Width of the signed activations.
    entry_bits : int, optional
        Width of the entries; by default the exact width of the sums.

    Members
    -------
    act : In(ArrayLayout(signed(act_bits), inputs))
    entries : Out(ArrayLayout(signed(entry_bits), entries))
        ``entry_bits`` is the exact width of the sums (see :func:`table_entry_width`).
    """

    def __init__(self, *, coeffs, act_bits: int, entry_bits: int | None = None):
        self.coeffs = np.asarray(coeffs, dtype=np.int64)
        if self.coeffs.ndim != 2 or not np.isin(self.coeffs, (-1, 0, 1)).all():
            raise ValueError(f"coeffs must be a 2-D array of -1/0/+1, not {coeffs!r}")
        # A narrower width than the exact one is the caller's contract on the inputs
        # (sums outside it wrap).
        self.entry_bits = entry_bits or table_entry_width(self.coeffs, act_bits)
        n_e, n_in = self.coeffs.shape
        super().__init__({
            "act": In(data.ArrayLayout(signed(act_bits), n_in)),
            "entries": Out(data.ArrayLayout(signed(self.entry_bits), n_e)),
        })

    def elaborate(self, platform):
        m = Module()
        for e, row in enumerate(self.coeffs):
            terms = [self.act[j] if c > 0 else -self.act[j] for j, c in enumerate(row) if c]
            total = adder_tree(terms) if terms else 0
            m.d.comb += self.entries[e].eq(total)
        return m
