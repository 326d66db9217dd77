"""Bit-exact model of one SAIL C-SRAM block (``tokenfab.hw.sail``), instruction by
instruction.

The block sees a stream of beats, each one instruction:

- ``write addr data``: store a 256-bit line in the slice window;
- ``read addr``: return a line;
- ``gemv desc``: the one new instruction; ``desc`` (a :class:`Descriptor`) names where the
  FP16 activations, the weights, the FP16 scales and the results sit, and the shape.

A GEMV runs, for ``b`` tokens, ``K = 16 * k_lines`` inputs and ``n`` outputs:

1. quantise each token's FP16 activations to ``act_bits``-bit integers with one
   power-of-two scale per token (its largest FP16 exponent ``emax``): ``q = sign *
   (significand >> (emax - exponent + 12 - act_bits))``, truncated, written back as lines;
2. per group of ``nbw`` inputs: build each array's table ``T[p] = T[p & (p - 1)] +
   W[lowest set bit of p]`` for every pattern ``p``, then for every token and activation
   bit ``i`` (LSB first) add ``T[pattern_i] << i`` to the token's accumulators (subtract
   at the sign bit). A pattern-reuse table (FIFO, ``prt_entries``, cleared per group)
   and the all-zero pattern skip the array read;
3. write per token ``ceil(n / 8)`` lines: ``fl32(acc * s * 2**(emax - 13 - act_bits))``
   (one RNE rounding) or, with ``dequant`` off, the raw accumulators.

:func:`run` also records every lookup's kind (zero, PRT hit, array read): the cycle
model (``tokenfab.arch_models.sail.timing``) counts cycles from it.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from tokenfab.arch_models.common.fp import fp16_fields, fp32_bits, scaled_int_to_fp32
from tokenfab.arch_models.common.tiles import wrap_signed
from tokenfab.errors import UsageError
from tokenfab.hw.sail.params import FP16_PER_LINE, LINE_BITS, Y_PER_LINE, Params

LINE_MASK = (1 << LINE_BITS) - 1


@dataclasses.dataclass(frozen=True)
class Descriptor:
    """The SAIL.GEMV descriptor: line addresses of the activations ``x`` (FP16), their
    quantised copy ``q``, the weights ``w``, the per-output FP16 scales ``s`` and the
    results ``y``; the shape (``n`` outputs, ``16 * k_lines`` inputs, ``b`` tokens); and
    whether results are dequantised to FP32."""
    x: int
    q: int
    w: int
    s: int
    y: int
    n: int
    k_lines: int
    b: int
    dequant: int = 1

    def check(self, p: Params) -> "Descriptor":
        if not 1 <= self.n <= p.outputs:
            raise UsageError(f"a GEMV computes 1..{p.outputs} outputs on this block, "
                             f"not n={self.n}")
        if not 1 <= self.b <= p.slots:
            raise UsageError(f"a GEMV serves 1..{p.slots} tokens (slots), not b={self.b}")
        if self.k_lines < 1:
            raise UsageError(f"k_lines must be at least 1, not {self.k_lines}")
        regions = self.regions(p)
        for name, (lo, hi) in regions.items():
            if lo < 0 or hi > p.lines:
                raise UsageError(f"the {name} region, lines {lo}..{hi - 1}, is outside "
                                 f"the block's {p.lines} lines")
        spans = sorted(regions.items(), key=lambda kv: kv[1])
        for (a, (_, ha)), (b, (lb, _)) in zip(spans, spans[1:]):
            if lb < ha:
                raise UsageError(f"the {a} and {b} regions overlap")
        return self

    def groups(self, p: Params) -> int:
        return p.groups(self.k_lines)

    def out_lines(self) -> int:
        return -(-self.n // Y_PER_LINE)

    def regions(self, p: Params) -> dict:
        L = self.k_lines
        return {"x": (self.x, self.x + self.b * L), "q": (self.q, self.q + self.b * L),
                "w": (self.w, self.w + self.groups(p) * p.nbw * p.arrays),
                "s": (self.s, self.s + -(-self.n // FP16_PER_LINE)),
                "y": (self.y, self.y + self.b * self.out_lines())}


# ---------------------------------------------------------------- line formats
def pack_fields(values, bits: int) -> int:
    """Integers (two's complement) packed LSB first, ``bits`` each."""
    out, mask = 0, (1 << bits) - 1
    for i, v in enumerate(np.asarray(values, np.int64).tolist()):
        out |= (v & mask) << (i * bits)
    return out


def unpack_fields(line: int, bits: int, count: int, signed: bool = True) -> np.ndarray:
    mask = (1 << bits) - 1
    v = np.array([(line >> (i * bits)) & mask for i in range(count)], np.int64)
    return np.where(v >> (bits - 1), v - (1 << bits), v) if signed else v


def quantise(p: Params, x_bits) -> tuple[np.ndarray, np.ndarray]:
    """FP16 activations ``[b, K]`` (bit patterns) -> (``act_bits`` integers, per-token
    ``emax``); the value is ``q * 2**(emax - 13 - act_bits)``, truncated."""
    sign, eff, sig = fp16_fields(x_bits)
    emax = eff.max(axis=-1)
    sh = emax[..., None] - eff + 12 - p.act_bits
    mag = np.where(sh >= 63, 0, sig >> np.minimum(sh, 62))
    return np.where(sign == 1, -mag, mag), emax


def dequantise(p: Params, acc, s_bits, emax) -> np.ndarray:
    """``fl32(acc * s * 2**(emax - 13 - act_bits))``, one RNE rounding (broadcasts)."""
    sign, eff, sig = fp16_fields(s_bits)
    acc = np.asarray(acc, np.int64)
    return scaled_int_to_fp32(np.where(sign == 1, -acc, acc), sig,
                              eff - 25 + np.asarray(emax, np.int64) - 13 - p.act_bits)


def build_table(p: Params, w) -> np.ndarray:
    """``T[p, o]`` from ``w[nbw, o]`` by the block's recurrence (entry of ``p`` = entry of
    ``p`` without its lowest set bit + that bit's weight)."""
    w = np.asarray(w, np.int64)
    t = np.zeros((p.patterns, w.shape[1]), np.int64)
    for pat in range(1, p.patterns):
        low = (pat & -pat).bit_length() - 1
        t[pat] = t[pat & (pat - 1)] + w[low]
    return t


def patterns(p: Params, xg) -> np.ndarray:
    """``[tokens, act_bits]`` table indices: bit ``i`` of a group's ``nbw`` activations
    ``xg[tokens, nbw]`` (two's complement), activation ``j`` at bit ``j``."""
    bits = (np.asarray(xg, np.int64)[:, None, :] >> np.arange(p.act_bits)[None, :, None]) & 1
    return (bits << np.arange(p.nbw)).sum(axis=-1)


def lookup_kinds(p: Params, q) -> np.ndarray:
    """``[groups, tokens, act_bits]``: how the data-feeding module serves each lookup of
    activations ``q[tokens, K]``, group by group, token by token, LSB first: 0 the
    all-zero pattern, 1 a reuse-table hit, 2 an array read (which fills the table, first
    in first out; the table is cleared per group). With no table every lookup reads."""
    q = np.asarray(q, np.int64)
    G = q.shape[1] // p.nbw
    kinds = np.full((G, q.shape[0], p.act_bits), 2, np.int64)
    if not p.prt_entries:
        return kinds
    for g in range(G):
        pats = patterns(p, q[:, g * p.nbw:(g + 1) * p.nbw])
        table, ptr = [None] * p.prt_entries, 0
        for t, row in enumerate(pats.tolist()):
            for i, pat in enumerate(row):
                if pat == 0:
                    kinds[g, t, i] = 0
                elif pat in table:
                    kinds[g, t, i] = 1
                else:
                    table[ptr], ptr = pat, (ptr + 1) % p.prt_entries
    return kinds


# ---------------------------------------------------------------- the block
@dataclasses.dataclass
class GemvStats:
    """What one GEMV did, for the cycle model: its descriptor and, per group and token,
    the kind of each of the ``act_bits`` lookups (0 all-zero pattern, 1 PRT hit, 2 array
    read)."""
    desc: Descriptor
    lookups: np.ndarray          # [groups, b, act_bits]


class Block:
    """The block's architectural state (its line window) and the instructions."""

    def __init__(self, p: Params):
        self.p = p
        self.mem = [0] * p.lines

    def execute(self, beat) -> int | GemvStats | None:
        op = beat["op"]
        if op == "write":
            self.mem[beat["addr"] % self.p.lines] = beat["data"] & LINE_MASK
        elif op == "read":
            return self.mem[beat["addr"] % self.p.lines]
        elif op == "gemv":
            return self.gemv(beat["desc"])
        return None

    def _lines(self, start: int, count: int) -> list[int]:
        return [self.mem[(start + i) % self.p.lines] for i in range(count)]

    def gemv(self, d: Descriptor) -> GemvStats:
        p = self.p
        L, G, B = d.k_lines, d.groups(p), d.b
        O, A = p.outputs_per_array, p.arrays
        emax = np.zeros(B, np.int64)
        for t in range(B):                       # 1. quantise, token by token
            x = np.concatenate([unpack_fields(v, 16, FP16_PER_LINE, signed=False)
                                for v in self._lines(d.x + t * L, L)])
            q, e = quantise(p, x)
            emax[t] = e
            for ln in range(L):
                self.mem[(d.q + t * L + ln) % p.lines] = pack_fields(
                    q[ln * FP16_PER_LINE:(ln + 1) * FP16_PER_LINE], p.act_bits)
        acc = np.zeros((B, A * O), np.int64)
        xs = np.stack([np.concatenate([unpack_fields(v, p.act_bits, FP16_PER_LINE)
                                       for v in self._lines(d.q + t * L, L)])
                       for t in range(B)])            # what the lookups read back
        kinds = lookup_kinds(p, xs)
        for g in range(G):                       # 2. build and look up, group by group
            wl = self._lines(d.w + g * p.nbw * A, p.nbw * A)
            w = np.stack([np.concatenate([unpack_fields(wl[j * A + a], p.weight_bits, O)
                                          for a in range(A)]) for j in range(p.nbw)])
            table = wrap_signed(build_table(p, w), p.entry_bits)
            pats = patterns(p, xs[:, g * p.nbw:(g + 1) * p.nbw])
            for t in range(B):
                for i in range(p.act_bits):
                    term = table[pats[t, i]] << i
                    acc[t] = wrap_signed(acc[t] - term if i == p.act_bits - 1
                                         else acc[t] + term, p.acc_bits)
        s_lines = self._lines(d.s, -(-d.n // FP16_PER_LINE))
        s = np.concatenate([unpack_fields(v, 16, FP16_PER_LINE, signed=False)
                            for v in s_lines])[:d.n]
        for t in range(B):                       # 3. results
            if d.dequant:
                y = fp32_bits(dequantise(p, acc[t, :d.n], s, emax[t]))
            else:
                y = acc[t, :d.n] & 0xFFFFFFFF
            y = np.concatenate([y, np.zeros(d.out_lines() * Y_PER_LINE - d.n, np.int64)])
            for ol in range(d.out_lines()):
                self.mem[(d.y + t * d.out_lines() + ol) % p.lines] = pack_fields(
                    y[ol * Y_PER_LINE:(ol + 1) * Y_PER_LINE], 32)
        return GemvStats(d, kinds)


def run(p: Params, beats) -> tuple[list[int], list[GemvStats]]:
    """Execute ``beats`` from a zeroed window: (lines read, one ``GemvStats`` per GEMV)."""
    blk = Block(p)
    outs, stats = [], []
    for b in beats:
        r = blk.execute(b)
        if b["op"] == "read":
            outs.append(r)
        elif isinstance(r, GemvStats):
            stats.append(r)
    return outs, stats


def expected(p: Params, beats) -> list[int]:
    return run(p, beats)[0]


# ---------------------------------------------------------------- programs
def region_sizes(p: Params, b: int, k_lines: int, n: int) -> dict:
    """Lines each region of a GEMV of ``b`` tokens, ``16 k_lines`` inputs and ``n``
    outputs takes, as ``(0, size)`` (a descriptor's regions from line 0)."""
    return Descriptor(x=0, q=0, w=0, s=0, y=0, n=n, k_lines=k_lines, b=b).regions(p)


def program_lines(p: Params, b: int, k_lines: int, n: int) -> int:
    """Lines of the window a GEMV program takes."""
    return sum(size for _, size in region_sizes(p, b, k_lines, n).values())


def gemv_program(p: Params, x_bits, w, s_bits, *, dequant: int = 1, base: int = 0,
                 reads: bool = True) -> tuple[list[dict], Descriptor]:
    """Beats that store FP16 activations ``x_bits[b, K]``, signed weights ``w[K, n]`` and
    FP16 scales ``s_bits[n]`` in the window from line ``base``, run one GEMV and (with
    ``reads``) read the results back; and the descriptor."""
    x_bits = np.asarray(x_bits, np.int64)
    w = np.asarray(w, np.int64)
    B, K = x_bits.shape
    n = w.shape[1]
    if K % FP16_PER_LINE:
        raise UsageError(f"K must be a multiple of {FP16_PER_LINE} (one line of FP16), "
                         f"not {K}")
    lo, hi = -(1 << (p.weight_bits - 1)), (1 << (p.weight_bits - 1)) - 1
    if w.size and (w.min() < lo or w.max() > hi):
        raise UsageError(f"weights must be {p.weight_bits}-bit signed ({lo}..{hi})")
    L = K // FP16_PER_LINE
    O, A = p.outputs_per_array, p.arrays
    G = p.groups(L)
    addr, at = {}, base
    for name, (_, size) in region_sizes(p, B, L, n).items():   # one after another
        addr[name], at = at, at + size
    d = Descriptor(**addr, n=n, k_lines=L, b=B, dequant=dequant).check(p)
    beats = []
    for t in range(B):
        for ln in range(L):
            beats.append({"op": "write", "addr": d.x + t * L + ln, "data": pack_fields(
                x_bits[t, ln * FP16_PER_LINE:(ln + 1) * FP16_PER_LINE], 16)})
    wpad = np.zeros((K, A * O), np.int64)
    wpad[:, :n] = w
    for g in range(G):
        for j in range(p.nbw):
            for a in range(A):
                beats.append({"op": "write", "addr": d.w + (g * p.nbw + j) * A + a,
                              "data": pack_fields(wpad[g * p.nbw + j, a * O:(a + 1) * O],
                                                  p.weight_bits)})
    sl = d.regions(p)["s"][1] - d.s
    s_pad = np.zeros(sl * FP16_PER_LINE, np.int64)
    s_pad[:n] = np.asarray(s_bits, np.int64)
    for i in range(sl):
        beats.append({"op": "write", "addr": d.s + i, "data": pack_fields(
            s_pad[i * FP16_PER_LINE:(i + 1) * FP16_PER_LINE], 16)})
    beats.append({"op": "gemv", "desc": d})
    if reads:
        beats += [{"op": "read", "addr": line} for line in range(*d.regions(p)["y"])]
    return beats, d


def reference(p: Params, x_bits, w, s_bits, dequant: int = 1) -> np.ndarray:
    """The same GEMV as plain numpy (``q @ w``, no tables): FP32 results ``[b, n]`` or the
    wrapped integer sums."""
    q, emax = quantise(p, np.asarray(x_bits, np.int64))
    acc = wrap_signed(q @ np.asarray(w, np.int64), p.acc_bits)
    if not dequant:
        return acc
    return dequantise(p, acc, np.asarray(s_bits, np.int64)[None, :], emax[:, None])


def results(p: Params, lines, d: Descriptor) -> np.ndarray:
    """The ``[b, n]`` results in the lines a program read back (FP32 or INT32)."""
    vals = np.concatenate([unpack_fields(v, 32, Y_PER_LINE, signed=not d.dequant)
                           for v in lines]).reshape(d.b, -1)[:, :d.n]
    return vals.astype(np.uint32).view(np.float32) if d.dequant else vals
