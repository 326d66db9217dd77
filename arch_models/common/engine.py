"""What every engine's model shares (``hw/common/engine.py``): where a layer sits in DRAM
(the driver's blocked layout of the unit's beats) and the cycles from start to done, from
the engine's schedule and the AXI contracts (``hw/common/axi.py``).

A phase launches its activities (one cycle), runs until all are done and ends in the cycle
it sees them done: ``max(load, compute, store) + 2`` cycles, where each activity's figure
is the number of cycles its done flag is low:

- compute: the engine's own (its ``timing.compute_cycles``);
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

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class Layer:
    """A GEMM layer ``O[M, N]`` over K in unit blocks and where it sits."""
    M: int
    K: int
    N: int
    mb: int
    nb: int
    kb: int
    a_base: int          # byte addresses
    w_base: int
    o_base: int
    words: int           # DRAM words the image spans


def layer(p, M: int, K: int, N: int) -> Layer:
    """Where the layer sits: each region from a 4 KiB boundary."""
    mb, nb, kb = (math.ceil(M / p.tile_m), math.ceil(N / p.tile_n),
                  math.ceil(K / p.tile_k))
    wb = p.word_bytes
    a_words, w_words = mb * kb * p.a_words, nb * kb * p.w_words
    o_words = mb * nb * p.o_words

    def page(words):                       # each region from a 4 KiB boundary
        return -(-words * wb // 4096) * 4096
    a_base = 0
    w_base = page(a_words)
    o_base = w_base + page(w_words)
    return Layer(M, K, N, mb, nb, kb, a_base, w_base, o_base, (o_base + o_words * wb) // wb)


def bursts(p, addr: int, words: int) -> list[int]:
    """INCR burst lengths of a command: at most ``burst_beats``, none across 4 KiB."""
    out = []
    while words:
        page = (4096 - addr % 4096) // p.word_bytes
        n = min(words, p.burst_beats, page)
        out.append(n)
        words -= n
        addr += n * p.word_bytes
    return out


def load_cycles(p, commands, latency: int, interval: float) -> float:
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


def store_cycles(p, commands, tile_words: int, interval: float) -> float:
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


def engine_cycles(p, L, mapping: dict, compute, *, latency: int = 8, interval: int = 1,
                  random_stalls: bool = False) -> float:
    """Cycles from start to done of layer ``L`` (``layer``) under ``mapping``;
    ``compute(mt, nt, kt)`` gives the cycles the engine's compute takes for a step."""
    iv = expected_interval(interval, random_stalls)
    wb = p.word_bytes
    memo: dict = {}

    def cached(fn, cmds, *args):
        """A command list's cycles depend on its addresses only through the 4 KiB pages
        its bursts stop at: steps of equal sizes and page offsets cost the same."""
        key = (fn, tuple((a % 4096, n) for a, n in cmds))
        if key not in memo:
            memo[key] = fn(p, cmds, *args)
        return memo[key]

    def sizes(*step):
        return block_sizes(L, mapping, step)

    def load(step):
        rb, nb, kb = step
        mt, nt, kt = sizes(rb, nb, kb)
        cmds = [(L.a_base + ((rb + i) * L.kb + kb) * p.a_words * wb, kt * p.a_words)
                for i in range(mt)]
        cmds += [(L.w_base + ((nb + j) * L.kb + kb) * p.w_words * wb, kt * p.w_words)
                 for j in range(nt)]
        return cached(load_cycles, cmds, latency, iv)

    def store(step):
        rb, nb, _ = step
        mt, nt, _ = sizes(rb, nb, 0)
        cmds = [(L.o_base + ((rb + i) * L.nb + nb) * p.o_words * wb, nt * p.o_words)
                for i in range(mt)]
        return cached(store_cycles, cmds, p.o_words, iv)

    seq = steps(L, mapping)
    last_kb = {s: s[2] + mapping["kt"] >= L.kb for s in seq}
    total = 0.0
    for i in range(len(seq) + 2):
        parts = []
        if i < len(seq):
            parts.append(load(seq[i]))
        if 1 <= i <= len(seq):
            parts.append(compute(*sizes(*seq[i - 1])))
        if i >= 2 and last_kb[seq[i - 2]]:
            parts.append(store(seq[i - 2]))
        if parts:
            total += max(parts) + 2
    return total


