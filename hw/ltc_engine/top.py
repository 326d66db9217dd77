"""The LUT Tensor Core engine: ``units`` LUT Tensor Core units side by side along N in
the shared engine (``hw/common/engine.py``: buffers, AXI4 DMA, AXI4-Lite registers,
schedule), computing ``O[M, N] = A[M, K] x W[N, K]``.

Unit tile: ``m`` rows x ``n`` columns x ``k`` of K; an activation beat is the unit's
``act`` field, a weight beat its ``w`` field (``arch_models/ltc_engine/golden.py`` packs
them), an output tile its ``m x n`` accumulators.

Compute, per (row block, group of ``units`` column blocks), K innermost: a tile of ``KT``
beats to the units (each beat ``weight_bits`` cycles), then each unit's partial sums
added into its output buffer.
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal

from tokenfab.hw.common.engine import AxiEngine, add_lanes
from tokenfab.hw.lut_tensor_core.top import LutTensorCore, in_layout
from tokenfab.hw.ltc_engine.params import Params


class LtcEngine(AxiEngine):
    """The engine (see the module doc and ``AxiEngine``)."""

    PARAMS = Params

    def make_unit(self):
        return LutTensorCore(self.params.unit)

    def compute(self, m: Module, c) -> None:
        p = self.params
        U = p.units
        c_ri, c_g, c_c = Signal(16), Signal(16), Signal(16)
        feed = Signal()
        arp = c.abuf.read_port()
        wrps = [wb.read_port() for wb in c.wbufs]
        accepted = c.accepted
        c_next = Mux(accepted, c_c + 1, c_c)
        m.d.comb += arp.addr.eq(c.bank * c.a_rows + c_ri * p.buf_k + c_next)
        for u in range(U):
            m.d.comb += wrps[u].addr.eq(c.bank * c.w_rows + c_g * p.buf_k + c_next)
        act_bits = in_layout(p.unit)["act"].shape.size
        w_bits = in_layout(p.unit)["w"].shape.size
        for u in range(U):
            pl = c.units[u].i_stream.payload
            m.d.comb += [c.units[u].i_stream.valid.eq(feed),
                         pl.act.eq(arp.data[:act_bits]),
                         pl.w.eq(wrps[u].data[:w_bits]),
                         pl.last.eq(c_c + 1 == c.kt),
                         c.units[u].o_stream.ready.eq(1)]
        # output buffers: read the partial sums of this tile, write them back added
        orps = [ob.read_port() for ob in c.obufs]
        owps = [ob.write_port() for ob in c.obufs]
        out_valid = c.units[0].o_stream.valid
        first_kb = c.kb == 0
        for u in range(U):
            addr = c.obank * c.o_rows + c_ri * c.gpb + c_g
            new = c.units[u].o_stream.payload.as_value()
            old = orps[u].data
            summed = add_lanes(old, new, p.o_lanes, p.acc_bits)
            m.d.comb += [orps[u].addr.eq(addr), owps[u].addr.eq(addr),
                         owps[u].data.eq(Mux(first_kb, new, summed)),
                         owps[u].en.eq(out_valid)]
        groups = c.groups
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += c.done.eq(1)
                with m.If(c.go & c.ok):
                    m.d.sync += [c_ri.eq(0), c_g.eq(0), c_c.eq(0)]
                    m.next = "PRIME"
            with m.State("PRIME"):
                m.next = "FEED"
            with m.State("FEED"):
                m.d.comb += feed.eq(1)
                with m.If(accepted):
                    m.d.sync += c_c.eq(c_c + 1)
                    with m.If(c_c + 1 == c.kt):
                        m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(out_valid):
                    m.d.sync += c_c.eq(0)
                    with m.If(c_g + 1 < groups):
                        m.d.sync += c_g.eq(c_g + 1)
                        m.next = "PRIME"
                    with m.Elif(c_ri + 1 < c.mt):
                        m.d.sync += [c_g.eq(0), c_ri.eq(c_ri + 1)]
                        m.next = "PRIME"
                    with m.Else():
                        m.next = "IDLE"



def top(params: Params) -> LtcEngine:
    return LtcEngine(params)
