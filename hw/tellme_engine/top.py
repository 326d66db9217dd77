"""The TeLLMe engine: ``units`` TLMM units (``hw/tellme/top.py``) side by side along N in
the shared engine (``hw/common/engine.py``: buffers, AXI4 DMA, AXI4-Lite registers,
schedule), computing ``O[M, N] = X[M, K] x W[K, N]`` with ternary ``W``.

Unit tile: one token row x ``q`` output columns x ``t g`` of K. An activation beat is the
TLMM's ``act`` field (``t x g`` INT8), a weight beat its ``idx`` field (``q x t`` base-3
indices of ``g`` weights); ``arch_models/tellme_engine/golden.py`` and the bench pack them.
An output tile is ``q`` accumulators.

Compute walks, per token row and K chunk, the column groups (``units`` column blocks
each), one beat a cycle with no gap: the paper's loop, in which the tables built from a
chunk's activations serve every output column (``load`` on a row's and chunk's first
group only). Every beat is ``last``: its ``q`` partial sums come out two cycles later and
are added into the output buffer in two stages (read, then write; the read port is
transparent to the write, so back-to-back sums to one tile add up).
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal

from tokenfab.hw.common.engine import AxiEngine, add_lanes
from tokenfab.hw.tellme.top import Tlmm, in_layout
from tokenfab.hw.tellme_engine.params import Params


class TlmmEngine(AxiEngine):
    """The engine (see the module doc and ``AxiEngine``)."""

    PARAMS = Params

    def make_unit(self):
        return Tlmm(self.params.unit)

    def compute(self, m: Module, c) -> None:
        p = self.params
        U = p.units
        groups = c.groups

        def advance(ri, kc, g):
            """The beat after (row ``ri``, chunk ``kc``, group ``g``): groups innermost."""
            nri, nkc, ng = Signal(16), Signal(16), Signal(16)
            end = Signal()
            m.d.comb += [nri.eq(ri), nkc.eq(kc), ng.eq(g + 1)]
            with m.If(g + 1 >= groups):
                m.d.comb += [ng.eq(0), nkc.eq(kc + 1)]
                with m.If(kc + 1 >= c.kt):
                    m.d.comb += [nkc.eq(0), nri.eq(ri + 1), end.eq(ri + 1 >= c.mt)]
            return nri, nkc, ng, end

        # feed: beats from the buffers, addressed a cycle ahead
        f_ri, f_kc, f_g = Signal(16), Signal(16), Signal(16)
        feed = Signal()
        accepted = c.accepted
        n_ri, n_kc, n_g, f_end = advance(f_ri, f_kc, f_g)
        a_ri, a_kc, a_g = (Mux(accepted, n_ri, f_ri), Mux(accepted, n_kc, f_kc),
                           Mux(accepted, n_g, f_g))
        arp = c.abuf.read_port()
        wrps = [wb.read_port() for wb in c.wbufs]
        m.d.comb += arp.addr.eq(c.bank * c.a_rows + a_ri * p.buf_k + a_kc)
        for u in range(U):
            m.d.comb += wrps[u].addr.eq(c.bank * c.w_rows + a_g * p.buf_k + a_kc)
        lay = in_layout(p.unit)
        act_bits, idx_bits = lay["act"].shape.size, lay["idx"].shape.size
        for u in range(U):
            pl = c.units[u].i_stream.payload
            m.d.comb += [c.units[u].i_stream.valid.eq(feed),
                         pl.act.eq(arp.data[:act_bits]),
                         pl.idx.eq(wrps[u].data[:idx_bits]),
                         pl.load.eq(f_g == 0),
                         pl.last.eq(1),
                         c.units[u].o_stream.ready.eq(1)]

        # outputs: read the tile's partial sums (stage A), write them back added (stage B)
        o_ri, o_kc, o_g = Signal(16), Signal(16), Signal(16)
        out_valid = c.units[0].o_stream.valid
        on_ri, on_kc, on_g, o_end = advance(o_ri, o_kc, o_g)
        b_valid, b_first = Signal(), Signal()
        b_addr = Signal(16)
        addr = c.obank * c.o_rows + o_ri * c.gpb + o_g
        m.d.sync += [b_valid.eq(out_valid), b_addr.eq(addr),
                     b_first.eq((c.kb == 0) & (o_kc == 0))]
        for u in range(U):
            owp = c.obufs[u].write_port()
            orp = c.obufs[u].read_port(transparent_for=(owp,))
            new = Signal(p.o_lanes * p.acc_bits, name=f"b_new{u}")
            m.d.sync += new.eq(c.units[u].o_stream.payload.as_value())
            m.d.comb += [orp.addr.eq(addr), owp.addr.eq(b_addr), owp.en.eq(b_valid),
                         owp.data.eq(Mux(b_first, new,
                                         add_lanes(orp.data, new, p.o_lanes, p.acc_bits)))]
        with m.If(out_valid):
            m.d.sync += [o_ri.eq(on_ri), o_kc.eq(on_kc), o_g.eq(on_g)]

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += c.done.eq(1)
                with m.If(c.go & c.ok):
                    m.d.sync += [f_ri.eq(0), f_kc.eq(0), f_g.eq(0),
                                 o_ri.eq(0), o_kc.eq(0), o_g.eq(0)]
                    m.next = "PRIME"
            with m.State("PRIME"):
                m.next = "FEED"
            with m.State("FEED"):
                m.d.comb += feed.eq(1)
                with m.If(accepted):
                    m.d.sync += [f_ri.eq(n_ri), f_kc.eq(n_kc), f_g.eq(n_g)]
                    with m.If(f_end):
                        m.next = "DRAIN"
            with m.State("DRAIN"):
                with m.If(out_valid & o_end):
                    m.next = "WRITE"
            with m.State("WRITE"):                 # stage B of the last sums
                m.next = "IDLE"


def top(params: Params) -> TlmmEngine:
    return TlmmEngine(params)
