"""One GEMM on the systolic array behind SCALE-Sim's memory system: cycles with stalls.

The machine is SCALE-Sim's (Samajdar et al., ISPASS 2020; SCALE-Sim 3, USER bandwidth
mode): three SRAMs, for the ifmap (A), the filter (B) and the ofmap (C), each split in two
halves and each with its own DRAM port of a given bandwidth. The folds run in SCALE-Sim's
order (column folds outermost, row folds inside; ``timing.fold_dims``), each taking
``timing.fold_cycles`` cycles when nothing stalls. Everything here is counted from those
mechanisms; nothing is fitted to SCALE-Sim's output.

* **Reads.** An operand is fetched as a stream, half a buffer at a time. Before the array
  starts, each read SRAM fills its first half (SCALE-Sim's prefetch of the active buffer;
  the two ports load in parallel), which is the prologue. An operand that fits in one
  half is then resident and never fetched again. A larger one streams: the stream is the
  fold slices in fold order (a fold that reuses the previous fold's slice fetches
  nothing, so OS re-reads the ifmap once per column fold and the filter once, WS the
  ifmap once per column fold, IS the filter once per column fold); half ``h`` loads after
  half ``h - 1`` and once half ``h - 2`` has been consumed, and a fold starts when its
  slice is in. A slice larger than a half cannot be double-buffered and is refused.
* **Writes.** The array writes its outputs (for WS and IS, every fold's partial sums, as
  SCALE-Sim's ofmap buffer does not accumulate) into the filling half of the ofmap SRAM,
  cycle by cycle in SCALE-Sim's skewed order. A full half is handed to the DRAM port if
  the other half has drained, and drains at the port's bandwidth; otherwise the array
  stalls at its next output until the drain is done. The rest drains after the last
  fold.

``total_cycles`` runs from the first DRAM read to the last DRAM write, as SCALE-Sim's
"Total Cycles (incl. prefetch)". Where SCALE-Sim's read buffers stream an operand, its
ring of 100 sets re-fetches far more than the fold order needs (SCALE-Sim issue #130); this
model fetches what the fold order needs (tests/test_peers.py records both).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from tokenfab.arch_models.systolic_array.timing import check_shape, fold_cycles, fold_dims
from tokenfab.errors import UsageError

OPERANDS = ("ifmap", "filter", "ofmap")


def folds(R: int, C: int, dataflow: str, M: int, K: int, N: int):
    """(rows used, cols used) of every fold in SCALE-Sim's order."""
    rows, cols, _ = fold_dims(dataflow, M, K, N)
    for fc in range(math.ceil(cols / C)):
        for fr in range(math.ceil(rows / R)):
            yield fr, fc, min(R, rows - fr * R), min(C, cols - fc * C)


@functools.lru_cache(maxsize=64)
def output_profile(R: int, C: int, dataflow: str, streamed: int, r_used: int,
                   c_used: int) -> np.ndarray:
    """Cumulative outputs the array has written by the end of each cycle of one fold.

    A fold's outputs are a block of ``rows`` lines of ``c_used`` words after ``prefix``
    idle lines, skewed one cycle per column (SCALE-Sim's ofmap demand): output-stationary
    folds write their R x C block (unused rows first) after streaming K; weight- and
    input-stationary folds write one row of partial sums per streamed element after the
    2R - 1 cycles that load the stationary block."""
    if dataflow == "os":
        prefix, rows, first = streamed - 1, R, R - r_used
    else:
        prefix, rows, first = 2 * R - 1, streamed, 0
    lines = fold_cycles(dataflow, R, C, streamed)
    rel = np.arange(lines) - prefix                    # column c writes at rel - c
    hi = np.minimum(c_used - 1, rel - first)
    lo = np.maximum(0, rel - rows + 1)
    return np.cumsum(np.clip(hi - lo + 1, 0, None))


def _slices(dataflow: str, M: int, K: int, N: int, fr: int, fc: int, r: int, c: int):
    """(ifmap, filter) words of one fold and the key that says whether the next fold can
    reuse them."""
    if dataflow == "os":        # rows: M, cols: N, streamed: K
        return (r * K, ("a", fr)), (K * c, ("b", fc))
    if dataflow == "ws":        # rows: K, cols: N, streamed: M
        return (M * r, ("a", fr)), (r * c, ("b", fr, fc))
    return (r * c, ("a", fr, fc)), (r * N, ("b", fr))     # is: rows K, cols M, streamed N


