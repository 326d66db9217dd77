"""The per-unit cycle formula of the GEMM-tile designs: one formula, three users (the RTL
cycle test, the system model, the sweeps).

It restates ``tokenfab.hw.common.sequencer.TileSequencer``'s contract: beats are accepted back to
back, each takes ``cycles_per_tile`` step cycles, and the last output is handed over one
cycle after the final step.
"""
from __future__ import annotations

import math

import simpy

OUTPUT_LATENCY = 1   # final step -> output register -> handshake


def sequence_cycles(n_tiles: int, cycles_per_tile: int) -> int:
    """Cycles from the first input handshake to the last output handshake."""
    if n_tiles <= 0:
        return 0
    return n_tiles * cycles_per_tile + OUTPUT_LATENCY


def gemm_tiles(m_rows: int, n_cols: int, k_depth: int, m: int, n: int, k: int) -> int:
    """Tiles of an ``m_rows x n_cols x k_depth`` GEMM on an ``m x n x k`` unit (padded)."""
    return math.ceil(m_rows / m) * math.ceil(n_cols / n) * math.ceil(k_depth / k)


def simulate_sequence(lasts: list[bool], cycles_per_tile: int) -> int:
    """The same figure from a SimPy process per beat: each beat holds the unit for
    ``cycles_per_tile`` cycles; a ``last`` beat's output is handed over one cycle after.
    Kept separate from :func:`sequence_cycles` so the unit test checks the system model's
    mechanism, not only the formula."""
    env = simpy.Environment()
    unit = simpy.Resource(env, capacity=1)
    handovers = []

    def beat(is_last):
        with unit.request() as req:
            yield req
            yield env.timeout(cycles_per_tile)
        if is_last:
            yield env.timeout(OUTPUT_LATENCY)
            handovers.append(env.now)

    for is_last in lasts:
        env.process(beat(is_last))
    env.run()
    return max(handovers) if handovers else 0


def tile_gemm(M: int, K: int, N: int, tile: tuple[int, int, int], cycles_per_tile: int) -> dict:
    """``A[M, K] @ B[K, N]`` on one unit of ``tile`` = (m, n, k): every output tile's K
    chunks back to back (zero-padded), the unit's own cycles (``sequence_cycles``)."""
    from tokenfab.errors import UsageError
    for name, v in (("M", M), ("K", K), ("N", N)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise UsageError(f"GEMM dimension {name} must be a positive integer, not {v!r}")
    m, n, k = tile
    tiles = gemm_tiles(M, N, K, m, n, k)
    cycles = sequence_cycles(tiles, cycles_per_tile)
    return {"cycles": cycles, "rtl_cycles": cycles,
            "folds": math.ceil(M / m) * math.ceil(N / n),
            "utilization": M * N * K / (cycles * m * n * k / cycles_per_tile),
            "mapping_efficiency": M * N * K / (tiles * m * n * k)}
