"""Cycles of the TeLLMe engine from start to done: the shared schedule and AXI contracts
(``arch_models/common/engine.py``) with this engine's compute (``hw/tellme_engine/top.py``)."""
from __future__ import annotations

import functools
import math

from tokenfab.arch_models.common import engine as common
from tokenfab.hw.tellme_engine.params import Params


def compute_cycles(p: Params, mt: int, nt: int, kt: int) -> int:
    """``B + 4`` for ``B = mt kt ceil(nt / units)`` beats fed back to back (one a cycle,
    the TLMM's contract): a priming read, the beats, the last beat's step and output
    register, and the write of its sums."""
    return mt * kt * math.ceil(nt / p.units) + 4


def outputs(p: Params, mt: int, nt: int, kt: int, kb: int) -> tuple[int, int]:
    """Partial-sum tiles each unit writes into its output buffer in a step (one per beat)
    and how many of them it adds to what it read (all but a row's first chunk in the
    first K block)."""
    beats = mt * kt * math.ceil(nt / p.units)
    return beats, beats - (mt * math.ceil(nt / p.units) if kb == 0 else 0)


def engine_cycles(p: Params, L, mapping: dict, **memory) -> float:
    """Cycles from start to done of layer ``L`` under ``mapping`` (``common.engine_cycles``)."""
    return common.engine_cycles(p, L, mapping, functools.partial(compute_cycles, p),
                                **memory)


def best_mapping(p: Params, L, **memory) -> dict:
    """The engine's mapper (``common.best_mapping``) with this engine's compute."""
    return common.best_mapping(p, L, functools.partial(compute_cycles, p), **memory)
