"""Cycles of the LUT Tensor Core engine from start to done, from its schedule
(``hw/ltc_engine/top.py``) and the AXI contracts (``hw/common/axi.py``).

A phase launches its activities (one cycle), runs until all are done and ends in the cycle
it sees them done: ``max(load, compute, store) + 2`` cycles, where each activity's figure
is the number of cycles its done flag is low:

- compute: ``T (kt w + 3)`` for ``T`` tiles (row blocks x groups of ``units`` column
  blocks) of ``kt`` beats of ``w = weight_bits`` cycles each, plus a priming read, the
  unit's output register and the accumulate (``TileSequencer``'s contract);
- load: per read command (one per row block of activations, then one per column block of
  weights) its bursts; an AR a cycle while fewer than ``outstanding`` bursts are open (a
  burst closes with its last beat), the next command's ARs a cycle after the last; a
  burst's first beat ``latency`` cycles after its AR and ``interval`` after the previous
  beat, its beats ``interval`` apart; done the cycle after the last beat;
- store: per row block one write command a cycle after the previous one's last word,
  its first word two cycles later; a burst's AW the cycle after the previous burst's last
  W, its first W the cycle after; words ``interval`` apart and one cycle more where a new
  output tile is read; done three cycles after the last word (the B response).

With ``random_stalls`` the memory spaces beats by 1 to ``2 interval - 1`` cycles; the
model takes the mean spacing (``expected_interval``).
"""
from __future__ import annotations

import math

from tokenfab.hw.ltc_engine.params import Params


def bursts(p: Params, addr: int, words: int) -> list[int]:
    """INCR burst lengths of a command: at most ``burst_beats``, none across 4 KiB."""
    out = []
    while words:
        page = (4096 - addr % 4096) // p.word_bytes
        n = min(words, p.burst_beats, page)
        out.append(n)
        words -= n
        addr += n * p.word_bytes
    return out


def load_cycles(p: Params, commands, latency: int, interval: float) -> float:
    """Cycles a load's done flag is low for read ``commands`` [(byte address, words)]."""
    lasts: list[float] = []
    ar = -1.0                        # the previous AR
    prev_last = -math.inf
    accept = 0.0
    for addr, words in commands:
        x = accept + 1
        for n in bursts(p, addr, words):
            if len(lasts) >= p.outstanding:
                x = max(x, lasts[-p.outstanding] + 1)
            ar = x
            first = max(ar + latency, prev_last + interval)
            prev_last = first + (n - 1) * interval
            lasts.append(prev_last)
            x = ar + 1
        accept = ar + 1
    return prev_last + 1


def store_cycles(p: Params, commands, tile_words: int, interval: float) -> float:
    """Cycles a store's done flag is low for write ``commands``; a new output tile every
    ``tile_words`` words."""
    accept = 0.0
    last_w = -math.inf
    for addr, words in commands:
        aw = accept + 1
        sent = 0
        earliest = accept + 2
        for n in bursts(p, addr, words):
            for i in range(n):
                t = max(earliest, last_w + interval, aw + 1)
                last_w = t
                sent += 1
                earliest = t + (2 if sent % tile_words == 0 else 1)
            aw = last_w + 1
        accept = last_w + 1
    return last_w + 3


def compute_cycles(p: Params, mt: int, nt: int, kt: int) -> int:
    return mt * math.ceil(nt / p.units) * (kt * p.weight_bits + 3)


def steps(L, mapping: dict):
    """The (row block, column block, K block) steps in the engine's order."""
    mt, nt, kt, order = mapping["mt"], mapping["nt"], mapping["kt"], mapping["order"]
    outer = [(rb, nb) for rb in range(0, L.mb, mt) for nb in range(0, L.nb, nt)]
    if order:
        outer = [(rb, nb) for nb in range(0, L.nb, nt) for rb in range(0, L.mb, mt)]
    return [(rb, nb, kb) for rb, nb in outer for kb in range(0, L.kb, kt)]


def block_sizes(L, mapping: dict, step) -> tuple[int, int, int]:
    """Row, column and K blocks of ``step``: the mapping's tile, less at the layer's edges."""
    rb, nb, kb = step
    return (min(mapping["mt"], L.mb - rb), min(mapping["nt"], L.nb - nb),
            min(mapping["kt"], L.kb - kb))


def expected_interval(interval: int, random_stalls: bool) -> float:
    """Mean cycles between beats: ``interval``, or the mean of the memory's pseudo-random
    spacing (uniform over 1 to ``2 interval - 1`` of 256 LFSR values)."""
    if not random_stalls:
        return float(interval)
    span = 2 * interval - 1
    return sum(v % span + 1 for v in range(256)) / 256


def engine_cycles(p: Params, L, mapping: dict, *, latency: int = 8, interval: int = 1,
                  random_stalls: bool = False) -> float:
    """Cycles from start to done of layer ``L`` (``golden.layer``) under ``mapping``."""
    iv = expected_interval(interval, random_stalls)
    wb = p.word_bytes

    def sizes(*step):
        return block_sizes(L, mapping, step)

    def load(step):
        rb, nb, kb = step
        mt, nt, kt = sizes(rb, nb, kb)
        cmds = [(L.a_base + ((rb + i) * L.kb + kb) * p.a_words * wb, kt * p.a_words)
                for i in range(mt)]
        cmds += [(L.w_base + ((nb + j) * L.kb + kb) * p.w_words * wb, kt * p.w_words)
                 for j in range(nt)]
        return load_cycles(p, cmds, latency, iv)

    def compute(step):
        return compute_cycles(p, *sizes(*step))

    def store(step):
        rb, nb, _ = step
        mt, nt, _ = sizes(rb, nb, 0)
        cmds = [(L.o_base + ((rb + i) * L.nb + nb) * p.o_words * wb, nt * p.o_words)
                for i in range(mt)]
        return store_cycles(p, cmds, p.o_words, iv)

    seq = steps(L, mapping)
    last_kb = {s: s[2] + mapping["kt"] >= L.kb for s in seq}
    total = 0.0
    for i in range(len(seq) + 2):
        parts = []
        if i < len(seq):
            parts.append(load(seq[i]))
        if 1 <= i <= len(seq):
            parts.append(compute(seq[i - 1]))
        if i >= 2 and last_kb[seq[i - 2]]:
            parts.append(store(seq[i - 2]))
        if parts:
            total += max(parts) + 2
    return total


def _sizes(cap: int) -> list[int]:
    out = {cap}
    v = 1
    while v < cap:
        out.add(v)
        v *= 2
    return sorted(out)


def best_mapping(p: Params, L, *, latency: int = 8, interval: int = 1) -> dict:
    """The engine's mapper: the buffer tile (powers of two up to each bank's capacity, and
    the capacity) and order with the fewest predicted cycles, then the fewest steps."""
    best = None
    for mt in _sizes(min(p.buf_m, L.mb)):
        for nt in _sizes(min(p.buf_n, L.nb)):
            for kt in _sizes(min(p.buf_k, L.kb)):
                for order in (0, 1):
                    mapping = dict(mt=mt, nt=nt, kt=kt, order=order)
                    score = (engine_cycles(p, L, mapping, latency=latency,
                                           interval=interval), -mt * nt * kt, order)
                    if best is None or score < best[0]:
                        best = (score, mapping)
    return best[1]