class _ReadPort:
    """One read SRAM's DRAM port streaming half-buffers (see the module doc)."""

    def __init__(self, name, needs, half, words_per_cycle, whole):
        self.name, self.half, self.bw = name, half, words_per_cycle
        self.resident = whole <= half
        self.stream = whole if self.resident else needs[-1]
        self.needs = needs                      # stream position after each fold
        self.loaded: list[float] = []           # cycle each half is in (0: compute start)

    def prologue(self) -> int:
        return math.ceil(min(self.stream, self.half) / self.bw)

    def ready(self, i: int, ends: list, origin: float) -> float:
        """Cycle at which fold ``i``'s slice is in the SRAM."""
        if self.resident:
            return origin
        last = (self.needs[i] - 1) // self.half
        while len(self.loaded) <= last:
            h = len(self.loaded)
            words = min(self.half, self.stream - h * self.half)
            if h == 0:
                self.loaded.append(origin)
                continue
            start = self.loaded[-1]
            if h >= 2:      # half h - 2 is free once the fold with its last word ends
                j = int(np.searchsorted(self.needs, (h - 1) * self.half, side="left"))
                start = max(start, ends[j])
            self.loaded.append(start + math.ceil(words / self.bw))
        return self.loaded[last]


DRAINS = ("when-full", "on-write")


class _WriteBuffer:
    """The ofmap SRAM: two halves of ``size // 2`` words and one DRAM port.

    ``when-full``: a full half is handed to the port as soon as the port is free (a DMA
    that re-arms on completion). ``on-write``: SCALE-Sim's controller, in which a drain is
    started only by a write that finds more than half the SRAM occupied and the port
    idle, and the drained half is freed when its drain starts; the array stalls when a
    write finds the SRAM full while a drain runs. Without writes (the gaps between folds)
    its port idles even with a half waiting."""

    def __init__(self, size: int, words_per_cycle: float, policy: str):
        self.size, self.half, self.bw, self.policy = size, size // 2, words_per_cycle, policy
        self.dur = math.ceil(self.half / words_per_cycle)
        self.fill, self.drain_end, self.blocked, self.written = 0, -math.inf, False, 0
        self.flush_wait = 0.0

    def write_fold(self, start: float, cum: np.ndarray) -> float:
        """Write one fold's outputs (``cum``: cumulative words by the end of each of its
        cycles) from cycle ``start``; returns the cycles the array stalled."""
        total = int(cum[-1])
        self.written += total
        if self.policy == "on-write":
            return self._on_write(start, cum, total)
        q, st, H = 0, 0.0, self.half
        while q < total:
            if self.blocked:     # the filling half is full: the next output waits
                line = int(np.searchsorted(cum, q, side="right"))
                st += max(0.0, self.drain_end - (start + line + st))
                self.drain_end += self.dur
                self.fill -= H
                self.blocked = False
                continue
            line = int(np.searchsorted(cum, q + H - self.fill, side="left"))
            if line >= len(cum):
                self.fill += total - q
                break
            self.fill += int(cum[line]) - q
            q = int(cum[line])
            now = start + line + st + 1
            if self.drain_end <= now:
                self.drain_end = now + self.dur
                self.fill -= H
            else:
                self.blocked = True
        return st

    def _on_write(self, start, cum, total) -> float:
        q, st = 0, 0.0
        while q < total:
            line = int(np.searchsorted(cum, q, side="right"))    # the next write's cycle
            if start + line + st < self.drain_end:               # a drain is running
                until = math.ceil(self.drain_end - start - st)   # first cycle after it
                room = self.size - self.fill
                full = int(np.searchsorted(cum, q + room, side="left"))
                if full < min(until, len(cum)):      # the SRAM fills: wait for the drain
                    st += self.drain_end - (start + full + st)
                    self.fill += room
                    q += room
                    continue
                upto = int(cum[min(until, len(cum)) - 1])
                self.fill += upto - q
                q = upto
                continue
            need = max(1, self.half + 1 - self.fill)             # the write that triggers
            line = int(np.searchsorted(cum, q + need, side="left"))
            if line >= len(cum):
                self.fill += total - q
                break
            self.fill += need
            q += need
            moved = min(self.half, self.fill)
            self.fill -= moved
            self.drain_end = start + line + st + self.dur
        return st

    def finish(self, end: float) -> float:
        """Cycle at which the last output has left for DRAM, the last fold ending at
        ``end``."""
        if self.blocked:
            self.drain_end += self.dur
            self.fill -= self.half
            self.blocked = False
        t = max(end, self.drain_end)
        # cycles the flush of the last half waited for the drain still running
        self.flush_wait = t - end if self.fill > 0 else 0.0
        while self.fill > 0:
            moved = min(self.half, self.fill)
            self.fill -= moved
            t += math.ceil(moved / self.bw)
        return t


