"""Stimulus for the GEMM-tile designs: named corner cases, then random tile sequences."""
from __future__ import annotations

import numpy as np

from tokenfab.hw.common.packing import pack


def tile_cases(p, n_beats: int, rng: np.random.Generator, encode_beat):
    """Return ``[(name, [beat, ...]), ...]``; each case is one accumulation sequence ending
    with a ``last`` beat. ``encode_beat(p, act[M,K], codes[N,K], last)`` gives the design's
    beat. At least ``n_beats`` beats in total; the corner cases always come first."""
    lo, hi = p.act_range
    qmax = (1 << p.weight_bits) - 1
    am, wn = (p.m, p.k), (p.n, p.k)

    def seq(acts_codes):
        return [encode_beat(p, a, q, i == len(acts_codes) - 1)
                for i, (a, q) in enumerate(acts_codes)]

    checker = (np.indices(am).sum(axis=0) % 2).astype(np.int64)
    w_checker = (np.indices(wn).sum(axis=0) % 2).astype(np.int64)
    cases = [
        ("act_min_w_zero", seq([(np.full(am, lo), np.zeros(wn, np.int64))])),
        ("act_min_w_max", seq([(np.full(am, lo), np.full(wn, qmax))])),
        ("act_max_w_zero", seq([(np.full(am, hi), np.zeros(wn, np.int64))])),
        ("act_max_w_max", seq([(np.full(am, hi), np.full(wn, qmax))])),
        ("act_zero", seq([(np.zeros(am, np.int64), rng.integers(0, qmax + 1, wn))])),
        ("w_all_ones_bits", seq([(rng.integers(lo, hi + 1, am), np.full(wn, qmax))])),
        ("checkerboard", seq([(np.where(checker, lo, hi), w_checker * qmax)])),
        # The largest growth per beat, repeated: exercises accumulator width and wrap.
        ("accumulate_extremes", seq([(np.full(am, lo), np.zeros(wn, np.int64))] * 6)),
        ("accumulate_alternating", seq([(np.full(am, lo if i % 2 else hi),
                                         np.full(wn, qmax if i % 3 else 0)) for i in range(5)])),
    ]
    total = sum(len(b) for _, b in cases)
    i = 0
    while total < n_beats:
        length = int(min(rng.integers(1, 5), n_beats - total))
        beats = seq([(rng.integers(lo, hi + 1, am), rng.integers(0, qmax + 1, wn))
                     for _ in range(length)])
        cases.append((f"random_{i}", beats))
        total += length
        i += 1
    return cases


def pack_beat(layout, beat: dict) -> int:
    """Pack the beat's fields that ``layout`` has."""
    return pack(layout, {name: beat[name] for name, _ in layout})


class TileTestbench:
    """Verification hooks of a GEMM-tile design: what ``tokenfab.sim.verify`` drives and expects.

    Parameters
    ----------
    golden : module
        The design's golden model (``encode_beat``, ``ref_beats``).
    top : module
        The design's RTL module (``in_layout``, ``out_layout``).
    """

    def __init__(self, golden, top):
        self.golden = golden
        self.top = top

    def cases(self, p, n_beats, rng):
        return tile_cases(p, n_beats, rng, self.golden.encode_beat)

    def expected(self, p, beats):
        return self.golden.ref_beats(p, beats)

    def ops(self, p, cases) -> dict:
        """The work ``cases`` do, by unit (the first is the headline): MACs."""
        return {"MAC": p.macs_per_tile * sum(len(b) for _, b in cases)}

    def pack_in(self, p, beat) -> int:
        return pack_beat(self.top.in_layout(p), beat)

    def pack_out(self, p, out) -> int:
        return pack(self.top.out_layout(p), np.asarray(out).tolist())
