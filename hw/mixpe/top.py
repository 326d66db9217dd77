"""MixPE: an output-stationary systolic array of shift-and-add PEs (INT4 weights x INT8 or
FP16 activations) with dequantisation once per quantisation group.

Each input beat is one step of a fold, fed exactly as the systolic array feeds its
output-stationary dataflow (``tokenfab.hw.systolic_array``): activations enter the left
edge (row ``i`` delayed by ``i``), weights the top edge (column ``j`` delayed by ``j``),
and after a fold's last beat the input is held off for ``R + C - 2`` cycles, SCALE-Sim's
schedule. A fold is a sequence of groups; a group is the beats of ``G`` products ending
with a ``glast`` beat that also carries the group's FP16 scales and INT4 zero points.

PE (bit-parallel): four bit-plane accumulators ``S_i += q_i ? a : 0`` (AND-gated adds,
no multiplier); at the group's last step ``P = S_0 + 2 S_1 + 4 S_2 + 8 S_3`` (the shifts
once per group). PE (bit-serial): one accumulator, one weight bit-plane per beat, MSB
plane first; the accumulator doubles at the first beat of each later plane (Horner), so
``P`` is the same sum after four passes over the group.

Dequantisation, one cycle after a group's last step: ``y += s * (P - z * sum(a))``, the
FP16 scale times the exact integer rounded once to FP32, then an FP32 add (both RNE;
``tokenfab.hw.common.fp``); ``sum(a)`` of each row's group is formed once at the left
edge. ``dequant = pe`` puts a unit in every PE (the row sums travel with the
activations, scales and zero points with the weights); ``dequant = edge`` puts one per
column below the array, fed by a chain along the bottom edge that carries each row's
sum as its group ends, so a column's unit takes one row per cycle.

W4A16: the activation feeder supplies each row's group exponent ``emax`` (the largest
FP16 exponent of the group, as a block-floating-point activation buffer stores it); the
left edge aligns every FP16 activation to it, keeping 11 + 4 guard bits and truncating,
and the dequant unit scales the group's sum back by ``2**emax``.

The fold's FP32 results are copied to shadow registers and leave one row per cycle.
A full output register stalls the whole array.

Each PE is one module (``<top>_pe``), generated once and instantiated R x C times, so the
Verilog of the authors' 64 x 64 array stays small and Verilator compiles one PE.
"""
from __future__ import annotations

from amaranth.hdl import (Array, Cat, ClockSignal, Instance, Module, Mux, ResetSignal,
                          Signal, signed, unsigned)
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from tokenfab.hw.common import fp
from tokenfab.hw.common.skew import delay, drain_rows, fold_gate, output_register
from tokenfab.hw.mixpe.params import ALIGN_GUARD_BITS, WEIGHT_BITS, Params


def in_layout(p: Params) -> data.StructLayout:
    act = signed(8) if p.mode == "w4a8" else unsigned(16)
    fields = {"a": data.ArrayLayout(data.ArrayLayout(act, p.L), p.R)}
    if p.mode == "w4a16":
        fields["emax"] = data.ArrayLayout(unsigned(5), p.R)
    fields["q"] = data.ArrayLayout(data.ArrayLayout(_q_shape(p), p.L), p.C)
    if p.pe == "serial":
        fields["plane"] = unsigned(2)
    fields.update({"s": data.ArrayLayout(unsigned(16), p.C),
                   "z": data.ArrayLayout(unsigned(WEIGHT_BITS), p.C),
                   "glast": unsigned(1), "last": unsigned(1)})
    return data.StructLayout(fields)


def _q_shape(p: Params):
    return unsigned(1 if p.pe == "serial" else WEIGHT_BITS)


def out_layout(p: Params) -> data.ArrayLayout:
    return data.ArrayLayout(unsigned(32), p.C)


def _row_layout(p: Params, with_sum: bool) -> data.StructLayout:
    """What travels right along a row with each activation."""
    fields = {"a": data.ArrayLayout(signed(p.act_bits), p.L), "valid": 1, "first": 1, "dbl": 1, "glast": 1,
              "last": 1}
    if with_sum:
        fields.update({"sum": signed(p.psum_bits), "emax": unsigned(5)})
    return data.StructLayout(fields)


def _col_layout(p: Params, with_scale: bool) -> data.StructLayout:
    """What travels down a column with each weight."""
    fields = {"q": data.ArrayLayout(_q_shape(p), p.L)}
    if with_scale:
        fields.update({"s": unsigned(16), "z": unsigned(WEIGHT_BITS)})
    return data.StructLayout(fields)


