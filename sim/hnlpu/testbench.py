"""Verification hooks of the hardwired GEMV unit (the cocotb bench is ``tokenfab.sim.stream_tb``)."""
from __future__ import annotations

import numpy as np

from tokenfab.arch_models.hnlpu import golden
from tokenfab.hw.common.packing import pack
from tokenfab.hw.hnlpu import top


class GemvTestbench:
    """Corner-case input vectors (extremes, zero, alternating, one-hot), then random ones."""

    def cases(self, p, n_beats, rng):
        lo, hi = p.input_range
        r = p.rows
        alt = np.where(np.arange(r) % 2, lo, hi)
        cases = [("x_min", [np.full(r, lo)]), ("x_max", [np.full(r, hi)]),
                 ("x_zero", [np.zeros(r, np.int64)]), ("x_minus_one", [np.full(r, -1)]),
                 ("alternating", [alt, -alt - 1]),
                 ("one_hot", [np.eye(r, dtype=np.int64)[i] * (lo if i % 2 else hi)
                              for i in range(min(r, 4))])]
        total = sum(len(b) for _, b in cases)
        i = 0
        while total < n_beats:
            cases.append((f"random_{i}", [rng.integers(lo, hi + 1, r)]))
            total += 1
            i += 1
        return [(name, [{"x": x} for x in xs]) for name, xs in cases]

    def expected(self, p, beats):
        return golden.expected(p, beats)

    def ops(self, p, cases) -> dict:
        """One neuron evaluation per output per input vector, ``rows`` MACs each."""
        vectors = sum(len(b) for _, b in cases)
        return {"neuron": vectors * p.cols, "MAC": vectors * p.macs_per_tile}

    def pack_in(self, p, beat) -> int:
        return pack(top.in_layout(p), {"x": np.asarray(beat["x"]).tolist()})

    def pack_out(self, p, out) -> int:
        return pack(top.out_layout(p), np.asarray(out).tolist())


TESTBENCH = GemvTestbench()