def gemm_with_memory(R: int, C: int, dataflow: str, M: int, K: int, N: int,
                     sram_words: tuple, words_per_cycle, drain: str = "when-full") -> dict:
    """Cycles of ``A[M, K] @ B[K, N]`` on an R x C array fed from SRAMs of
    ``sram_words`` (ifmap, filter, ofmap) words, each with a DRAM port of
    ``words_per_cycle`` (three figures, or one for all); ``drain`` is the ofmap
    controller's policy (``DRAINS``, see ``_WriteBuffer``)."""
    if drain not in DRAINS:
        raise UsageError(f"drain must be one of {', '.join(DRAINS)}, not {drain!r}")
    check_shape(M, K, N)
    if not isinstance(words_per_cycle, (tuple, list)):
        words_per_cycle = (words_per_cycle,) * 3
    for what, vals in (("SRAM size", sram_words), ("DRAM words per cycle", words_per_cycle)):
        if len(vals) != 3 or any(not v > 0 for v in vals):
            raise UsageError(f"{what}s must be three positive figures (ifmap, filter, "
                             f"ofmap), not {tuple(vals)!r}")
    halves = [int(s) // 2 for s in sram_words]
    if min(halves) < 1:
        raise UsageError(f"each SRAM needs at least 2 words (two halves), not "
                         f"{tuple(sram_words)!r}")
    streamed = fold_dims(dataflow, M, K, N)[2]
    fold_list = list(folds(R, C, dataflow, M, K, N))

    # read streams: a fold re-using the previous fold's slice fetches nothing
    needs, prev, biggest = ([], []), [None, None], [0, 0]
    pos = [0, 0]
    for fr, fc, r, c in fold_list:
        for x, (words, key) in enumerate(_slices(dataflow, M, K, N, fr, fc, r, c)):
            if key != prev[x]:
                pos[x] += words
                prev[x] = key
                biggest[x] = max(biggest[x], words)
            needs[x].append(pos[x])
    ports = [_ReadPort(OPERANDS[x], needs[x], halves[x], words_per_cycle[x], size)
             for x, size in enumerate((M * K, K * N))]
    for x, p in enumerate(ports):
        if not p.resident and biggest[x] > p.half:
            raise UsageError(
                f"the {p.name} SRAM ({sram_words[x]} words) cannot double-buffer one "
                f"fold's {p.name} slice ({biggest[x]} words) of a {M}x{K}x{N} GEMM on a "
                f"{R}x{C} {dataflow.upper()} array; it needs at least {2 * biggest[x]} "
                f"words, or {2 * (M * K, K * N)[x]} to hold the operand")
    prologue = max(p.prologue() for p in ports)
    origins = [p.prologue() - prologue for p in ports]      # each port's first half in

    ofmap = _WriteBuffer(int(sram_words[2]), words_per_cycle[2], drain)
    t = 0.0
    ends: list[float] = []
    compute = read_stall = write_stall = 0.0
    for i, (fr, fc, r, c) in enumerate(fold_list):
        ready = max(p.ready(i, ends, o) for p, o in zip(ports, origins))
        read_stall += max(0.0, ready - t)
        start = max(t, ready)
        cum = output_profile(R, C, dataflow, streamed, r, c)
        st = ofmap.write_fold(start, cum)
        compute += len(cum)
        write_stall += st
        t = start + len(cum) + st
        ends.append(t)
    end = t
    last = ofmap.finish(end)
    return {
        "total_cycles": int(round(prologue + last)),
        "compute_cycles": int(compute),
        "prologue_cycles": prologue,
        "read_stall_cycles": int(round(read_stall)),
        "write_stall_cycles": int(round(write_stall)),
        "drain_tail_cycles": int(round(last - end)),
        "flush_wait_cycles": int(round(ofmap.flush_wait)),
        "dram_words": {"ifmap": ports[0].stream, "filter": ports[1].stream,
                       "ofmap": ofmap.written},
        "drain": drain,
        "resident": [p.name for p in ports if p.resident],
    }


__all__ = ["gemm_with_memory", "output_profile", "folds"]
