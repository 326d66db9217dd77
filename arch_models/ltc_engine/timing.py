"""Cycles of the LUT Tensor Core engine from start to done: the shared schedule and AXI
contracts (``arch_models/common/engine.py``) with this engine's compute
(``hw/ltc_engine/top.py``)."""
from __future__ import annotations

import functools
import math

from tokenfab.arch_models.common import engine as common
from tokenfab.hw.ltc_engine.params import Params


def compute_cycles(p: Params, mt: int, nt: int, kt: int) -> int:
    """``T (kt w + 3)`` for ``T`` tiles (row blocks x groups of ``units`` column blocks)
    of ``kt`` beats of ``w = weight_bits`` cycles each, plus a priming read, the unit's
    output register and the accumulate (``TileSequencer``'s contract)."""
    return mt * math.ceil(nt / p.units) * (kt * p.weight_bits + 3)


def outputs(p: Params, mt: int, nt: int, kt: int, kb: int) -> tuple[int, int]:
    """Partial-sum tiles each unit writes into its output buffer in a step (one per tile)
    and how many of them it adds to what it read (all but in the first K block)."""
    tiles = mt * math.ceil(nt / p.units)
    return tiles, tiles * (kb > 0)


def engine_cycles(p: Params, L, mapping: dict, **memory) -> float:
    """Cycles from start to done of layer ``L`` under ``mapping`` (``common.engine_cycles``)."""
    return common.engine_cycles(p, L, mapping, functools.partial(compute_cycles, p),
                                **memory)


def best_mapping(p: Params, L, **memory) -> dict:
    """The engine's mapper (``common.best_mapping``) with this engine's compute."""
    return common.best_mapping(p, L, functools.partial(compute_cycles, p), **memory)