def _deq_layout(p: Params) -> data.StructLayout:
    """A group's result on its way to a dequant unit."""
    return data.StructLayout({"valid": 1, "last": 1, "row": unsigned(max(1, (p.R - 1)
                                                                            .bit_length())),
                              "sum": signed(p.psum_bits), "emax": unsigned(5)})


def _dequant(p: Params, m, P, total, emax, s, z, name):
    """FP32 of ``s * (P - z * total)`` (times ``2**(emax - 29)`` for W4A16)."""
    d = Signal(signed(p.dsum_bits), name=f"{name}_d")
    m.d.comb += d.eq(P - z * total)
    sign, eff, sig = fp.fp16_fields(m, s, f"{name}_s")
    val = Signal(signed(p.dsum_bits + 1), name=f"{name}_v")
    m.d.comb += val.eq(Mux(sign, -d, d))
    off = Signal(signed(8), name=f"{name}_off")
    # s = sig * 2**(eff - 25); an aligned W4A16 activation is v * 2**(emax - 29).
    m.d.comb += off.eq(eff - 25 if p.mode == "w4a8"
                       else eff + emax - 25 - 25 - ALIGN_GUARD_BITS)
    return fp.scaled_int_to_fp32(m, val, sig, off, f"{name}_prod")


class MixPECell(wiring.Component):
    """One PE. ``x`` arrives from the left and leaves registered on ``x_out``, ``w`` from
    above and leaves on ``w_out``; ``p`` is the last group's integer sum. With
    ``dequant = pe`` the PE also dequantises and accumulates: ``shadow`` holds the
    fold's FP32 result and ``done`` marks the cycle the fold's last group is added.

    Members
    -------
    en : In(1)
    x : In(row layout);  x_out : Out(row layout)
    w : In(column layout);  w_out : Out(column layout)
    p : Out(signed(psum_bits))
    shadow : Out(32);  done : Out(1)     (dequant = pe only)
    """

    def __init__(self, params: Params):
        self.params = p = params
        in_pe = p.dequant == "pe"
        members = {"en": In(1), "x": In(_row_layout(p, in_pe)),
                   "w": In(_col_layout(p, in_pe)), "x_out": Out(_row_layout(p, in_pe)),
                   "w_out": Out(_col_layout(p, in_pe)), "p": Out(signed(p.psum_bits))}
        if in_pe:
            members.update({"shadow": Out(32), "done": Out(1)})
        super().__init__(members)

    def elaborate(self, platform):
        p = self.params
        m = Module()
        en, x, w = self.en, self.x, self.w
        with m.If(en):
            m.d.sync += [self.x_out.eq(x), self.w_out.eq(w)]
        final = self._group_sum(m, en, x, w.q)
        with m.If(en & x.valid & x.glast):
            m.d.sync += self.p.eq(final)
        if p.dequant == "pe":
            self._dequantise(m, en, x, w)
        return m

    def _group_sum(self, m, en, x, q):
        """The group's sum P including this step (combinational)."""
        p = self.params
        if p.pe == "parallel":
            nxt = []
            for b in range(WEIGHT_BITS):
                s = Signal(signed(p.plane_bits), name=f"s{b}")
                t = Signal(signed(p.plane_bits), name=f"s{b}_next")
                gated = sum(Mux(q[ln][b], x.a[ln], 0) for ln in range(p.L))
                m.d.comb += t.eq(Mux(x.first, 0, s) + gated)
                with m.If(en & x.valid):
                    m.d.sync += s.eq(t)
                nxt.append(t)
            final = Signal(signed(p.psum_bits), name="final")
            m.d.comb += final.eq(nxt[0] + (nxt[1] << 1) + (nxt[2] << 2) + (nxt[3] << 3))
            return final
        acc = Signal(signed(p.psum_bits), name="acc")
        final = Signal(signed(p.psum_bits), name="final")
        add = sum(Mux(q[ln][0], x.a[ln], 0) for ln in range(p.L))
        with m.If(x.first):
            m.d.comb += final.eq(add)
        with m.Elif(x.dbl):
            m.d.comb += final.eq((acc << 1) + add)
        with m.Else():
            m.d.comb += final.eq(acc + add)
        with m.If(en & x.valid):
            m.d.sync += acc.eq(final)
        return final

    def _dequantise(self, m, en, x, w):
        """The group's row sum, exponent, scale and zero point are latched with P; the
        next cycle y = prod (a fold's first group) or y + prod, and the fold's last value
        goes to the shadow register."""
        p = self.params
        pv, plast = Signal(), Signal()
        hold = Signal(data.StructLayout({"sum": signed(p.psum_bits), "emax": unsigned(5),
                                         "s": unsigned(16), "z": unsigned(WEIGHT_BITS)}))
        with m.If(en):
            m.d.sync += [pv.eq(x.valid & x.glast), plast.eq(x.last)]
            with m.If(x.valid & x.glast):
                m.d.sync += [hold.sum.eq(x.sum), hold.emax.eq(x.emax), hold.s.eq(w.s),
                             hold.z.eq(w.z)]
        prod = _dequant(p, m, self.p, hold.sum, hold.emax, hold.s, hold.z, "dq")
        y = Signal(32)
        fresh = Signal(init=1)
        total = fp.fp32_add(m, y, prod, "dq_add")
        new = Signal(32)
        m.d.comb += new.eq(Mux(fresh, prod, total))
        with m.If(en & pv):
            m.d.sync += [y.eq(new), fresh.eq(plast)]
            with m.If(plast):
                m.d.sync += self.shadow.eq(new)
        m.d.comb += self.done.eq(en & pv & plast)