def candidates(bank: int, blocks: int) -> list[int]:
    """Tile sizes the mapper tries along a dimension of ``blocks`` unit tiles with a bank
    of ``bank``: the most the bank holds, half of it, and the even split of the layer in
    as few tiles as the bank allows (which avoids a ragged last tile). Smaller tiles only
    add per-step latency and launch cycles, so the mapper leaves them out (each candidate
    costs a pass over the layer's steps)."""
    cap = min(bank, blocks)
    return sorted({cap, max(1, cap // 2), math.ceil(blocks / math.ceil(blocks / cap))})


def best_mapping(p, L, compute, *, latency: int = 8, interval: int = 1) -> dict:
    """The engine's mapper: of the buffer tiles in ``candidates`` and both orders, the one
    with the fewest predicted cycles, then the most unit tiles per step."""
    best = None
    for mt in candidates(p.buf_m, L.mb):
        for nt in candidates(p.buf_n, L.nb):
            for kt in candidates(p.buf_k, L.kb):
                for order in (0, 1):
                    mapping = dict(mt=mt, nt=nt, kt=kt, order=order)
                    score = (engine_cycles(p, L, mapping, compute, latency=latency,
                                           interval=interval), -mt * nt * kt, order)
                    if best is None or score < best[0]:
                        best = (score, mapping)
    return best[1]


# ------------------------------------------------------------------ sized from a system
OPERANDS = ("activations", "weights", "outputs")


@dataclasses.dataclass(frozen=True)
class SystemSizing:
    """An engine's parameters taken from a system spec (:func:`from_system`): the
    buffers from the on-chip levels, the AXI port from the memory's bus, and the memory's
    ``latency`` and beat ``interval`` in cycles of the system's clock."""
    system: str
    params: dict               # what the spec set (the user's own parameters win)
    rooms: dict                # operand -> (level, bytes of the level it may use)
    used: dict                 # operand -> bytes both banks of the engine's buffer take
    latency: int | None        # None: the system gives no latency
    interval: int

    def to_dict(self) -> dict:
        return {"system": self.system, "params": dict(self.params),
                "rooms": {k: {"level": lv, "bytes": b} for k, (lv, b) in self.rooms.items()},
                "used_bytes": dict(self.used), "latency": self.latency,
                "interval": self.interval}


def from_system(Params, spec, given: dict) -> SystemSizing:
    """Size an engine from ``spec`` (a validated :class:`~tokenfab.arch_models.systems.Spec`).

    - ``units``: the spec's ``engines.count``; ``data_bits``: the widest port choice not
      wider than the memory's ``bus_bits`` (unset: the engine's default).
    - Buffers: each operand lives in the innermost level that holds it, sharing that
      level's bytes evenly with the engine's other operands there; the engine keeps two
      banks of each. Of the bank sizes within the parameters' limits that fit, the one
      with the fewest DRAM bytes per MAC (activations are fetched once per ``buf_n``
      column blocks, weights once per ``buf_m`` row blocks; outputs once), then the most
      K chunks (fewer, longer steps).
    - ``latency``: the memory's, in cycles (rounded up); ``interval``: cycles per AXI
      word at the memory's sustained bandwidth (rounded up, at least 1).

    ``given`` (the user's parameters) wins over all of these. What cannot fit is refused.
    """
    from tokenfab.errors import UsageError
    from tokenfab.params import declared_bound, param_fields
    fields = param_fields(Params)

    kw = dict(given)
    if "units" not in kw and spec.engines.count is not None:
        kw["units"] = spec.engines.count
    choices = tuple(fields["data_bits"].metadata["choices"])
    if "data_bits" not in kw and spec.memory.bus_bits:
        fit = [c for c in choices if c <= spec.memory.bus_bits]
        if not fit:
            raise UsageError(f"system {spec.name}: its memory bus of {spec.memory.bus_bits} "
                             f"bits is narrower than every AXI port the engine has "
                             f"({', '.join(map(str, choices))} bits); give -p data_bits")
        kw["data_bits"] = max(fit)
    set_here = {k: v for k, v in kw.items() if k not in given}
    units = kw.get("units", fields["units"].default)
    try:
        base = Params(**{**kw, "buf_m": 1, "buf_k": 1, "buf_n": units})
    except UsageError as exc:
        what = "its engines.count" if "units" in set_here else "the parameters"
        raise UsageError(f"system {spec.name} ({what}): {exc}") from None
    row = {"activations": base.a_words * base.word_bytes,
           "weights": base.w_words * base.word_bytes,
           "outputs": base.o_words * base.word_bytes}
    rooms = {}
    for op in OPERANDS:
        held = spec.holders(op)
        if not held:
            raise UsageError(f"system {spec.name}: no on-chip level holds {op}; an engine "
                             f"buffers activations, weights and outputs")
        lv = held[0]
        rooms[op] = (lv.name, lv.total_bytes / sum(o in lv.holds for o in OPERANDS))
    fixed = {k: given[k] for k in ("buf_m", "buf_n", "buf_k") if k in given}
    lim = {k: int(declared_bound(fields[k].metadata["hi"], Params))
           for k in ("buf_m", "buf_n", "buf_k")}
    U = base.units
    best = None
    for bm in ([fixed["buf_m"]] if "buf_m" in fixed else range(1, lim["buf_m"] + 1)):
        for bn in ([fixed["buf_n"]] if "buf_n" in fixed else
                   range(U, lim["buf_n"] + 1, U)):
            # two banks of each: bm x bk activation rows, bn x bk weight rows, bm x bn outputs
            if 2 * bm * bn * row["outputs"] > rooms["outputs"][1]:
                continue
            bk = min(lim["buf_k"], int(rooms["activations"][1] // (2 * bm * row["activations"])),
                     int(rooms["weights"][1] // (2 * bn * row["weights"])))
            if "buf_k" in fixed:
                bk = fixed["buf_k"] if fixed["buf_k"] <= bk else 0
            if bk < 1:
                continue
            per_mac = (row["activations"] / (base.tile_m * base.tile_k * bn * base.tile_n)
                       + row["weights"] / (base.tile_n * base.tile_k * bm * base.tile_m))
            key = (per_mac, -bk, -bm * bn)
            if best is None or key < best[0]:
                best = (key, bm, bn, bk)
    if best is None:
        need = {op: 2 * row[op] * (U if op != "activations" else 1) for op in OPERANDS}
        raise UsageError(
            f"system {spec.name}: the engine's smallest buffers do not fit its levels: "
            + "; ".join(f"{op} need {need[op]:,} bytes, {rooms[op][0]} gives "
                        f"{rooms[op][1]:,.0f}" for op in OPERANDS))
    _, bm, bn, bk = best
    for k, v in (("buf_m", bm), ("buf_n", bn), ("buf_k", bk)):
        if k not in given:
            set_here[k] = v
    used = {"activations": 2 * bm * bk * row["activations"],
            "weights": 2 * bn * bk * row["weights"],
            "outputs": 2 * bm * bn * row["outputs"]}
    clock = spec.clock
    latency = math.ceil(spec.memory.latency * clock - 1e-9) if spec.memory.latency else None
    per_cycle = spec.memory.bandwidth * spec.memory.efficiency / clock
    interval = max(1, math.ceil(base.word_bytes / per_cycle - 1e-9))
    return SystemSizing(system=spec.name, params=set_here, rooms=rooms, used=used,
                        latency=latency, interval=interval)

