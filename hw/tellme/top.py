"""TeLLMe's units: the TLMM engine and the RMS-MAX unit (``Params.unit`` selects).

TLMM, one beat per cycle (``TileSequencer``, one step per beat):

- a beat carries ``t * g`` INT8 activations, a ``load`` flag, ``q`` index vectors of ``t``
  indices and ``last``;
- the beat is latched on accept and computed in the next cycle (the step);
- with ``load`` the ``t`` tables are rebuilt from the beat's activations by the shared
  ``SignedSumTable`` adder trees (all ``3**g`` signed sums, or the upper half) and kept in
  registers; without it the previous tables are reused (the paper's inner loop walks the
  output columns with one table);
- each index vector ``j`` reads one entry of each table (``q * t`` lookups; indices past
  ``3**g - 1`` read 0; the half table mirrors and negates the lower half) and the ``t``
  reads are summed; the sums accumulate (wrapping at ``acc_bits``) until ``last``.

RMS-MAX, one vector per ``rmsmax_cycles`` cycles: ``z = x * gamma``, ``M = max |z|``,
``S2 = sum x**2`` in the first cycle; then a restoring divider forms
``R = floor(127 * 2**24 / M)`` and a bit-by-bit search forms
``r = floor(2**F / sqrt((S2 + d) / d))`` (1/RMS with an epsilon of one input LSB squared);
the last cycle emits ``q = sign(z) * ((|z| * R + 2**23) >> 24)`` (absmax INT8), ``M`` and
``r``: the dequantization scale is ``M / 127 * r / 2**F`` in input units.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data

from tokenfab.hw.common.arith import SignedSumTable, adder_tree, ternary_table_coeffs
from tokenfab.hw.common.sequencer import StreamUnit, accumulate
from tokenfab.hw.tellme.params import Params


def in_layout(p: Params) -> data.StructLayout:
    if p.unit == "rmsmax":
        return data.StructLayout({"x": data.ArrayLayout(signed(p.x_bits), p.d),
                                  "gamma": data.ArrayLayout(signed(p.gamma_bits), p.d)})
    return data.StructLayout({
        "act": data.ArrayLayout(data.ArrayLayout(signed(8), p.g), p.t),
        "load": unsigned(1),
        "idx": data.ArrayLayout(data.ArrayLayout(unsigned(p.idx_bits), p.t), p.q),
        "last": unsigned(1),
    })


def out_layout(p: Params):
    if p.unit == "rmsmax":
        return data.StructLayout({"q": data.ArrayLayout(signed(8), p.d),
                                  "max": unsigned(p.x_bits + p.gamma_bits - 1),
                                  "inv_rms": unsigned(p.frac_bits + 1)})
    return data.ArrayLayout(signed(p.acc_bits), p.q)


def table_coeffs(p: Params):
    """Coefficient rows of the stored entries: all ``3**g``, or the upper half."""
    coeffs = ternary_table_coeffs(p.g)
    return coeffs if p.table == "full" else coeffs[(p.n_tb - 1) // 2 + 1:]


class Tlmm(StreamUnit):
    """Table-lookup ternary matmul engine; see the module doc.

    Members: ``i_stream`` and ``o_stream`` (see ``StreamUnit``).
    """

    PARAMS = Params
    LAYOUTS = (in_layout, out_layout)

    def elaborate(self, platform):
        p = self.params
        m = Module()
        seq = self.add_sequencer(m, cycles_per_tile=1, last=self.i_stream.payload.last)
        # The beat is latched when accepted and used in the step cycle that follows.
        pay = Signal(in_layout(p))
        with m.If(seq.load):
            m.d.sync += pay.eq(self.i_stream.payload)
        entry = signed(p.entry_bits)
        shape = data.ArrayLayout(data.ArrayLayout(entry, p.stored_entries), p.t)
        table_reg = Signal(shape)
        fresh = Signal(shape)
        for t in range(p.t):
            tb = SignedSumTable(coeffs=table_coeffs(p), act_bits=8, entry_bits=p.entry_bits)
            m.submodules[f"table{t}"] = tb
            m.d.comb += [tb.act.eq(pay.act[t]), fresh[t].eq(tb.entries)]
        current = Signal(shape)
        m.d.comb += current.eq(table_reg)
        with m.If(pay.load):
            m.d.comb += current.eq(fresh)
        with m.If(seq.step & pay.load):
            m.d.sync += table_reg.eq(fresh)
        acc = Signal(out_layout(p))
        out = Signal(out_layout(p))
        m.d.comb += self.o_stream.payload.eq(out)
        center = (p.n_tb - 1) // 2
        for j in range(p.q):
            reads = []
            for t in range(p.t):
                idx = pay.idx[j][t]
                value = Signal(entry, name=f"read_{j}_{t}")
                with m.Switch(idx):
                    for i in range(p.n_tb):
                        with m.Case(i):
                            if p.table == "full":
                                m.d.comb += value.eq(current[t][i])
                            elif i > center:
                                m.d.comb += value.eq(current[t][i - center - 1])
                            elif i < center:
                                m.d.comb += value.eq(-current[t][center - 1 - i])
                    with m.Default():
                        m.d.comb += value.eq(0)      # not a valid index: reads 0
                reads.append(value)
            accumulate(m, seq, acc[j], out[j], adder_tree(reads))
        return m


class RmsMax(StreamUnit):
    """RMSNorm and absmax INT8 quantization in fixed point; see the module doc.

    Members: ``i_stream`` and ``o_stream`` (see ``StreamUnit``).
    """

    PARAMS = Params
    LAYOUTS = (in_layout, out_layout)

    def elaborate(self, platform):
        p = self.params
        m = Module()
        seq = self.add_sequencer(m, cycles_per_tile=p.rmsmax_cycles, last=1)
        S, F = p.recip_bits, p.frac_bits
        zb = p.x_bits + p.gamma_bits
        div_bits = S + 7                                  # quotient bits of 127 * 2**S
        x = Signal(in_layout(p)["x"].shape)
        gamma = Signal(in_layout(p)["gamma"].shape)
        with m.If(seq.load):
            m.d.sync += [x.eq(self.i_stream.payload.x), gamma.eq(self.i_stream.payload.gamma)]

        z = Signal(data.ArrayLayout(signed(zb), p.d))
        mx = Signal(unsigned(zb - 1))
        s2 = Signal(unsigned(2 * p.x_bits + p.d.bit_length()))
        num = Signal(unsigned(div_bits))                  # numerator, shifted out MSB first
        rem = Signal(unsigned(zb))
        quo = Signal(unsigned(div_bits))
        r = Signal(unsigned(F + 1))
        trial = Signal(unsigned(F + 1))                   # one-hot bit under test

        prods = [x[i] * gamma[i] for i in range(p.d)]
        mags = [Mux(v < 0, -v, v)[:zb - 1] for v in prods]
        while len(mags) > 1:
            nxt = [Mux(mags[i] > mags[i + 1], mags[i], mags[i + 1])
                   for i in range(0, len(mags) - 1, 2)]
            mags = nxt + ([mags[-1]] if len(mags) % 2 else [])
        k = Signal(range(p.rmsmax_cycles))                # iteration index = plane - 1
        m.d.comb += k.eq(seq.plane - 1)
        with m.If(seq.step & (seq.plane == 0)):
            m.d.sync += [z[i].eq(prods[i]) for i in range(p.d)]
            m.d.sync += [mx.eq(mags[0]),
                         s2.eq(adder_tree(x[i] * x[i] for i in range(p.d))),
                         num.eq(127 << S), rem.eq(0), quo.eq(0), r.eq(0),
                         trial.eq(1 << F)]
        with m.Elif(seq.step & (seq.plane < p.rmsmax_cycles - 1)):
            with m.If(k < div_bits):                      # restoring division step
                shifted = Cat(num[-1], rem)[:zb]
                with m.If(shifted >= mx):
                    m.d.sync += [rem.eq(shifted - mx), quo.eq(Cat(1, quo))]
                with m.Else():
                    m.d.sync += [rem.eq(shifted), quo.eq(Cat(0, quo))]
                m.d.sync += num.eq(num << 1)
            with m.If(k <= F):                            # 1/RMS: keep the bit if it fits
                cand = r | trial
                with m.If(cand * cand * (s2 + p.d) <= (p.d << (2 * F))):
                    m.d.sync += r.eq(cand)
                m.d.sync += trial.eq(trial >> 1)
        out = Signal(out_layout(p))
        m.d.comb += self.o_stream.payload.eq(out)
        with m.If(seq.emit):
            for i in range(p.d):
                mag = Mux(z[i] < 0, -z[i], z[i])
                qv = (mag * quo + (1 << (S - 1))) >> S
                m.d.sync += out.q[i].eq(Mux(z[i] < 0, -qv, qv))
            m.d.sync += [out.max.eq(mx), out.inv_rms.eq(r)]
        return m


def top(params: Params):
    return Tlmm(params) if params.unit == "tlmm" else RmsMax(params)
