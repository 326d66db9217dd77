"""An R x C systolic array of multiply-accumulate PEs: output-, weight- or
input-stationary, with skewed operand feeding at the edges (SCALE-Sim's structure)."""
from __future__ import annotations

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from tokenfab.errors import UsageError
from tokenfab.hw.common.skew import delay, drain_rows, fold_gate, output_register
from tokenfab.hw.systolic_array.params import Params


def in_layout(p: Params) -> data.StructLayout:
    w = signed(p.operand_bits)
    return data.StructLayout({
        "a": data.ArrayLayout(w, p.rows),       # left edge: one value per row
        "b": data.ArrayLayout(w, p.cols),       # top edge: one value per column
        "load": unsigned(1),                    # ws/is: b is a row of the stationary block
        "last": unsigned(1),                    # the fold's final streamed beat
    })


def out_layout(p: Params) -> data.ArrayLayout:
    return data.ArrayLayout(signed(p.acc_bits), p.cols)


def _flags_layout(p: Params) -> data.StructLayout:
    return data.StructLayout({"a": signed(p.operand_bits), "valid": 1, "first": 1, "last": 1})


class SystolicArray(wiring.Component):
    """An R x C systolic array behind one input and one output ``lib.stream``.

    Each input beat is one step of a fold: ``a`` enters the left edge (row ``i`` delayed by
    ``i`` cycles) and, in the output-stationary array, ``b`` the top edge (column ``j``
    delayed by ``j``); operands move one PE per cycle, so PE ``(i, j)`` sees step ``t`` at
    ``t + i + j``. Folds run one after another as SCALE-Sim schedules them: after a
    fold's ``last`` beat the input is held off for ``R + C - 2`` cycles while the
    wavefront drains, so folds start ``beats + R + C - 2`` cycles apart.

    ``os``: a fold is K beats (A column, B row); each PE accumulates its output and, on
    the ``last`` step, copies it to a shadow register; the R rows of results leave on the
    output stream one per cycle while the next fold computes.

    ``ws`` / ``is``: a fold is R ``load`` beats, each shifting one row of the stationary
    block into the top of the array (bottom row first), then one beat per streamed
    vector; partial sums flow down, are deskewed at the bottom edge and leave as one
    output row per streamed vector.

    A full output register stalls the whole array (a global enable), so back-pressure
    never loses or reorders a result.

    Parameters
    ----------
    params : Params

    Members
    -------
    i_stream : In(stream.Signature(in_layout(params)))
    o_stream : Out(stream.Signature(out_layout(params)))
    """

    def __init__(self, params: Params):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a systolic_array Params, not {params!r}")
        self.params = params
        super().__init__({"i_stream": In(stream.Signature(in_layout(params))),
                          "o_stream": Out(stream.Signature(out_layout(params)))})

    def elaborate(self, platform):
        p = self.params
        R, C = p.rows, p.cols
        m = Module()

        en, o_valid, o_row = output_register(m, self.o_stream, out_layout(p))
        # Input: held off for R + C - 2 cycles after a fold's last beat.
        beat = self.i_stream.payload
        take = fold_gate(m, en, self.i_stream, R + C - 2, ~beat.load & beat.last)
        in_fold = Signal()
        bv = Signal()
        breg = Signal(in_layout(p))
        bfirst = Signal()
        with m.If(en):
            m.d.sync += [bv.eq(take), breg.eq(beat), bfirst.eq(~in_fold)]
            with m.If(take & ~beat.load):
                m.d.sync += in_fold.eq(~beat.last)

        # Left edge: row i's operand and flags, delayed by i.
        flags = _flags_layout(p)
        edge = []
        for i in range(R):
            f = Signal(flags, name=f"edge{i}")
            m.d.comb += [f.a.eq(breg.a[i]), f.valid.eq(bv & ~breg.load),
                         f.first.eq(bfirst), f.last.eq(breg.last)]
            edge.append(delay(m, en, f, i, f"row{i}"))
        # a_in[i][j]: what PE (i, j) sees this cycle; a_reg passes it right.
        a_in = [[None] * C for _ in range(R)]
        for i in range(R):
            a_in[i][0] = edge[i]
            for j in range(1, C):
                reg = Signal(flags, name=f"a_{i}_{j - 1}")
                with m.If(en):
                    m.d.sync += reg.eq(a_in[i][j - 1])
                a_in[i][j] = reg

        if p.dataflow == "os":
            self._output_stationary(m, en, breg, a_in, o_valid, o_row)
        else:
            self._stationary_operand(m, en, bv, breg, a_in, o_valid, o_row)
        return m

    def _output_stationary(self, m, en, breg, a_in, o_valid, o_row):
        p = self.params
        R, C = p.rows, p.cols
        w = signed(p.operand_bits)
        b_in = [[None] * C for _ in range(R)]
        for j in range(C):
            b_in[0][j] = delay(m, en, breg.b[j], j, f"col{j}")
            for i in range(1, R):
                reg = Signal(w, name=f"b_{i - 1}_{j}")
                with m.If(en):
                    m.d.sync += reg.eq(b_in[i - 1][j])
                b_in[i][j] = reg
        shadow = Signal(data.ArrayLayout(out_layout(p), R))
        for i in range(R):
            for j in range(C):
                acc = Signal(signed(p.acc_bits), name=f"acc_{i}_{j}")
                a = a_in[i][j]
                total = Signal(signed(p.acc_bits), name=f"sum_{i}_{j}")
                prod = a.a * b_in[i][j]
                m.d.comb += total.eq(acc + prod)
                with m.If(a.first):
                    m.d.comb += total.eq(prod)
                with m.If(en & a.valid):
                    m.d.sync += acc.eq(total)
                    with m.If(a.last):
                        m.d.sync += shadow[i][j].eq(total)
        # Drain: the fold is done when its last step reaches PE (R-1, C-1); the R rows
        # then leave one per cycle from the shadow registers.
        done = a_in[R - 1][C - 1]
        drain_rows(m, en, shadow, R, done.valid & done.last, o_valid, o_row)

    def _stationary_operand(self, m, en, bv, breg, a_in, o_valid, o_row):
        p = self.params
        R, C = p.rows, p.cols
        w = signed(p.operand_bits)
        stat = [[Signal(w, name=f"w_{i}_{j}") for j in range(C)] for i in range(R)]
        with m.If(en & bv & breg.load):
            for j in range(C):
                m.d.sync += stat[0][j].eq(breg.b[j])
                for i in range(1, R):
                    m.d.sync += stat[i][j].eq(stat[i - 1][j])
        psum = [[Signal(signed(p.acc_bits), name=f"ps_{i}_{j}") for j in range(C)]
                for i in range(R)]
        for i in range(R):
            for j in range(C):
                above = psum[i - 1][j] if i else 0
                with m.If(en):
                    m.d.sync += psum[i][j].eq(above + a_in[i][j].a * stat[i][j])
        # The bottom edge: column j is ready C - 1 - j cycles before column C - 1.
        out_valid = Signal()
        with m.If(en):
            m.d.sync += out_valid.eq(a_in[R - 1][C - 1].valid)
        bottom = Signal(out_layout(p))
        for j in range(C):
            m.d.comb += bottom[j].eq(delay(m, en, psum[R - 1][j], C - 1 - j, f"deskew{j}"))
        with m.If(en):
            m.d.sync += [o_valid.eq(out_valid), o_row.eq(bottom)]


def top(params: Params) -> SystolicArray:
    if params.dtype == "fp16":
        raise UsageError("dtype 'fp16' is modelled in the timing and cost levels only; "
                         "the systolic-array RTL takes int4, int8 or int16")
    return SystolicArray(params)