class MixPERow(wiring.Component):
    """One row of C PEs (``<top>_pe`` instances): ``x`` enters the left PE, ``w[j]``
    the top of column j, ``w_out[j]`` leaves its bottom; ``p[j]`` and (dequant = pe)
    ``shadow[j]`` are PE j's, ``done`` the last PE's. Generated once, instantiated R
    times, so the top is R instances of C, not R x C."""

    def __init__(self, params: Params):
        self.params = p = params
        self.cell_prefix = "mixpe"
        in_pe = p.dequant == "pe"
        col = data.ArrayLayout(_col_layout(p, in_pe), p.C)
        members = {"en": In(1), "x": In(_row_layout(p, in_pe)), "w": In(col),
                   "w_out": Out(col), "p": Out(data.ArrayLayout(signed(p.psum_bits), p.C))}
        if in_pe:
            members.update({"shadow": Out(out_layout(p)), "done": Out(1)})
        super().__init__(members)

    def elaborate(self, platform):
        p = self.params
        in_pe = p.dequant == "pe"
        m = Module()
        row_l = _row_layout(p, in_pe)
        xs = [self.x] + [Signal(row_l, name=f"x_{j}") for j in range(1, p.C + 1)]
        for j in range(p.C):
            ports = dict(i_clk=ClockSignal(), i_rst=ResetSignal(), i_en=self.en,
                         i_x=xs[j].as_value(), i_w=self.w[j].as_value(),
                         o_x_out=xs[j + 1].as_value(), o_w_out=self.w_out[j].as_value(),
                         o_p=self.p[j])
            if in_pe:
                done = self.done if j == p.C - 1 else Signal(name=f"done_{j}")
                ports.update(o_shadow=self.shadow[j], o_done=done)
            m.submodules[f"pe_{j}"] = Instance(f"{self.cell_prefix}_pe", **ports)
        return m


