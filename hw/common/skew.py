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


def output_register(m: Module, o_stream, layout):
    """The output register and the array's global enable: a result that cannot leave
    freezes everything. Returns ``(en, o_valid, o_row)``."""
    o_valid = Signal()
    o_row = Signal(layout)
    en = Signal()
    m.d.comb += [en.eq(~o_valid | o_stream.ready),
                 o_stream.valid.eq(o_valid), o_stream.payload.eq(o_row)]
    return en, o_valid, o_row


def fold_gate(m: Module, en, i_stream, span: int, fold_end):
    """The input is held off for ``span`` cycles after a beat where ``fold_end`` (a
    function of the payload) holds: SCALE-Sim's gap between folds. Returns ``take``
    (a beat moves this cycle)."""
    gap = Signal(range(span + 1))
    take = Signal()
    m.d.comb += [i_stream.ready.eq(en & (gap == 0)), take.eq(i_stream.valid & i_stream.ready)]
    with m.If(en):
        with m.If(take & fold_end):
            m.d.sync += gap.eq(span)
        with m.Elif(gap != 0):
            m.d.sync += gap.eq(gap - 1)
    return take
