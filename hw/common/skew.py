"""Pieces every systolic array here shares: enabled delay lines (the skew at the edges)
and the row-by-row drain of an output-stationary array's shadow registers."""
from __future__ import annotations

from amaranth.hdl import Module, Signal


def delay(m: Module, en, value, depth: int, name: str):
    """``value`` delayed by ``depth`` enabled cycles (``depth`` may be 0)."""
    for d in range(depth):
        reg = Signal.like(value, name=f"{name}_d{d}")
        with m.If(en):
            m.d.sync += reg.eq(value)
        value = reg
    return value


def drain_rows(m: Module, en, shadow, rows: int, start, o_valid, o_row) -> None:
    """After ``start`` (the cycle the fold's last result is written to ``shadow``), the
    ``rows`` rows of ``shadow`` leave on ``o_row`` one per enabled cycle."""
    draining = Signal()
    row = Signal(range(rows))
    with m.If(en):
        m.d.sync += o_valid.eq(draining), o_row.eq(shadow[row])
        with m.If(draining):
            m.d.sync += row.eq(row + 1)
            with m.If(row == rows - 1):
                m.d.sync += [draining.eq(0), row.eq(0)]
        with m.If(start):
            m.d.sync += [draining.eq(1), row.eq(0)]
