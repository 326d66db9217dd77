"""What every engine shares: a whole GEMM layer from DRAM to DRAM.

``O[M, N] = A[M, K] x W[K, N]`` in unit tiles: ``MB`` row blocks of ``tile_m`` rows, ``NB``
column blocks of ``tile_n`` columns and ``KB`` chunks of ``tile_k`` (the host pads the
edges with zeros). DRAM holds the operands as the unit's beats, blocked (the driver's
layout, as Gemmini's and most engines' drivers lay out data; ``arch_models/common/
engine.py`` places it):

- activation beat ``(r, c)`` at ``A_BASE + (r KB + c) a_words`` words, weight beat
  ``(j, c)`` at ``W_BASE + (j KB + c) w_words``, output tile ``(r, j)`` at
  ``O_BASE + (r NB + j) o_words``.

The mapping: a buffer tile of ``MT x NT x KT`` unit tiles and the order of the output
blocks (``ORDER`` 0: row blocks outer, 1: column blocks outer); K is innermost, so an
output block stays in the output buffer while its K blocks pass (partial sums added).

Schedule (``arch_models/common/engine.py`` restates it): steps are (output block, K block)
pairs in order. Phase 0 loads step 0; phase i computes step i - 1 while it loads step i
and stores the output block step i - 2 finished, each into or out of the other bank of its
double buffer; a phase ends when all three are done. A last phase stores the last block.
Loads: per row block one read command (its ``KT`` beats are contiguous), then per column
block one. Compute is the engine's own (``AxiEngine.compute``): the units, fed from the
activation buffer and their weight buffers, add their partial sums into their output
buffers. Store: per row block one write command of its ``NT`` output tiles.

Buffers (``lib.memory``, two banks each): activations ``buf_m x buf_k`` beats; per unit
weights ``buf_n / units x buf_k`` beats and outputs ``buf_m x buf_n / units`` tiles
(column block ``j`` goes to unit ``j % units``).

Registers (AXI4-Lite, 32-bit, byte offset 4 x index): 0 CTRL (write: start), 1 STATUS
(bit 0 done, bit 1 busy), 2 CYCLES (start to done), 3 MB, 4 NB, 5 KB, 6 MT, 7 NT, 8 KT,
9 ORDER, 10 A_BASE, 11 W_BASE, 12 O_BASE.
"""
from __future__ import annotations

import dataclasses
import math
import types

from amaranth.hdl import Array, Cat, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tokenfab.errors import UsageError
from tokenfab.hw.common.axi import (AxiLiteRegs, AxiReadDma, AxiWriteDma,
                                    axi4_lite_signature, axi4_master_signature)
from tokenfab.params import ParamsBase, param

REGS = ("ctrl", "status", "cycles", "mb", "nb", "kb", "mt", "nt", "kt", "order",
        "a_base", "w_base", "o_base")