class MixPE(wiring.Component):
    """The MixPE array behind one input and one output ``lib.stream``.

    Parameters
    ----------
    params : Params

    Members
    -------
    i_stream : In(stream.Signature(in_layout(params)))
    o_stream : Out(stream.Signature(out_layout(params)))
        One row of FP32 results (bit patterns) per beat, R rows per fold.
    """

    def __init__(self, params: Params):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a mixpe Params, not {params!r}")
        self.params = params
        self.cell_prefix = "mixpe"
        super().__init__({"i_stream": In(stream.Signature(in_layout(params))),
                          "o_stream": Out(stream.Signature(out_layout(params)))})

    def cells(self) -> dict:
        """Submodules generated once and instantiated by name (``<top>_<key>``)."""
        return {"row": MixPERow(self.params), "pe": MixPECell(self.params)}

    def elaborate(self, platform):
        p = self.params
        R, C = p.R, p.C
        in_pe = p.dequant == "pe"
        m = Module()

        en, o_valid, o_row = output_register(m, self.o_stream, out_layout(p))
        # Input stage: held off for R + C - 2 cycles after a fold's last beat; marks the
        # first beat of a group and (bit-serial) the first beat of each later plane.
        beat = self.i_stream.payload
        take = fold_gate(m, en, self.i_stream, R + C - 2, beat.last)
        bv, breg = Signal(), Signal(in_layout(p))
        bfirst, bdbl = Signal(), Signal()
        after_glast = Signal(init=1)
        prev_plane = Signal(2)
        with m.If(en):
            m.d.sync += [bv.eq(take), breg.eq(beat), bfirst.eq(after_glast)]
            if p.pe == "serial":
                m.d.sync += bdbl.eq(~after_glast & (beat.plane != prev_plane))
            with m.If(take):
                m.d.sync += after_glast.eq(beat.glast)
                if p.pe == "serial":
                    m.d.sync += prev_plane.eq(beat.plane)
        # Rows count their activations once: in every beat (parallel) or in the MSB plane.
        counts = Signal()
        m.d.comb += counts.eq(1 if p.pe == "parallel" else breg.plane == WEIGHT_BITS - 1)

        # Left edge: align (W4A16), delay row i by i, and form the row's group sum.
        plain = _row_layout(p, False)
        row_l = _row_layout(p, in_pe)
        col_l = _col_layout(p, in_pe)
        x_in = [[Signal(row_l, name=f"x_{i}_0")] for i in range(R)]
        w_in = [[Signal(col_l, name=f"w_0_{j}") for j in range(C)]]
        sums_at_end = []
        for i in range(R):
            f = Signal(plain, name=f"edge{i}")
            m.d.comb += [f.a[ln].eq(self._activation(m, breg, i, ln))
                         for ln in range(p.L)]
            m.d.comb += [f.valid.eq(bv), f.first.eq(bfirst), f.dbl.eq(bdbl),
                         f.glast.eq(breg.glast), f.last.eq(breg.last)]
            emax = breg.emax[i] if p.mode == "w4a16" else Signal(5)
            d = delay(m, en, Cat(f.as_value(), counts, emax), i, f"row{i}")
            fd = plain(d[:plain.size])
            cnt_d, emax_d = d[plain.size], d[plain.size + 1:]
            acc = Signal(signed(p.psum_bits), name=f"rowsum{i}")
            total = Signal(signed(p.psum_bits), name=f"rowtot{i}")
            lanes_sum = sum(fd.a[ln] for ln in range(p.L))
            m.d.comb += total.eq(Mux(fd.first, 0, acc) + Mux(cnt_d, lanes_sum, 0))
            with m.If(en & fd.valid):
                m.d.sync += acc.eq(total)
            m.d.comb += x_in[i][0].as_value()[:plain.size].eq(fd.as_value())
            if in_pe:
                m.d.comb += [x_in[i][0].sum.eq(total), x_in[i][0].emax.eq(emax_d)]
            sums_at_end.append((total, emax_d))

        # Top edge: column j delayed by j.
        for j in range(C):
            top = Signal(col_l, name=f"col{j}")
            m.d.comb += top.q.eq(breg.q[j])
            if in_pe:
                m.d.comb += [top.s.eq(breg.s[j]), top.z.eq(breg.z[j])]
            m.d.comb += w_in[0][j].eq(delay(m, en, top, j, f"col{j}"))

        # The rows of PEs: x enters each row's left PE, w passes down from row to row.
        col_a = data.ArrayLayout(col_l, C)
        w_rows = [Signal(col_a, name=f"w_row{i}") for i in range(R + 1)]
        m.d.comb += [w_rows[0][j].eq(w_in[0][j]) for j in range(C)]
        preg = [Signal(data.ArrayLayout(signed(p.psum_bits), C), name=f"p_row{i}")
                for i in range(R)]
        shadow = [Signal(out_layout(p), name=f"shadow_{i}") for i in range(R)]
        done = Signal(name="fold_done")
        for i in range(R):
            ports = dict(i_clk=ClockSignal(), i_rst=ResetSignal(), i_en=en,
                         i_x=x_in[i][0].as_value(), i_w=w_rows[i].as_value(),
                         o_w_out=w_rows[i + 1].as_value(), o_p=preg[i].as_value())
            if in_pe:
                ports.update(o_shadow=shadow[i].as_value(),
                             o_done=done if i == R - 1 else Signal(name=f"done_row{i}"))
            m.submodules[f"row_{i}"] = Instance(f"{self.cell_prefix}_row", **ports)

        if not in_pe:
            done = self._dequant_at_edge(m, en, bv, breg, x_in, preg, sums_at_end, shadow)
        drain_rows(m, en, Array(row.as_value() for row in shadow), R, done, o_valid, o_row)
        return m

    def _activation(self, m, breg, i, ln):
        """Row i's integer activation in lane ln: INT8 as is, FP16 aligned to the group
        exponent."""
        p = self.params
        if p.mode == "w4a8":
            return breg.a[i][ln]
        tag = f"{i}_{ln}"
        sign, eff, sig = fp.fp16_fields(m, breg.a[i][ln], f"act{tag}")
        sh = Signal(signed(7), name=f"act{tag}_sh")
        m.d.comb += sh.eq(breg.emax[i] - eff)
        mag = Signal(unsigned(p.act_bits - 1), name=f"act{tag}_mag")
        m.d.comb += mag.eq((sig << ALIGN_GUARD_BITS) >> Mux(sh < 0, 0, sh[:6]))
        v = Signal(signed(p.act_bits), name=f"act{tag}_v")
        m.d.comb += v.eq(Mux(sign, -mag, mag))
        return v

    def _dequant_at_edge(self, m, en, bv, breg, x_in, preg, sums_at_end, shadow):
        p = self.params
        R, C = p.R, p.C
        dl = _deq_layout(p)
        # The bottom chain: row i's sum enters at the cycle its group ends at column 0
        # and moves one column per cycle, meeting P of PE (i, j) one cycle after it.
        head = Signal(dl, name="bottom_in")
        for i in range(R):
            x = x_in[i][0]
            with m.If(x.valid & x.glast):
                m.d.comb += [head.valid.eq(1), head.last.eq(x.last), head.row.eq(i),
                             head.sum.eq(sums_at_end[i][0]), head.emax.eq(sums_at_end[i][1])]
        chain = [head]
        for j in range(C):
            reg = Signal(dl, name=f"bottom_{j}")
            with m.If(en):
                m.d.sync += reg.eq(chain[-1])
            chain.append(reg)
        # Scales and zero points: latched for all columns as the group's last beat
        # enters, then into column j's unit when the group ends at its top (cycle j).
        waiting = Signal(data.ArrayLayout(unsigned(16 + WEIGHT_BITS), C), name="scales_in")
        with m.If(en & bv & breg.glast):
            m.d.sync += [waiting[j].eq(Cat(breg.s[j], breg.z[j])) for j in range(C)]
        # the cycle a group ends at the top of column j: row 0's end delayed by j
        ends = Signal(name="top_group_end")
        m.d.comb += ends.eq(x_in[0][0].valid & x_in[0][0].glast)
        done = None
        for j in range(C):
            g = chain[j + 1]
            sz = Signal(16 + WEIGHT_BITS, name=f"scale_{j}")
            with m.If(en & delay(m, en, ends, j, f"top_end{j}")):
                m.d.sync += sz.eq(Cat(breg.s[0], breg.z[0]) if j == 0 else waiting[j])
            s, z = sz[:16], sz[16:]
            P = Signal(signed(p.psum_bits), name=f"edge_p_{j}")
            m.d.comb += P.eq(Cat(*[preg[i][j] for i in range(R)]).word_select(g.row,
                                                                               p.psum_bits))
            prod = _dequant(p, m, P, g.sum, g.emax, s, z, f"dq_{j}")
            ys = Signal(data.ArrayLayout(unsigned(32), R), name=f"edge_y_{j}")
            fresh = Signal(R, init=(1 << R) - 1, name=f"edge_fresh_{j}")
            y = Signal(32, name=f"edge_ysel_{j}")
            fr = Signal(name=f"edge_fsel_{j}")
            m.d.comb += [y.eq(ys[g.row]), fr.eq(fresh.bit_select(g.row, 1))]
            add = fp.fp32_add(m, y, prod, f"dq_{j}_add")
            new = Signal(32, name=f"edge_new_{j}")
            m.d.comb += new.eq(Mux(fr, prod, add))
            with m.If(en & g.valid):
                m.d.sync += [ys[g.row].eq(new), fresh.bit_select(g.row, 1).eq(g.last)]
                with m.If(g.last):
                    for i in range(R):
                        with m.If(g.row == i):
                            m.d.sync += shadow[i][j].eq(new)
            if j == C - 1:
                done = Signal(name="fold_done")
                m.d.comb += done.eq(en & g.valid & g.last & (g.row == R - 1))
        return done


def top(params: Params) -> MixPE:
    return MixPE(params)
