"""A GEMV unit with its weights fixed in the logic, in two styles (see ``Params``).

Both take one input vector per beat over ``i_stream`` and give ``y = x @ W`` over
``o_stream``; the shared ``TileSequencer`` handles the handshakes (every beat is ``last``).

- ``cell`` (cell embedding): ``y_j = sum_i x_i * W_ij`` with one constant multiplier per
  nonzero weight feeding an adder tree; one cycle per vector.
- ``neuron`` (the paper's hardwired neuron): the inputs are consumed one bit-plane per
  cycle, most significant (sign) plane first. For each output and each distinct nonzero
  weight value ``v`` a population count adds the current bits of the inputs wired to
  ``v``; its accumulator doubles and adds (Horner's rule, the sign plane subtracted). After
  the last plane ``y_j = sum_v v * acc_v``: one constant multiply per distinct value and a
  small adder tree. Zero weights are not wired at all. (The paper feeds bits LSB first;
  MSB first needs no shifter and gives the same sums.)
"""
from __future__ import annotations

import numpy as np
from amaranth.hdl import Const, Module, Signal, signed
from amaranth.lib import data

from tokenfab.hw.common.arith import adder_tree
from tokenfab.hw.common.params import signed_width
from tokenfab.hw.common.sequencer import StreamUnit
from tokenfab.hw.hnlpu.params import Params


def in_layout(p: Params) -> data.StructLayout:
    return data.StructLayout({"x": data.ArrayLayout(signed(p.input_bits), p.rows)})


def out_layout(p: Params) -> data.ArrayLayout:
    return data.ArrayLayout(signed(p.out_bits), p.cols)


def value_groups(w_col) -> dict[int, list[int]]:
    """Distinct nonzero weight value -> the inputs wired to it, for one output column."""
    groups: dict[int, list[int]] = {}
    for i, v in enumerate(np.asarray(w_col).tolist()):
        if v:
            groups.setdefault(int(v), []).append(i)
    return groups


class HardwiredGemv(StreamUnit):
    """``y = x @ W`` with ``W`` from ``params.weight_matrix()`` fixed in the logic.

    Members: ``i_stream`` and ``o_stream`` (see ``StreamUnit``).
    """

    PARAMS = Params
    LAYOUTS = (in_layout, out_layout)

    def elaborate(self, platform):
        p = self.params
        m = Module()
        seq = self.add_sequencer(m, cycles_per_tile=p.cycles_per_tile, last=Const(1))
        x = Signal(in_layout(p)["x"].shape)
        with m.If(seq.load):
            m.d.sync += x.eq(self.i_stream.payload.x)
        if p.style == "neuron":
            with m.Elif(seq.step):
                # Bit-serial: shift every input left so its top bit is the current plane.
                m.d.sync += [x[i].eq(x[i] << 1) for i in range(p.rows)]
        out = Signal(out_layout(p))
        m.d.comb += self.o_stream.payload.eq(out)
        w = p.weight_matrix()
        (self._cell if p.style == "cell" else self._neuron)(m, seq, x, out, w)
        return m

    def _cell(self, m, seq, x, out, w):
        for j in range(self.params.cols):
            terms = [x[i] * int(v) for i, v in enumerate(w[:, j].tolist()) if v]
            with m.If(seq.emit):
                m.d.sync += out[j].eq(adder_tree(terms) if terms else 0)

    def _neuron(self, m, seq, x, out, w):
        p = self.params
        lo, hi = p.input_range
        top = p.input_bits - 1
        for j in range(p.cols):
            products = []
            for v, idx in value_groups(w[:, j]).items():
                acc = Signal(signed(signed_width(len(idx) * lo, len(idx) * hi)),
                             name=f"acc_{j}_{'m' if v < 0 else 'p'}{abs(v)}")
                count = adder_tree(x[i][top] for i in idx)
                plane = Signal(signed(acc.shape().width + 1), name=f"pc_{j}_{'m' if v < 0 else 'p'}{abs(v)}")
                with m.If(seq.plane == 0):              # the sign plane counts negative
                    m.d.comb += plane.eq(-count)
                with m.Else():
                    m.d.comb += plane.eq(count)
                nxt = (acc << 1) + plane
                with m.If(seq.emit):
                    m.d.sync += acc.eq(0)
                with m.Elif(seq.step):
                    m.d.sync += acc.eq(nxt)
                products.append(nxt * v)
            with m.If(seq.emit):
                m.d.sync += out[j].eq(adder_tree(products) if products else 0)


def top(params: Params) -> HardwiredGemv:
    return HardwiredGemv(params)