REG = {name: i for i, name in enumerate(REGS)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class EngineParams(ParamsBase):
    """The parameters every engine has; an engine's ``Params`` adds its unit's.

    Parameters
    ----------
    units
        Units side by side along N: they share each activation beat, each takes its own
        column blocks.
    data_bits
        AXI4 data width.
    burst_beats, outstanding
        Longest INCR burst (beats) and most read bursts in flight.
    buf_m, buf_n, buf_k
        Buffer capacity per bank in unit tiles: row blocks, column blocks (a multiple of
        ``units``) and K chunks; the mapping's tile sizes may not exceed them.

    An engine's ``Params`` defines ``unit`` (the unit's parameters), ``tile_m``,
    ``tile_n``, ``tile_k`` (a unit tile of the layer), ``a_bits``, ``w_bits`` (one
    activation and one weight beat), ``o_lanes`` and ``acc_bits`` (one output tile).
    """

    units: int = param(2, "units side by side along N", lo=1, hi=8)
    data_bits: int = param(64, "AXI4 data width", choices=(32, 64, 128, 256))
    burst_beats: int = param(16, "longest INCR burst in beats", lo=1, hi=256)
    outstanding: int = param(4, "read bursts in flight at most", lo=1, hi=8)
    buf_m: int = param(8, "row blocks a buffer bank holds", lo=1, hi=64)
    buf_n: int = param(4, "column blocks a buffer bank holds", lo=1, hi=64)
    buf_k: int = param(16, "K chunks a buffer bank holds", lo=1, hi=256)

    def __post_init__(self):
        super().__post_init__()
        if self.buf_n % self.units:
            raise UsageError(f"buf_n must be a multiple of units ({self.units}), not "
                             f"{self.buf_n}")

    @property
    def word_bytes(self) -> int:
        return self.data_bits // 8

    def words(self, bits: int) -> int:
        return math.ceil(bits / self.data_bits)

    @property
    def a_words(self) -> int:
        """AXI words of one activation beat."""
        return self.words(self.a_bits)

    @property
    def w_words(self) -> int:
        """AXI words of one weight beat."""
        return self.words(self.w_bits)

    @property
    def o_words(self) -> int:
        """AXI words of one output tile (``o_lanes`` accumulators)."""
        return self.words(self.o_lanes * self.acc_bits)

    @property
    def macs_per_tile(self) -> int:
        return self.tile_m * self.tile_n * self.tile_k * self.units

    @property
    def rtl_max_macs(self) -> int:
        """The unit's RTL limit, for all ``units`` together: elaboration time grows with
        the units' total size (``tokenfab.params.rtl_size_problem``)."""
        return self.unit.rtl_max_macs


class AxiEngine(wiring.Component):
    """An engine (see the module doc): subclasses set ``PARAMS`` and define
    ``make_unit()`` and ``compute(m, c)``.

    ``compute`` drives ``c.done`` (high while idle) and, from ``c.go`` with ``c.ok``,
    computes a step: its ``c.mt x c.nt x c.kt`` unit tiles (``c.groups`` groups of
    ``units`` column blocks; ``c.accepted``: the units take a beat) from bank ``c.bank`` of
    ``c.abuf`` and ``c.wbufs`` (``c.a_rows``, ``c.w_rows`` rows per bank) into bank
    ``c.obank`` of ``c.obufs`` (``c.o_rows``), adding to the partial sums unless
    ``c.kb`` is 0.

    Members
    -------
    m_axi : Out(axi4_master_signature(data_bits))
    s_axil : In(axi4_lite_signature())
    done : Out(1)  (STATUS bit 0, for benches that wait on a pin)
    """

    PARAMS = EngineParams

    def __init__(self, params):
        if not isinstance(params, self.PARAMS):
            raise TypeError(f"params must be a {self.PARAMS.__module__}.Params, "
                            f"not {params!r}")
        self.params = params
        super().__init__({"m_axi": Out(axi4_master_signature(params.data_bits)),
                          "s_axil": In(axi4_lite_signature()), "done": Out(1)})

    def make_unit(self):
        raise NotImplementedError

    def compute(self, m: Module, c) -> None:
        raise NotImplementedError

    def elaborate(self, platform):
        p = self.params
        m = Module()
        U, db, wbytes = p.units, p.data_bits, p.word_bytes
        m.submodules.regs = regs = AxiLiteRegs(len(REGS), read_only=(1, 2))
        wiring.connect(m, wiring.flipped(self.s_axil), regs.bus)
        r = {name: regs.reg(i) for name, i in REG.items()}
        max_words = max(p.buf_k * p.a_words, p.buf_k * p.w_words, p.buf_n * p.o_words)
        m.submodules.rdma = rdma = AxiReadDma(data_bits=db, burst_beats=p.burst_beats,
                                              outstanding=p.outstanding, max_words=max_words)
        m.submodules.wdma = wdma = AxiWriteDma(data_bits=db, burst_beats=p.burst_beats,
                                               max_words=max_words)
        ax = self.m_axi
        for name in ("araddr", "arlen", "arsize", "arburst", "arvalid", "rready"):
            m.d.comb += getattr(ax, name).eq(getattr(rdma.axi, name))
        for name in ("arready", "rdata", "rresp", "rlast", "rvalid"):
            m.d.comb += getattr(rdma.axi, name).eq(getattr(ax, name))
        for name in ("awaddr", "awlen", "awsize", "awburst", "awvalid", "wdata", "wstrb",
                     "wlast", "wvalid", "bready"):
            m.d.comb += getattr(ax, name).eq(getattr(wdma.axi, name))
        for name in ("awready", "wready", "bresp", "bvalid"):
            m.d.comb += getattr(wdma.axi, name).eq(getattr(ax, name))

        a_row, w_row, o_row = p.a_words * db, p.w_words * db, p.o_words * db
        gpb = p.buf_n // U                                 # column groups per bank
        a_rows, w_rows, o_rows = p.buf_m * p.buf_k, gpb * p.buf_k, p.buf_m * gpb  # per bank
        m.submodules.abuf = abuf = Memory(shape=unsigned(a_row), depth=2 * p.buf_m * p.buf_k,
                                          init=[])
        wbufs = [Memory(shape=unsigned(w_row), depth=2 * gpb * p.buf_k, init=[])
                 for _ in range(U)]
        obufs = [Memory(shape=unsigned(o_row), depth=2 * p.buf_m * gpb, init=[])
                 for _ in range(U)]
        units = [self.make_unit() for _ in range(U)]
        for u in range(U):
            m.submodules[f"wbuf{u}"] = wbufs[u]
            m.submodules[f"obuf{u}"] = obufs[u]
            m.submodules[f"unit{u}"] = units[u]

        # ------------------------------------------------------------ control
        busy, done = Signal(), Signal()
        cycles = Signal(32)
        m.d.comb += [regs.status(1).eq(Cat(done, busy)), regs.status(2).eq(cycles),
                     self.done.eq(done)]
        with m.If(busy):
            m.d.sync += cycles.eq(cycles + 1)

        def blk(x, total, size):
            """A step's blocks along a dimension: the mapping's tile, less at the edge;
            registered (an activity uses it from the cycle after its launch, when the
            register holds the step's value), so no activity's logic starts from a
            subtraction and a comparison of registers."""
            v = Signal(16)
            m.d.sync += v.eq(Mux(total - x < size, total - x, size))
            return v

        # the step being loaded (ld), computed (cp) and the block being stored (st)
        ld_rb, ld_nb, ld_kb, ld_ok, ld_bank = (Signal(16), Signal(16), Signal(16),
                                               Signal(), Signal())
        cp_rb, cp_nb, cp_kb, cp_ok, cp_bank, cp_obank = (Signal(16), Signal(16),
                                                         Signal(16), Signal(), Signal(),
                                                         Signal())
        st_rb, st_nb, st_ok, st_obank = Signal(16), Signal(16), Signal(), Signal()
        obank = Signal()                 # the output bank of the block being computed
        ld_mt, ld_nt, ld_kt = (blk(ld_rb, r["mb"], r["mt"]), blk(ld_nb, r["nb"], r["nt"]),
                               blk(ld_kb, r["kb"], r["kt"]))
        cp_mt, cp_nt, cp_kt = (blk(cp_rb, r["mb"], r["mt"]), blk(cp_nb, r["nb"], r["nt"]),
                               blk(cp_kb, r["kb"], r["kt"]))
        st_mt, st_nt = blk(st_rb, r["mb"], r["mt"]), blk(st_nb, r["nb"], r["nt"])
        cp_last_kb = cp_kb + r["kt"] >= r["kb"]
        # DRAM addresses of the commands: each activity's first from registers computed
        # during the phase before (in two stages, from the step that comes next), the
        # next ones a row stride on; no multiplier between a counter and the DMA
        a_stride, w_stride = wbytes * p.a_words, wbytes * p.w_words
        o_stride = wbytes * p.o_words
        a_ptr, w_ptr, o_ptr = Signal(32), Signal(32), Signal(32)
        pre_ai, pre_wi, pre_oi = Signal(32), Signal(32), Signal(32)
        pre_a, pre_w, pre_o = Signal(32), Signal(32), Signal(32)
        a_step, w_step, o_step = Signal(32), Signal(32), Signal(32)
        m.d.sync += [a_step.eq(r["kb"] * a_stride), w_step.eq(r["kb"] * w_stride),
                     o_step.eq(r["nb"] * o_stride),
                     pre_a.eq(r["a_base"] + pre_ai * a_stride),
                     pre_w.eq(r["w_base"] + pre_wi * w_stride),
                     pre_o.eq(r["o_base"] + pre_oi * o_stride)]

        # the step after ld, registered (ld holds still for a phase of at least four
        # cycles, so it is ready long before the phase ends)
        nx_rb, nx_nb, nx_kb, nx_ok = Signal(16), Signal(16), Signal(16), Signal()
        m.d.sync += nx_kb.eq(0)
        with m.If(ld_kb + r["kt"] < r["kb"]):
            m.d.sync += [nx_rb.eq(ld_rb), nx_nb.eq(ld_nb), nx_kb.eq(ld_kb + r["kt"]),
                         nx_ok.eq(ld_ok)]
        with m.Elif(r["order"][0]):                          # column blocks outer
            with m.If(ld_rb + r["mt"] < r["mb"]):
                m.d.sync += [nx_rb.eq(ld_rb + r["mt"]), nx_nb.eq(ld_nb), nx_ok.eq(ld_ok)]
            with m.Else():
                m.d.sync += [nx_rb.eq(0), nx_nb.eq(ld_nb + r["nt"]),
                             nx_ok.eq(ld_ok & (ld_nb + r["nt"] < r["nb"]))]
        with m.Else():                                       # row blocks outer
            with m.If(ld_nb + r["nt"] < r["nb"]):
                m.d.sync += [nx_rb.eq(ld_rb), nx_nb.eq(ld_nb + r["nt"]), nx_ok.eq(ld_ok)]
            with m.Else():
                m.d.sync += [nx_nb.eq(0), nx_rb.eq(ld_rb + r["mt"]),
                             nx_ok.eq(ld_ok & (ld_rb + r["mt"] < r["mb"]))]

        m.d.sync += [pre_ai.eq(nx_rb * r["kb"] + nx_kb), pre_wi.eq(nx_nb * r["kb"] + nx_kb),
                     pre_oi.eq(cp_rb * r["nb"] + cp_nb)]

        go = Signal()                          # launch a phase's activities
        ld_done, cp_done, st_done = Signal(), Signal(), Signal()
        phase = Signal()
        with m.FSM():
            with m.State("IDLE"):
                with m.If(regs.wrote(0)):
                    m.d.sync += [busy.eq(1), done.eq(0), cycles.eq(0),
                                 ld_rb.eq(0), ld_nb.eq(0), ld_kb.eq(0), ld_ok.eq(1),
                                 ld_bank.eq(0), cp_ok.eq(0), st_ok.eq(0), obank.eq(0),
                                 a_ptr.eq(r["a_base"]), w_ptr.eq(r["w_base"])]
                    m.next = "LAUNCH"
            with m.State("LAUNCH"):
                m.d.comb += go.eq(1)
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += phase.eq(ld_done & cp_done & st_done)
                with m.If(phase):
                    # the block cp finishes is stored next; cp takes ld; ld advances
                    m.d.sync += [st_ok.eq(cp_ok & cp_last_kb), st_rb.eq(cp_rb),
                                 st_nb.eq(cp_nb), st_obank.eq(cp_obank),
                                 cp_ok.eq(ld_ok), cp_rb.eq(ld_rb), cp_nb.eq(ld_nb),
                                 cp_kb.eq(ld_kb), cp_bank.eq(ld_bank),
                                 cp_obank.eq(Mux(cp_ok & cp_last_kb, ~obank, obank)),
                                 ld_rb.eq(nx_rb), ld_nb.eq(nx_nb), ld_kb.eq(nx_kb),
                                 ld_ok.eq(nx_ok), ld_bank.eq(~ld_bank),
                                 a_ptr.eq(pre_a), w_ptr.eq(pre_w), o_ptr.eq(pre_o)]
                    # the output bank flips after a block's last K block is computed
                    with m.If(cp_ok & cp_last_kb):
                        m.d.sync += obank.eq(~obank)
                    with m.If(ld_ok | (cp_ok & cp_last_kb)):
                        m.next = "LAUNCH"
                    with m.Else():
                        m.d.sync += [busy.eq(0), done.eq(1)]
                        m.next = "IDLE"

        # ------------------------------------------------------------ loader
        l_run = Signal()
        l_part = Signal()                      # 0: activation rows, 1: weight columns
        l_idx = Signal(16)                     # command: row / column block in the step
        d_part, d_idx, d_c, d_w = Signal(), Signal(16), Signal(16), Signal(16)
        d_run = Signal()
        m.d.comb += [
            rdma.cmd_addr.eq(Mux(l_part, w_ptr, a_ptr)),
            rdma.cmd_words.eq(Mux(l_part, ld_kt * p.w_words, ld_kt * p.a_words)),
            rdma.cmd_valid.eq(l_run),
            ld_done.eq(~l_run & ~d_run),
        ]
        with m.If(go & ld_ok):
            m.d.sync += [l_run.eq(1), l_part.eq(0), l_idx.eq(0),
                         d_run.eq(1), d_part.eq(0), d_idx.eq(0), d_c.eq(0), d_w.eq(0)]
        with m.If(l_run & rdma.cmd_ready):
            with m.If(l_part):
                m.d.sync += w_ptr.eq(w_ptr + w_step)
            with m.Else():
                m.d.sync += a_ptr.eq(a_ptr + a_step)
            with m.If(~l_part & (l_idx + 1 == ld_mt)):
                m.d.sync += [l_part.eq(1), l_idx.eq(0)]
            with m.Elif(l_part & (l_idx + 1 == ld_nt)):
                m.d.sync += l_run.eq(0)
            with m.Else():
                m.d.sync += l_idx.eq(l_idx + 1)
        # data side: words in the order the commands asked for them
        row_reg = Signal(max(a_row, w_row))
        row_next = Signal.like(row_reg)
        m.d.comb += row_next.eq(row_reg)
        # the word lands by a case on its index, not a variable shift of the whole row:
        # the same multiplexer in hardware, a fraction of Verilator's work per cycle
        with m.Switch(d_w):
            for i in range(len(row_reg) // db):
                with m.Case(i):
                    m.d.comb += row_next.word_select(i, db).eq(rdma.o_data)
        row_words = Mux(d_part, p.w_words, p.a_words)
        row_end = rdma.o_valid & (d_w + 1 == row_words)
        awp = abuf.write_port()
        m.d.comb += [awp.addr.eq(ld_bank * a_rows + d_idx * p.buf_k + d_c),
                     awp.data.eq(row_next[:a_row]), awp.en.eq(row_end & ~d_part)]
        for u in range(U):
            wp = wbufs[u].write_port()
            m.d.comb += [wp.addr.eq(ld_bank * w_rows + (d_idx // U) * p.buf_k + d_c),
                         wp.data.eq(row_next[:w_row]),
                         wp.en.eq(row_end & d_part & (d_idx % U == u))]
        with m.If(rdma.o_valid):
            m.d.sync += [row_reg.eq(row_next), d_w.eq(d_w + 1)]
            with m.If(row_end):
                m.d.sync += [d_w.eq(0), d_c.eq(d_c + 1)]
                with m.If(d_c + 1 == ld_kt):
                    m.d.sync += [d_c.eq(0), d_idx.eq(d_idx + 1)]
                    with m.If(~d_part & (d_idx + 1 == ld_mt)):
                        m.d.sync += [d_part.eq(1), d_idx.eq(0)]
                    with m.If(d_part & (d_idx + 1 == ld_nt)):
                        m.d.sync += d_run.eq(0)

        # ------------------------------------------------------------ compute
        accepted = Signal()                    # the units take a beat (they move together)
        m.d.comb += accepted.eq(units[0].i_stream.valid & units[0].i_stream.ready)
        self.compute(m, types.SimpleNamespace(
            go=go, ok=cp_ok, done=cp_done, bank=cp_bank, obank=cp_obank, kb=cp_kb,
            mt=cp_mt, nt=cp_nt, kt=cp_kt, groups=(cp_nt + U - 1) // U, accepted=accepted,
            abuf=abuf, wbufs=wbufs, obufs=obufs, units=units,
            a_rows=a_rows, w_rows=w_rows, o_rows=o_rows, gpb=gpb))

        # ------------------------------------------------------------ store
        s_ri, s_j, s_w = Signal(16), Signal(16), Signal(16)
        srps = [ob.read_port() for ob in obufs]
        sel = Signal(range(U)) if U > 1 else None
        row_data = Signal(o_row)
        for u in range(U):
            m.d.comb += srps[u].addr.eq(st_obank * o_rows + s_ri * gpb + s_j // U)
        if U > 1:
            m.d.sync += sel.eq(s_j % U)
            with m.Switch(sel):
                for u in range(U):
                    with m.Case(u):
                        m.d.comb += row_data.eq(srps[u].data)
        else:
            m.d.comb += row_data.eq(srps[0].data)
        m.d.comb += [wdma.cmd_addr.eq(o_ptr),
                     wdma.cmd_words.eq(st_nt * p.o_words),
                     wdma.i_data.eq(Array(row_data.word_select(i, db)
                                          for i in range(p.o_words))[s_w])]
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += st_done.eq(1)
                with m.If(go & st_ok):
                    m.d.sync += [s_ri.eq(0), s_j.eq(0), s_w.eq(0)]
                    m.next = "CMD"
            with m.State("CMD"):
                m.d.comb += wdma.cmd_valid.eq(1)
                with m.If(wdma.cmd_ready):
                    m.d.sync += o_ptr.eq(o_ptr + o_step)
                    m.next = "PRIME"
            with m.State("PRIME"):
                m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += wdma.i_valid.eq(1)
                with m.If(wdma.i_ready):
                    m.d.sync += s_w.eq(s_w + 1)
                    with m.If(s_w + 1 == p.o_words):
                        m.d.sync += [s_w.eq(0), s_j.eq(s_j + 1)]
                        with m.If(s_j + 1 < st_nt):
                            m.next = "PRIME"
                        with m.Elif(s_ri + 1 < st_mt):
                            m.d.sync += [s_j.eq(0), s_ri.eq(s_ri + 1)]
                            m.next = "CMD"
                        with m.Else():
                            m.next = "DRAIN"
            with m.State("DRAIN"):
                with m.If(wdma.idle):
                    m.next = "IDLE"
        return m


class EngineBench(wiring.Component):
    """An engine with its simulation DRAM (``AxiMemory``): what the cocotb bench drives.

    Members
    -------
    s_axil : In(axi4_lite_signature());  done : Out(1)
    latency, interval, random_stalls, bd_addr, bd_wdata, bd_we, bd_rdata : the memory's
    """

    def __init__(self, engine, words: int):
        from tokenfab.hw.common.axi import AxiMemory
        self.engine, self.words = engine, words
        params = engine.params
        self._mem = AxiMemory(data_bits=params.data_bits, words=words)
        super().__init__({
            "s_axil": In(axi4_lite_signature()), "done": Out(1),
            "latency": In(8), "interval": In(4), "random_stalls": In(1),
            "bd_addr": In(range(words)), "bd_wdata": In(params.data_bits), "bd_we": In(1),
            "bd_rdata": Out(params.data_bits)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = eng = self.engine
        m.submodules.dram = mem = self._mem
        wiring.connect(m, eng.m_axi, mem.axi)
        wiring.connect(m, wiring.flipped(self.s_axil), eng.s_axil)
        m.d.comb += [self.done.eq(eng.done), mem.latency.eq(self.latency),
                     mem.interval.eq(self.interval), mem.random_stalls.eq(self.random_stalls),
                     mem.bd_addr.eq(self.bd_addr), mem.bd_wdata.eq(self.bd_wdata),
                     mem.bd_we.eq(self.bd_we), self.bd_rdata.eq(mem.bd_rdata)]
        return m




def add_lanes(old, new, lanes: int, bits: int):
    """``old + new`` lane by lane, ``lanes`` lanes of ``bits`` bits, each wrapping."""
    return Cat(*[(old[i * bits:(i + 1) * bits] + new[i * bits:(i + 1) * bits])[:bits]
                 for i in range(lanes)])


class EngineIdBench(wiring.Component):
    """An engine with the AXI4 ID signals its single-ID manager leaves out (``awid`` and
    ``arid`` driven 0, ``bid`` and ``rid`` taken and ignored), for AXI models that need
    them, such as cocotbext-axi's ``AxiRam``.

    Members
    -------
    m_axi : Out(axi4_master_signature(data_bits)); s_axil : In(axi4_lite_signature());
    done : Out(1); m_axi__awid, m_axi__arid : Out(1); m_axi__bid, m_axi__rid : In(1)
    """

    def __init__(self, engine):
        self.engine = engine
        super().__init__({
            "m_axi": Out(axi4_master_signature(engine.params.data_bits)),
            "s_axil": In(axi4_lite_signature()), "done": Out(1),
            "m_axi__awid": Out(1), "m_axi__arid": Out(1),
            "m_axi__bid": In(1), "m_axi__rid": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = eng = self.engine
        wiring.connect(m, wiring.flipped(self.m_axi), eng.m_axi)
        wiring.connect(m, wiring.flipped(self.s_axil), eng.s_axil)
        m.d.comb += self.done.eq(eng.done)
        return m
