"""The mapper: a GEMM ``A[M, K] x W[K, N] -> O[M, N]`` onto an on-chip hierarchy.

For each on-chip level (outermost first) it chooses the tile the level holds and the order
in which its parent level walks those tiles; the unit's own tile and dataflow are the
innermost level, and the units side by side split M and N (one divisor per octave of
their count along M). Capacity is enforced with double buffering counted: a level that
double buffers gives a streamed operand twice its tile; an operand whose tile is the
whole operand takes one buffer (there is no next tile to prefetch). Activations and
outputs stay on chip between operations when one level holds both and they take at most
3/4 of it, as a fused pipeline keeps them (their DRAM traffic is then zero); otherwise
they stream through DRAM.

Levels keeping disjoint operands side by side (a weight, an input and an output SRAM; a
register file of accumulators beside shared memory) are tried both as one tier sharing a
tile and nested in every order, each bypassed by the operands it does not keep
(``arrangements``); the best arrangement is kept.

Traffic follows the loop-nest reasoning of Timeloop (Parashar et al., ISPASS 2019) and
ZigZag: with every loop above a level flattened outermost-first, the tile of operand X
at that level is refetched once per iteration of the loops outside the innermost loop
that indexes X and iterates more than once; the loops inside it that do not index X
reuse the tile. Tile counts are exact at ragged edges. Outputs revisited across a split
K are drained as partial sums and read back. Each boundary's bytes give the level's
reads, writes, fills and drains. Given ZigZag's own mappings these counts equal ZigZag's
(tests/test_peers.py); one thing ZigZag can express that this cannot is a different
tile per operand in one buffer.

The search covers per level every tile size (the unit's tile times powers of two,
balanced splits of the extent, the whole extent) with each of the six loop orders:
first outside-in, each level scored with the unit right below it, then two passes of
coordinate descent on the whole nest's exact score. ``objective="latency"`` (default)
minimises the slowest of the compute and each level's transfer time, then bytes moved
(an on-chip byte 1, a DRAM byte 64); ``objective="energy"`` minimises those weighted
bytes; ``objective="edp"`` their product with that latency.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np

from tokenfab.errors import UsageError

DIMS = "mkn"
RELEVANT = {"activations": "mk", "weights": "kn", "outputs": "mn"}
ORDERS = tuple("".join(p) for p in itertools.permutations(DIMS))
DRAM = "dram"
# Tie-break weight of a byte moved at DRAM against one moved on chip: the cost library's
# DRAM energy per byte is 10-100x an SRAM access's (tech.json); only used to rank
# mappings of equal latency (or as the energy objective's proxy), never priced.
DRAM_WEIGHT = 64.0


@dataclasses.dataclass(frozen=True)
class LevelSpec:
    """An on-chip level as the mapper sees it (hashable, for the cache)."""
    name: str
    capacity: float            # bytes, all instances together
    holds: frozenset
    double_buffered: bool
    bytes_per_s: float         # all ports of all instances


@dataclasses.dataclass(frozen=True)
class Problem:
    m: int
    k: int
    n: int
    count: int                 # independent GEMMs of this shape (experts)
    elem_bytes: tuple          # (activations, weights, outputs) bytes per element
    psum_bytes: float
    resident_ok: bool          # activations may stay on chip between operations

    def size(self, operand: str) -> float:
        d = {"activations": self.m * self.k, "weights": self.k * self.n,
             "outputs": self.m * self.n}[operand]
        return float(d)

    def bytes_of(self, operand: str) -> float:
        a, w, o = self.elem_bytes
        return {"activations": a, "weights": w, "outputs": o}[operand]


@dataclasses.dataclass(frozen=True)
class LevelMapping:
    level: str
    tile: tuple                # (m, k, n) this level holds (all instances)
    order: str                 # how the parent walks this level's tiles, outermost first
    footprint: float           # bytes it takes, double buffers counted


@dataclasses.dataclass(frozen=True)
class Mapping:
    """Tiles per level (outermost first; ``unit`` last) and, per level, the bytes read,
    written, filled and drained for one GEMM times ``count``."""
    levels: tuple
    traffic: dict              # level -> {"reads", "writes", "fills", "drains"} bytes
    dram_bytes: float          # reads + writes at DRAM
    resident: tuple            # operands kept on chip between operations
    boundary_s: dict           # level -> seconds its port needs for this GEMM
    score: tuple = ()          # (objective, weighted bytes) the search minimised
    outer_tiles: int = 1       # tiles of the outermost on-chip level (its DRAM fills)

    def describe(self) -> str:
        parts = []
        for lm in self.levels:
            m, k, n = lm.tile
            parts.append(f"{lm.level} {m}x{k}x{n} ({lm.order})")
        return "; ".join(parts)


def _candidates(extent: int, unit: int) -> np.ndarray:
    """Tile sizes for one dimension: the unit's times powers of two, the extent split in
    2, 4, 8, ... balanced parts rounded up to the unit (for extents such as 11,008 or
    32,000 that powers of two cut raggedly), and the whole extent."""
    vals = {min(extent, unit)}
    t = unit
    while t < extent:
        vals.add(t)
        t *= 2
    parts = 2
    while -(-extent // parts) > unit:
        vals.add(-(-(-(-extent // parts)) // unit) * unit)
        parts *= 2
    vals.add(extent)
    return np.array(sorted(v for v in vals if v <= extent), dtype=np.int64)


def _exact_tiles(extent: int, tiles_d: list):
    """How many tiles of the last size in ``tiles_d`` cover ``extent`` when it is split
    level by level (each level's tiles cut into the next's, ragged remainders kept)."""
    chunks = [(1, extent)]
    for t in tiles_d:
        nxt = []
        for count, size in chunks:
            nxt.append((count * (size // t), t))
            rem = size % t
            nxt.append((count * (rem > 0), rem))
        chunks = nxt
    return sum(c for c, _ in chunks)


def _fetch_mult(loops, tiles, full, operand: str, memo: dict | None = None):
    """Refetch multiplier of ``operand`` under the flattened ``loops`` ((dim, level)
    outermost first; level i walks ``tiles[i]``): the product of the trips of the loops
    that do not index it and run outside its innermost relevant loop that iterates more
    than once. A loop's trips are the exact count of its level's tiles over the count at
    the level above (an average at ragged edges), so the product is exact per dimension."""
    rel = RELEVANT[operand]
    seen = dict.fromkeys(DIMS, 1)
    trips = []
    memo = {} if memo is None else memo     # (dim, level) -> tiles; shared per nest
    for d, lvl in loops:
        i = DIMS.index(d)
        count = memo.get((i, lvl))
        if count is None:
            count = memo[(i, lvl)] = _exact_tiles(full[i], [t[i] for t in tiles[:lvl + 1]])
        trips.append((d, count / seen[d]))
        seen[d] = count
    mult, found = 1, False
    for d, t in reversed(trips):
        if d in rel:
            found = np.logical_or(found, np.asarray(t) > 1)
        else:
            mult = mult * np.where(found, t, 1)
    return mult


def _traffic_for(problem: Problem, loops, operand: str, tiles=None, memo=None):
    """Bytes into a level holding ``operand`` (fills) and out of it (drains) given the
    flattened loops above it and the tiles they walk."""
    size = problem.size(operand)
    b = problem.bytes_of(operand)
    mult = _fetch_mult(loops, tiles, (problem.m, problem.k, problem.n), operand, memo)
    if operand != "outputs":
        return size * b * mult, 0.0
    # each extra visit of an output tile drains a partial sum and reads it back
    extra = mult - 1
    drains = size * b + size * problem.psum_bytes * extra
    fills = size * problem.psum_bytes * extra
    return fills, drains


def _loops_above(orders):
    """Flattened loops of ``orders`` (outermost level first): (dim, index of the level
    whose tiles the loop walks), outermost first."""
    return [(d, lvl) for lvl, order in enumerate(orders) for d in order]


def _footprint(problem, tile, level: LevelSpec, resident):
    full = (problem.m, problem.k, problem.n)
    total = 0
    for op in ("activations", "weights", "outputs"):
        if op not in level.holds:
            continue
        if op in resident:
            total = total + problem.size(op) * problem.bytes_of(op)
            continue
        elems = 1
        whole = True
        for d in RELEVANT[op]:
            i = DIMS.index(d)
            elems = elems * tile[i]
            whole = np.logical_and(whole, np.asarray(tile[i]) >= full[i])
        b = problem.bytes_of(op) if op != "outputs" else max(problem.bytes_of(op),
                                                             problem.psum_bytes)
        # a second buffer prefetches the next tile; an operand held whole has none
        copies = np.where(whole, 1, 2) if level.double_buffered else 1
        total = total + elems * b * copies
    return total


def _resident(problem: Problem, levels: tuple) -> tuple:
    """Activations and outputs kept whole between operations in the outermost level
    holding activations, when that level holds outputs too (one operation's outputs are
    the next one's activations) and both take at most 3/4 of it (the rest for streamed
    weight tiles). Separate input and output buffers keep nothing: each operation reads
    its input from DRAM."""
    if not problem.resident_ok:
        return ()
    holders = [lv for lv in levels if "activations" in lv.holds]
    if not holders or "outputs" not in holders[-1].holds:
        return ()
    need = sum(problem.size(op) * problem.bytes_of(op) for op in ("activations", "outputs"))
    return ("activations", "outputs") if need <= 0.75 * holders[-1].capacity else ()


def tiers(levels: tuple) -> list:
    """Levels grouped innermost first: consecutive levels keeping disjoint operands are
    one tier (partitions of one buffer level, as a weight, an input and an output SRAM
    side by side, or a register file of accumulators beside shared memory); a tier has
    one tile and one loop order."""
    out: list = []
    for lv in levels:
        if out and not (set().union(*(x.holds for x in out[-1])) & lv.holds):
            out[-1].append(lv)
        else:
            out.append([lv])
    return [tuple(t) for t in out]


class _Nest:
    """The flattened loop nest of a mapping and its traffic, for arrays of candidates."""

    def __init__(self, problem, tier_list, unit, unit_order, resident, bws, weights):
        self.p, self.tiers, self.unit, self.unit_order = problem, tier_list, unit, unit_order
        self.resident, self.bws, self.weights = resident, bws, weights
        self.full = (problem.m, problem.k, problem.n)
        self.ops = ("activations", "weights", "outputs")

    def holder(self, ti: int, op: str):
        """The level of tier ``ti`` keeping ``op`` (None: none does)."""
        return next((lv for lv in self.tiers[ti] if op in lv.holds), None)

    def source(self, ti: int, op: str) -> int:
        """Index of the next tier outside ``ti`` keeping ``op`` (len(tiers): DRAM)."""
        for j in range(ti + 1, len(self.tiers)):
            if self.holder(j, op) is not None:
                return j
        return len(self.tiers)

    def traffic(self, tiles, orders):
        """``tiles``/``orders``: outermost tier first, the unit last. Returns
        {(tier index or DRAM index, level name): [reads, writes, fills, drains]}."""
        n_t = len(self.tiers)
        out: dict = {}
        memo: dict = {}          # tile counts depend only on (dim, level) here

        def add(key, i, v):
            cell = out.setdefault(key, [0.0, 0.0, 0.0, 0.0])
            cell[i] = cell[i] + v

        for op in self.ops:
            for ti in list(range(n_t)) + [None]:
                if ti is None:                     # the unit reads its innermost holder
                    pos = n_t
                    s = next((j for j in range(n_t) if self.holder(j, op) is not None), n_t)
                    here = None
                else:
                    here = self.holder(ti, op)
                    if here is None:
                        continue
                    pos = n_t - 1 - ti
                    s = self.source(ti, op)
                if op in self.resident and s == n_t:
                    continue
                loops = _loops_above(orders[:pos + 1])
                fills, drains = _traffic_for(self.p, loops, op, tiles[:pos + 1], memo)
                if here is not None:
                    add((ti, here.name), 2, fills)
                    add((ti, here.name), 3, drains)
                    add((ti, here.name), 1, fills)       # a fill is a write here
                    add((ti, here.name), 0, drains)      # a drain is a read here
                src = (s, self.holder(s, op).name) if s < n_t else (n_t, DRAM)
                add(src, 0, fills)
                add(src, 1, drains)
        return out

    def score(self, tiles, orders, compute_s, objective, shape, traffic=None):
        t = self.traffic(tiles, orders) if traffic is None else traffic
        lat = np.full(shape, float(compute_s))
        cost = np.zeros(shape)
        per_level: dict = {}
        for (ti, name), (r, w, _, _) in t.items():
            per_level[ti] = per_level.get(ti, 0.0) + r + w
            cost = cost + np.asarray(r + w, dtype=float) * self.weights[ti]
        for ti, moved in per_level.items():
            lat = np.maximum(lat, np.asarray(moved, dtype=float) / self.bws[ti])
        if objective == "energy":
            return cost, cost
        if objective == "edp":
            return lat * cost, cost
        return lat, cost


def _pick(primary, cost, ok):
    primary = np.where(ok, primary, np.inf)
    near = primary <= primary.min() * (1 + 1e-9)
    i = int(np.argmin(np.where(near, cost, np.inf)))
    return i, (float(primary[i]), float(cost[i]))


def spatial_splits(units: int, m_tiles: int) -> list[tuple[int, int]]:
    """(units along M, units along N) for ``units`` side by side: per octave the largest
    divisor of ``units`` along M that the GEMM's ``m_tiles`` unit rows can use (1, 2,
    3-4, 5-8, ...: 432 tensor cores give 1, 2, 4, 8, 16, 27, 54, 108)."""
    divisors = [d for d in range(1, units + 1)
                if units % d == 0 and d <= max(1, m_tiles)]
    picks, octave = [], 1
    while octave <= (divisors[-1] if divisors else 1):
        below = [d for d in divisors if d <= octave]
        if below and below[-1] not in picks:
            picks.append(below[-1])
        octave *= 2
    if divisors and divisors[-1] not in picks:
        picks.append(divisors[-1])
    return [(d, units // d) for d in picks] or [(1, units)]


def map_gemm(problem: Problem, levels: tuple, unit_tile: tuple, unit_order: str,
             dram_bytes_per_s: float, compute_s: float, objective: str = "latency",
             units: int = 1) -> Mapping:
    """Map ``problem`` onto ``levels`` (innermost first, DRAM implied outside them).
    ``unit_tile`` (m, k, n) is one unit's, ``unit_order`` its dataflow; ``units`` of
    them work side by side, split over M and N as the mapper finds best (their operands
    broadcast to the units that share them). ``compute_s`` is one GEMM's compute time
    (latency objective)."""
    return _best(problem, tuple(levels), tuple(unit_tile), unit_order, dram_bytes_per_s,
                 compute_s, objective, units)


@functools.lru_cache(maxsize=4096)
def _best(problem, levels, unit_tile, unit_order, dram_bytes_per_s, compute_s, objective,
          units) -> Mapping:
    """``map_gemm``'s search, cached: every layer and decode step repeats its shapes."""
    m, k, n = unit_tile
    best = None
    for arrangement in arrangements(levels):
        for sm, sn in spatial_splits(units, -(-problem.m // m)):
            mp = _map(problem, arrangement, (m * sm, k, n * sn), unit_order,
                      dram_bytes_per_s, compute_s, objective)
            score = (mp.score, sm)
            if best is None or score < best[0]:
                best = (score, mp)
    return best[1]


def arrangements(levels: tuple) -> list:
    """The ways the hierarchy can be walked: levels keeping disjoint operands side by
    side either share one tile (one tier) or nest in any order, each bypassed by the
    operands it does not keep (a separate input SRAM may hold its whole operand while
    the weight SRAM beside it streams K chunks)."""
    options = [[]]
    for tier in tiers(levels):
        ways = [(tier,)]
        if len(tier) > 1:
            ways += [tuple((lv,) for lv in perm) for perm in itertools.permutations(tier)]
        options = [o + list(w) for o in options for w in ways]
    return [tuple(o) for o in options]


def _map(problem, tier_list, unit_tile, unit_order, dram_bw, compute_s, objective):
    """One arrangement (tiers innermost first) with one spatial split of the units."""
    full = (problem.m, problem.k, problem.n)
    unit = tuple(min(u, f) for u, f in zip(unit_tile, full))
    levels = tuple(lv for t in tier_list for lv in t)
    resident = _resident(problem, levels)
    n_t = len(tier_list)
    # a tier's port bandwidth: its levels' ports together
    bws = [sum(lv.bytes_per_s for lv in t) for t in tier_list] + [dram_bw]
    nest = _Nest(problem, tier_list, unit, unit_order, resident, bws,
                 [1.0] * n_t + [DRAM_WEIGHT])

    def feasible(ti, cand):
        # an array per candidate even where a level holds only resident operands (its
        # footprint is then one number)
        ok = np.ones(cand[0].shape, dtype=bool)
        for lv in tier_list[ti]:
            ok = ok & (_footprint(problem, cand, lv, resident) <= lv.capacity)
        return ok

    def grid(lo, hi):
        axes = []
        for i in range(3):
            c = _candidates(hi[i], unit[i])
            axes.append(c[c >= lo[i]] if (c >= lo[i]).any() else np.array([hi[i]]))
        g = np.meshgrid(*axes, indexing="ij")
        return tuple(x.ravel() for x in g)

    # 1. outside in: each tier's tile inside its parent's, inner tiers at the unit tile
    tiles = [full] * n_t + [unit]
    orders = ["mnk"] * n_t + [unit_order]
    for ti in range(n_t - 1, -1, -1):
        pos = n_t - 1 - ti
        for j in range(pos + 1, n_t):
            tiles[j] = unit
        tiles, orders = _improve(nest, tiles, orders, pos, ti, grid, feasible, compute_s,
                                 objective, first=True)
    # 2. coordinate descent on the whole nest's exact score, tier by tier
    for _ in range(2):
        for ti in range(n_t - 1, -1, -1):
            tiles, orders = _improve(nest, tiles, orders, n_t - 1 - ti, ti, grid, feasible,
                                     compute_s, objective, first=False)

    t = nest.traffic(tiles, orders)
    primary, cost = nest.score(tiles, orders, compute_s, objective, (), traffic=t)
    traffic = {lv.name: dict.fromkeys(("reads", "writes", "fills", "drains"), 0.0)
               for lv in levels}
    traffic[DRAM] = dict.fromkeys(("reads", "writes", "fills", "drains"), 0.0)
    for (_, name), vals in t.items():
        for key, v in zip(("reads", "writes", "fills", "drains"), vals):
            traffic[name][key] += float(v) * problem.count
    dram = traffic[DRAM]["reads"] + traffic[DRAM]["writes"]
    boundary_s = {}
    for ti, tier in enumerate(tier_list):
        moved = sum(traffic[lv.name]["reads"] + traffic[lv.name]["writes"] for lv in tier)
        boundary_s["+".join(lv.name for lv in tier)] = moved / bws[ti]
    levels_out = tuple(
        LevelMapping("+".join(lv.name for lv in tier_list[n_t - 1 - j]) if j < n_t
                     else "unit", tiles[j], orders[j],
                     float(sum(_footprint(problem, tiles[j], lv, resident)
                               for lv in tier_list[n_t - 1 - j])) if j < n_t else 0.0)
        for j in range(n_t + 1))
    outer = 1
    if n_t:
        for i in range(3):
            outer *= _exact_tiles(full[i], [tiles[0][i]])
    return Mapping(levels_out, traffic, dram, resident, boundary_s,
                   (float(primary), float(cost)), int(outer))


def _improve(nest, tiles, orders, pos, ti, grid, feasible, compute_s, objective, first):
    """Tiers' tiles and orders with tier ``ti`` (at ``pos``) re-chosen over every
    candidate tile between its child's and its parent's and every order."""
    full = nest.full
    parent = tiles[pos - 1] if pos > 0 else full
    child = tiles[pos + 1]
    cand = grid(child, parent)
    ok = feasible(ti, cand)
    if not np.any(ok):
        lv = nest.tiers[ti]
        need = min(float(np.min(_footprint(nest.p, cand, x, nest.resident))) for x in lv)
        names = "+".join(x.name for x in lv)
        cap = sum(x.capacity for x in lv)
        raise UsageError(
            f"level {names} ({cap:.0f} bytes) cannot hold one tile of a "
            f"{nest.p.m}x{nest.p.k}x{nest.p.n} GEMM: the smallest "
            f"({int(cand[0][0])}x{int(cand[1][0])}x{int(cand[2][0])}"
            f"{', double-buffered' if any(x.double_buffered for x in lv) else ''}"
            f"{', beside the resident activations' if nest.resident else ''}) needs "
            f"{need:.0f} bytes")
    best = None
    # inner tiers not chosen yet (first pass): score the tiers from ``ti`` outward with
    # the unit right below ``ti``
    sub = _Nest(nest.p, nest.tiers[ti:], nest.unit, nest.unit_order, nest.resident,
                nest.bws[ti:], nest.weights[ti:]) if first else None
    for order in ORDERS:
        if first:
            primary, cost = sub.score(list(tiles[:pos]) + [cand, nest.unit],
                                      list(orders[:pos]) + [order, nest.unit_order],
                                      compute_s, objective, ok.shape)
        else:
            primary, cost = nest.score(tiles[:pos] + [cand] + tiles[pos + 1:],
                                       orders[:pos] + [order] + orders[pos + 1:],
                                       compute_s, objective, ok.shape)
        i, score = _pick(primary, cost, ok)
        if best is None or score < best[0]:
            best = (score, order, i)
    _, order, i = best
    tiles = tiles[:pos] + [tuple(int(c[i]) for c in cand)] + tiles[pos + 1:]
    orders = orders[:pos] + [order] + orders[pos + 1:]
    return tiles, orders


# ---------------------------------------------------------------- attention
BLOCK_KEYS = 64          # keys per streamed K/V block (FlashAttention-2's B_c for d <= 128)


@dataclasses.dataclass(frozen=True)
class AttentionMapping:
    """Fused attention (FlashAttention-2, Dao 2023) on the outermost level that holds
    activations: ``block_rows`` query rows (of the heads sharing one KV head) stay with
    their output accumulators and score block while the keys and values stream past in
    blocks of ``block_keys``; the K/V cache is read ``passes`` times (causal query
    blocks read the keys up to their last token only)."""
    level: str
    block_rows: int
    block_keys: int
    passes: float            # whole reads of the K/V cache (causal blocks read part of it)

    def describe(self) -> str:
        return (f"{self.level} attention {self.block_rows} query rows x {self.block_keys} "
                f"keys, K/V read {self.passes:.3g}x")


def map_attention(q_rows: int, kv_span: int, qk_dim: int, v_dim: int, act_bytes: float,
                  kv_bytes: float, acc_bytes: float, level: LevelSpec) -> AttentionMapping:
    """The largest query block ``level`` holds beside the streamed K/V blocks (two of
    each when it double-buffers) and the score block, and the passes over the K/V cache
    it takes: ``ceil(q_rows / block_rows)``. K/V blocks are ``BLOCK_KEYS`` keys, halved
    until a query row fits beside them; refused when not one row fits beside one key."""
    copies = 2 if level.double_buffered else 1
    keys = max(1, min(kv_span, BLOCK_KEYS))
    while True:
        kv_block = keys * (qk_dim + v_dim) * kv_bytes * copies
        per_row = qk_dim * act_bytes + v_dim * acc_bytes + keys * acc_bytes
        rows = int((level.capacity - kv_block) // per_row)
        if rows >= 1 or keys == 1:
            break
        keys = max(1, keys // 2)
    if rows < 1:
        raise UsageError(
            f"level {level.name} ({level.capacity:.0f} bytes) cannot hold one query row of "
            f"attention beside one key's K/V: {kv_block + per_row:.0f} bytes")
    rows = min(rows, q_rows)
    return AttentionMapping(level.name, rows, keys, -(-q_rows // rows))


def trivial_bytes(problem: Problem) -> float:
    """Every operand crossing DRAM exactly once (the lower bound of any mapping)."""
    return sum(problem.size(op) * problem.bytes_of(op) for op in RELEVANT) * problem.count


__all__ = ["LevelSpec", "Problem", "Mapping", "LevelMapping", "map_gemm", "trivial_bytes",
           "DRAM", "AttentionMapping", "map_attention"]
