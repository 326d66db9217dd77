"""The conventional baseline: an M x N array of K-input multiply-accumulate units."""
from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data

from tokenfab.hw.common.arith import adder_tree
from tokenfab.hw.common.sequencer import StreamUnit, accumulate
from tokenfab.hw.mac_array.params import Params


def operand_bits(p: Params) -> int:
    """Width of a dequantized weight operand: the activation format's."""
    return p.act_bits


def in_layout(p: Params) -> data.StructLayout:
    return data.StructLayout({
        "act": data.ArrayLayout(data.ArrayLayout(signed(p.act_bits), p.k), p.m),
        "w": data.ArrayLayout(data.ArrayLayout(unsigned(p.weight_bits), p.k), p.n),
        "scale": data.ArrayLayout(unsigned(p.scale_bits), p.n),
        "zero": data.ArrayLayout(signed(p.weight_bits + 1), p.n),
        "last": unsigned(1),
    })


def dequantize(p: Params, code, scale, zero):
    """``sat(scale * ((2 code - (2**b - 1)) - zero))`` in the signed activation format."""
    lo, hi = p.act_range
    value = Cat(code, C(0, 1)).as_signed() * 2 - ((1 << p.weight_bits) - 1)
    prod = (value - zero) * scale
    return Mux(prod > hi, hi, Mux(prod < lo, lo, prod))


def out_layout(p: Params) -> data.ArrayLayout:
    return data.ArrayLayout(data.ArrayLayout(signed(p.acc_bits), p.n), p.m)


class MacArray(StreamUnit):
    """M x N dot-product units of length K with full multipliers, one tile per cycle.

    Weights arrive as codes with their columns' group scales and zero offsets; the
    dequantizer in front of the array turns each into a signed operand of the activation
    width (``Params``), as a dequant-based tensor core does. Activations and dequantized
    weights are registered on accept, multiplied and summed in the next cycle, and
    accumulated until a beat marked ``last``.

    Parameters
    ----------
    params : Params

    Members: ``i_stream`` and ``o_stream`` (see ``StreamUnit``).
    """

    PARAMS = Params
    LAYOUTS = (in_layout, out_layout)

    def elaborate(self, platform):
        p = self.params
        m = Module()
        seq = self.add_sequencer(m, cycles_per_tile=p.cycles_per_tile,
                                 last=self.i_stream.payload.last)
        layout = in_layout(p)
        act_reg = Signal(layout["act"].shape)
        w_reg = Signal(data.ArrayLayout(data.ArrayLayout(signed(operand_bits(p)), p.k), p.n))
        beat = self.i_stream.payload
        with m.If(seq.load):
            m.d.sync += act_reg.eq(beat.act)
            for col in range(p.n):
                for j in range(p.k):
                    m.d.sync += w_reg[col][j].eq(dequantize(p, beat.w[col][j],
                                                            beat.scale[col], beat.zero[col]))

        acc = Signal(out_layout(p))
        out_reg = Signal(out_layout(p))
        m.d.comb += self.o_stream.payload.eq(out_reg)
        for row in range(p.m):
            for col in range(p.n):
                dot = adder_tree(act_reg[row][j] * w_reg[col][j] for j in range(p.k))
                accumulate(m, seq, acc[row][col], out_reg[row][col], dot)
        return m


def top(params: Params) -> MacArray:
    return MacArray(params)
