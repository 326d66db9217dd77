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
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from tokenfab.hw.common import fp
from tokenfab.hw.common.skew import delay, drain_rows
from tokenfab.hw.mixpe.params import ALIGN_GUARD_BITS, WEIGHT_BITS, Params


def in_layout(p: Params) -> data.StructLayout:
    act = signed(8) if p.mode == "w4a8" else unsigned(16)
    fields = {"a": data.ArrayLayout(data.ArrayLayout(act, p.lanes), p.R)}
    if p.mode == "w4a16":
        fields["emax"] = data.ArrayLayout(unsigned(5), p.R)
    fields["q"] = data.ArrayLayout(data.ArrayLayout(_q_shape(p), p.lanes), p.C)
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
    fields = {"a": data.ArrayLayout(signed(p.act_bits), p.lanes), "valid": 1, "first": 1, "dbl": 1, "glast": 1,
              "last": 1}
    if with_sum:
        fields.update({"sum": signed(p.psum_bits), "emax": unsigned(5)})
    return data.StructLayout(fields)


def _col_layout(p: Params, with_scale: bool) -> data.StructLayout:
    """What travels down a column with each weight."""
    fields = {"q": data.ArrayLayout(_q_shape(p), p.lanes)}
    if with_scale:
        fields.update({"s": unsigned(16), "z": unsigned(WEIGHT_BITS)})
    return data.StructLayout(fields)


