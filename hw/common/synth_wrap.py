"""A synthesis wrapper that fits any stream component into a few FPGA pins.

Every input bit comes from a shift chain (one data pin), every output bit is folded by
XOR into 8 registered pins. All of the design stays observable, so nothing is optimised
away, and every path starts and ends at a register, so Fmax means something.
"""
from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

FOLD = 8


class ShiftWrap(wiring.Component):
    """Members: ``sin`` (serial data in), ``sout`` (8 folded output bits)."""

    sin: In(1)
    sout: Out(FOLD)

    def __init__(self, inner):
        self.inner = inner
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = self.inner
        ins, outs = [], []
        for path, member, value in inner.signature.flatten(inner):
            (ins if member.flow == wiring.In else outs).append(Value.cast(value))
        width = sum(len(v) for v in ins)
        chain = Signal(width)
        m.d.sync += chain.eq(Cat(self.sin, chain[:-1]))
        m.d.comb += Cat(*ins).eq(chain)
        flat = Cat(*outs)
        folded = Signal(FOLD)
        for i in range(FOLD):       # one reduction each (a chain of ^ recurses per bit)
            m.d.comb += folded[i].eq(Cat(*(flat[j] for j in range(i, len(flat), FOLD))).xor())
        m.d.sync += self.sout.eq(folded)
        return m