def _deq_layout(p: Params) -> data.StructLayout:
    """A group's result on its way to a dequant unit."""
    return data.StructLayout({"valid": 1, "last": 1, "row": unsigned(max(1, (p.R - 1)
                                                                            .bit_length())),
                              "sum": signed(p.psum_bits), "emax": unsigned(5)})


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
        super().__init__({"i_stream": In(stream.Signature(in_layout(params))),
                          "o_stream": Out(stream.Signature(out_layout(params)))})

    def elaborate(self, platform):
        p = self.params
        R, C = p.R, p.C
        in_pe = p.dequant == "pe"
        m = Module()

        o_valid = Signal()
        o_row = Signal(out_layout(p))
        en = Signal()
        m.d.comb += [en.eq(~o_valid | self.o_stream.ready),
                     self.o_stream.valid.eq(o_valid), self.o_stream.payload.eq(o_row)]

        # Input stage: held off for R + C - 2 cycles after a fold's last beat; marks the
        # first beat of a group and (bit-serial) the first beat of each later plane.
        gap = Signal(range(R + C))
        beat = self.i_stream.payload
        take = Signal()
        m.d.comb += [self.i_stream.ready.eq(en & (gap == 0)),
                     take.eq(self.i_stream.valid & self.i_stream.ready)]
        bv, breg = Signal(), Signal(in_layout(p))
        self._bv, self._breg = bv, breg
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
                with m.If(beat.last):
                    m.d.sync += gap.eq(R + C - 2)
            with m.Elif(gap != 0):
                m.d.sync += gap.eq(gap - 1)
        # Rows count their activations once: in every beat (parallel) or in the MSB plane.
        counts = Signal()
        m.d.comb += counts.eq(1 if p.pe == "parallel" else breg.plane == WEIGHT_BITS - 1)

        # Left edge: align (W4A16), delay row i by i, and form the row's group sum.
        plain = _row_layout(p, False)
        rows_in, sums_at_end = [], []
        for i in range(R):
            f = Signal(plain, name=f"edge{i}")
            m.d.comb += [f.a[ln].eq(self._activation(m, breg, i, ln))
                         for ln in range(p.lanes)]
            m.d.comb += [f.valid.eq(bv),
                         f.first.eq(bfirst), f.dbl.eq(bdbl), f.glast.eq(breg.glast),
                         f.last.eq(breg.last)]
            cnt = Signal(name=f"count{i}")
            m.d.comb += cnt.eq(counts)
            emax = breg.emax[i] if p.mode == "w4a16" else 0
            d = delay(m, en, Cat(f.as_value(), cnt, emax if p.mode == "w4a16"
                                 else Signal(5)), i, f"row{i}")
            fd = plain(d[:plain.size])
            cnt_d, emax_d = d[plain.size], d[plain.size + 1:]
            acc = Signal(signed(p.psum_bits), name=f"rowsum{i}")
            total = Signal(signed(p.psum_bits), name=f"rowtot{i}")
            lanes_sum = sum(fd.a[ln] for ln in range(p.lanes))
            m.d.comb += total.eq(Mux(fd.first, 0, acc) + Mux(cnt_d, lanes_sum, 0))
            with m.If(en & fd.valid):
                m.d.sync += acc.eq(total)
            rows_in.append(fd)
            sums_at_end.append((total, emax_d))

        a_in = [[None] * C for _ in range(R)]
        row_l = _row_layout(p, in_pe)
        for i in range(R):
            x = Signal(row_l, name=f"a_{i}_in")
            m.d.comb += x.as_value()[:plain.size].eq(rows_in[i].as_value())
            if in_pe:
                m.d.comb += [x.sum.eq(sums_at_end[i][0]), x.emax.eq(sums_at_end[i][1])]
            a_in[i][0] = x
            for j in range(1, C):
                reg = Signal(row_l, name=f"a_{i}_{j - 1}")
                with m.If(en):
                    m.d.sync += reg.eq(a_in[i][j - 1])
                a_in[i][j] = reg

        # Top edge: column j delayed by j, then down the column.
        col_l = _col_layout(p, in_pe)
        b_in = [[None] * C for _ in range(R)]
        for j in range(C):
            top = Signal(col_l, name=f"col{j}")
            m.d.comb += top.q.eq(breg.q[j])
            if in_pe:
                m.d.comb += [top.s.eq(breg.s[j]), top.z.eq(breg.z[j])]
            b_in[0][j] = delay(m, en, top, j, f"col{j}")
            for i in range(1, R):
                reg = Signal(col_l, name=f"b_{i - 1}_{j}")
                with m.If(en):
                    m.d.sync += reg.eq(b_in[i - 1][j])
                b_in[i][j] = reg

        # PEs: the group's integer sum P, latched at the group's last step.
        preg = [[Signal(signed(p.psum_bits), name=f"p_{i}_{j}") for j in range(C)]
                for i in range(R)]
        for i in range(R):
            for j in range(C):
                x = a_in[i][j]
                final = self._pe(m, en, x, b_in[i][j].q, i, j)
                with m.If(en & x.valid & x.glast):
                    m.d.sync += preg[i][j].eq(final)

        shadow = Signal(data.ArrayLayout(out_layout(p), R))
        if in_pe:
            done = self._dequant_in_pes(m, en, a_in, b_in, preg, shadow)
        else:
            done = self._dequant_at_edge(m, en, a_in, b_in, preg, sums_at_end, shadow)
        drain_rows(m, en, shadow, R, done, o_valid, o_row)
        return m

    def _activation(self, m, breg, i, ln):
        """Row i's integer activation in lane ln: INT8 as is, FP16 aligned to the group
        exponent."""
        p = self.params
        if p.mode == "w4a8":
            return breg.a[i][ln]
        sign, eff, sig = fp.fp16_fields(m, breg.a[i][ln], f"act{i}_{ln}")
        tag = f"{i}_{ln}"
        sh = Signal(signed(7), name=f"act{tag}_sh")
        m.d.comb += sh.eq(breg.emax[i] - eff)
        mag = Signal(unsigned(p.act_bits - 1), name=f"act{tag}_mag")
        m.d.comb += mag.eq((sig << ALIGN_GUARD_BITS) >> Mux(sh < 0, 0, sh[:6]))
        v = Signal(signed(p.act_bits), name=f"act{tag}_v")
        m.d.comb += v.eq(Mux(sign, -mag, mag))
        return v

    def _pe(self, m, en, x, q, i, j):
        """PE (i, j): returns the group's sum P including this step (combinational)."""
        p = self.params
        if p.pe == "parallel":
            nxt = []
            for b in range(WEIGHT_BITS):
                s = Signal(signed(p.plane_bits), name=f"s{b}_{i}_{j}")
                t = Signal(signed(p.plane_bits), name=f"s{b}n_{i}_{j}")
                gated = sum(Mux(q[ln][b], x.a[ln], 0) for ln in range(p.lanes))
                m.d.comb += t.eq(Mux(x.first, 0, s) + gated)
                with m.If(en & x.valid):
                    m.d.sync += s.eq(t)
                nxt.append(t)
            final = Signal(signed(p.psum_bits), name=f"pf_{i}_{j}")
            m.d.comb += final.eq(nxt[0] + (nxt[1] << 1) + (nxt[2] << 2) + (nxt[3] << 3))
            return final
        acc = Signal(signed(p.psum_bits), name=f"acc_{i}_{j}")
        final = Signal(signed(p.psum_bits), name=f"pf_{i}_{j}")
        add = sum(Mux(q[ln][0], x.a[ln], 0) for ln in range(p.lanes))
        with m.If(x.first):
            m.d.comb += final.eq(add)
        with m.Elif(x.dbl):
            m.d.comb += final.eq((acc << 1) + add)
        with m.Else():
            m.d.comb += final.eq(acc + add)
        with m.If(en & x.valid):
            m.d.sync += acc.eq(final)
        return final

    def _dequant(self, m, P, total, emax, s, z, name):
        """FP32 of ``s * (P - z * total)`` (times ``2**(emax - 29)`` for W4A16)."""
        p = self.params
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

    def _accumulate(self, m, en, y, fresh, prod, last, shadow_cell, name):
        """y = prod at a fold's first group, else y + prod (FP32); the fold's last
        group's value goes to the shadow register."""
        s = fp.fp32_add(m, y, prod, f"{name}_add")
        new = Signal(32, name=f"{name}_y")
        m.d.comb += new.eq(Mux(fresh, prod, s))
        with m.If(en):
            m.d.sync += [y.eq(new), fresh.eq(last)]
            with m.If(last):
                m.d.sync += shadow_cell.eq(new)

    def _dequant_in_pes(self, m, en, a_in, b_in, preg, shadow):
        p = self.params
        R, C = p.R, p.C
        done = None
        for i in range(R):
            for j in range(C):
                x, w = a_in[i][j], b_in[i][j]
                # The group's row sum, exponent, scale and zero point, latched with P.
                pv = Signal(name=f"pv_{i}_{j}")
                plast = Signal(name=f"pl_{i}_{j}")
                hold = Signal(data.StructLayout({"sum": signed(p.psum_bits),
                                                 "emax": unsigned(5), "s": unsigned(16),
                                                 "z": unsigned(WEIGHT_BITS)}),
                              name=f"g_{i}_{j}")
                with m.If(en):
                    m.d.sync += [pv.eq(x.valid & x.glast), plast.eq(x.last)]
                    with m.If(x.valid & x.glast):
                        m.d.sync += [hold.sum.eq(x.sum), hold.emax.eq(x.emax),
                                     hold.s.eq(w.s), hold.z.eq(w.z)]
                prod = self._dequant(m, preg[i][j], hold.sum, hold.emax, hold.s, hold.z,
                                     f"dq_{i}_{j}")
                y = Signal(32, name=f"y_{i}_{j}")
                fresh = Signal(init=1, name=f"fresh_{i}_{j}")
                with m.If(pv):
                    self._accumulate(m, en, y, fresh, prod, plast, shadow[i][j],
                                     f"pe_{i}_{j}")
                if (i, j) == (R - 1, C - 1):
                    done = Signal(name="fold_done")
                    m.d.comb += done.eq(en & pv & plast)
        return done

    def _dequant_at_edge(self, m, en, a_in, b_in, preg, sums_at_end, shadow):
        p = self.params
        R, C = p.R, p.C
        dl = _deq_layout(p)
        # The bottom chain: row i's sum enters at the cycle its group ends at column 0
        # and moves one column per cycle, meeting P of PE (i, j) one cycle after it.
        head = Signal(dl, name="bottom_in")
        for i in range(R):
            x = a_in[i][0]
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
        breg = self._breg
        with m.If(en & self._bv & breg.glast):
            m.d.sync += [waiting[j].eq(Cat(breg.s[j], breg.z[j])) for j in range(C)]
        done = None
        for j in range(C):
            g = chain[j + 1]
            sz = Signal(16 + WEIGHT_BITS, name=f"scale_{j}")
            top = a_in[0][j]
            with m.If(en & top.valid & top.glast):
                m.d.sync += sz.eq(Cat(breg.s[0], breg.z[0]) if j == 0 else waiting[j])
            s, z = sz[:16], sz[16:]
            P = Signal(signed(p.psum_bits), name=f"edge_p_{j}")
            m.d.comb += P.eq(Cat(*[preg[i][j] for i in range(R)]).word_select(g.row,
                                                                               p.psum_bits))
            prod = self._dequant(m, P, g.sum, g.emax, s, z, f"dq_{j}")
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
