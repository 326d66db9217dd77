"""AXI4 building blocks shared by the engines: a read DMA and a write DMA (AXI4 masters,
INCR bursts), an AXI4-Lite register file, and a simulation memory with a fixed or random
latency and a set bandwidth (the DRAM the engine benches run against).

Timing contracts (the engines' timing models restate them; ``arch_models/common/dma.py``):

- ``AxiReadDma`` takes one command (byte address, words) at a time, when every burst of
  the previous one is issued. It splits a command into INCR bursts of at most
  ``burst_beats`` words that do not cross a 4 KiB boundary, and issues one AR per cycle
  while fewer than ``outstanding`` bursts are unanswered. ``rready`` is always high: the
  words leave on ``o_valid``/``o_data`` in the cycle they arrive.
- ``AxiWriteDma`` takes one command at a time, when every word of the previous one is
  sent; per burst an AW, then its W beats as ``i_valid`` words come (``i_ready`` when the
  W channel takes one). A command is done (``idle``) when all its B responses are in.
- ``AxiMemory`` (simulation only) accepts one AR per cycle into a queue; a burst's first
  R beat comes ``latency`` cycles after its AR was accepted, and not before the previous
  burst's last beat plus ``interval``; beats of a burst come every ``interval`` cycles.
  A burst's beats may follow the previous burst's with no gap (``latency`` >= 2).
  Writes: an AW is taken when no write burst is open, W beats every ``interval`` cycles,
  the B response the cycle after the last. ``random_stalls`` spaces each R and W beat by a
  pseudo-random 1 to ``2 interval - 1`` cycles instead.
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

ADDR_BITS = 32


def axi4_master_signature(data_bits: int) -> wiring.Signature:
    """The AXI4 manager ports an engine drives (one ID, INCR bursts, full strobes)."""
    return wiring.Signature({
        "awaddr": Out(ADDR_BITS), "awlen": Out(8), "awsize": Out(3), "awburst": Out(2),
        "awvalid": Out(1), "awready": In(1),
        "wdata": Out(data_bits), "wstrb": Out(data_bits // 8), "wlast": Out(1),
        "wvalid": Out(1), "wready": In(1),
        "bresp": In(2), "bvalid": In(1), "bready": Out(1),
        "araddr": Out(ADDR_BITS), "arlen": Out(8), "arsize": Out(3), "arburst": Out(2),
        "arvalid": Out(1), "arready": In(1),
        "rdata": In(data_bits), "rresp": In(2), "rlast": In(1), "rvalid": In(1),
        "rready": Out(1),
    })


def axi4_lite_signature() -> wiring.Signature:
    """The AXI4-Lite manager ports (32-bit registers); a register file takes
    ``In(axi4_lite_signature())``."""
    return wiring.Signature({
        "awaddr": Out(12), "awvalid": Out(1), "awready": In(1),
        "wdata": Out(32), "wvalid": Out(1), "wready": In(1),
        "bresp": In(2), "bvalid": In(1), "bready": Out(1),
        "araddr": Out(12), "arvalid": Out(1), "arready": In(1),
        "rdata": In(32), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
    })


def burst_length(m: Module, addr, remaining, burst_beats: int, word_bytes: int) -> Signal:
    """The next INCR burst's words: at most ``burst_beats`` and ``remaining``, and none
    past the 4 KiB page of ``addr`` (AXI4 bursts must not cross one)."""
    page_words = Signal(range(4096 // word_bytes + 1))
    length = Signal(range(burst_beats + 1))
    m.d.comb += page_words.eq((4096 - addr[:12]) // word_bytes)
    with m.If((remaining <= burst_beats) & (remaining <= page_words)):
        m.d.comb += length.eq(remaining)
    with m.Elif(page_words < burst_beats):
        m.d.comb += length.eq(page_words)
    with m.Else():
        m.d.comb += length.eq(burst_beats)
    return length


class AxiReadDma(wiring.Component):
    """AXI4 read manager: commands of ``words`` words from byte address ``addr`` become
    INCR bursts (see the module doc); the data leave as ``o_valid``/``o_data``.

    Members
    -------
    axi : Out(axi4_master_signature(data_bits)); only its read channels are driven
    cmd_valid, cmd_ready, cmd_addr, cmd_words : the command handshake
    o_valid, o_data : a word arrived this cycle
    idle : no command open and no burst unanswered
    """

    def __init__(self, *, data_bits: int, burst_beats: int, outstanding: int,
                 max_words: int):
        self.data_bits, self.burst_beats, self.outstanding = data_bits, burst_beats, outstanding
        self.word_bytes = data_bits // 8
        super().__init__({
            "axi": Out(axi4_master_signature(data_bits)),
            "cmd_valid": In(1), "cmd_ready": Out(1), "cmd_addr": In(ADDR_BITS),
            "cmd_words": In(range(max_words + 1)),
            "o_valid": Out(1), "o_data": Out(data_bits), "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ax, wb = self.axi, self.word_bytes
        addr = Signal(ADDR_BITS)
        remaining = Signal.like(self.cmd_words)
        inflight = Signal(range(self.outstanding + 1))
        length = burst_length(m, addr, remaining, self.burst_beats, wb)
        issue = Signal()
        done_burst = Signal()
        m.d.comb += [
            ax.araddr.eq(addr), ax.arlen.eq(length - 1), ax.arburst.eq(1),
            ax.arsize.eq(self.word_bytes.bit_length() - 1),
            ax.arvalid.eq((remaining != 0) & (inflight < self.outstanding)),
            issue.eq(ax.arvalid & ax.arready),
            ax.rready.eq(1),
            self.o_valid.eq(ax.rvalid),
            self.o_data.eq(ax.rdata),
            done_burst.eq(ax.rvalid & ax.rlast),
            self.cmd_ready.eq(remaining == 0),
            self.idle.eq((remaining == 0) & (inflight == 0)),
        ]
        with m.If(issue & ~done_burst):
            m.d.sync += inflight.eq(inflight + 1)
        with m.Elif(~issue & done_burst):
            m.d.sync += inflight.eq(inflight - 1)
        with m.If(self.cmd_valid & self.cmd_ready):
            m.d.sync += [addr.eq(self.cmd_addr), remaining.eq(self.cmd_words)]
        with m.Elif(issue):
            m.d.sync += [addr.eq(addr + length * wb), remaining.eq(remaining - length)]
        return m


class AxiWriteDma(wiring.Component):
    """AXI4 write manager: commands of ``words`` words to byte address ``addr``; the words
    come on ``i_valid``/``i_data`` and are taken when ``i_ready`` (see the module doc).

    Members
    -------
    axi : Out(axi4_master_signature(data_bits)); only its write channels are driven
    cmd_valid, cmd_ready, cmd_addr, cmd_words : the command handshake
    i_valid, i_ready, i_data : the words to write
    idle : no command open and no B response outstanding
    """

    def __init__(self, *, data_bits: int, burst_beats: int, max_words: int):
        self.data_bits, self.burst_beats = data_bits, burst_beats
        self.word_bytes = data_bits // 8
        super().__init__({
            "axi": Out(axi4_master_signature(data_bits)),
            "cmd_valid": In(1), "cmd_ready": Out(1), "cmd_addr": In(ADDR_BITS),
            "cmd_words": In(range(max_words + 1)),
            "i_valid": In(1), "i_ready": Out(1), "i_data": In(data_bits), "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ax, wb = self.axi, self.word_bytes
        addr = Signal(ADDR_BITS)
        remaining = Signal.like(self.cmd_words)       # words not yet covered by an AW
        beats = Signal(range(self.burst_beats + 1))    # W beats left in the open burst
        pending_b = Signal(range(4097))
        length = burst_length(m, addr, remaining, self.burst_beats, wb)
        aw = Signal()
        w = Signal()
        b = Signal()
        m.d.comb += [
            ax.awaddr.eq(addr), ax.awlen.eq(length - 1), ax.awburst.eq(1),
            ax.awsize.eq(self.word_bytes.bit_length() - 1),
            ax.awvalid.eq((remaining != 0) & (beats == 0)),
            aw.eq(ax.awvalid & ax.awready),
            ax.wvalid.eq((beats != 0) & self.i_valid),
            ax.wdata.eq(self.i_data), ax.wstrb.eq(-1), ax.wlast.eq(beats == 1),
            w.eq(ax.wvalid & ax.wready),
            self.i_ready.eq((beats != 0) & ax.wready),
            ax.bready.eq(1),
            b.eq(ax.bvalid),
            self.cmd_ready.eq((remaining == 0) & (beats == 0)),
            self.idle.eq((remaining == 0) & (beats == 0) & (pending_b == 0)),
        ]
        with m.If(aw):
            m.d.sync += [addr.eq(addr + length * wb), remaining.eq(remaining - length),
                         beats.eq(length)]
        with m.Elif(w):
            m.d.sync += beats.eq(beats - 1)
        with m.If(self.cmd_valid & self.cmd_ready):
            m.d.sync += [addr.eq(self.cmd_addr), remaining.eq(self.cmd_words)]
        with m.If(aw & ~b):
            m.d.sync += pending_b.eq(pending_b + 1)
        with m.Elif(~aw & b):
            m.d.sync += pending_b.eq(pending_b - 1)
        return m


class AxiLiteRegs(wiring.Component):
    """AXI4-Lite register file of ``n`` 32-bit registers at byte offsets ``4 i``: a write
    needs AW and W together and answers B the next cycle; a read answers R the next
    cycle. ``regs[i]`` hold what was written; reads return ``status[i]`` for the indices
    in ``read_only`` (hardware-driven), ``regs[i]`` otherwise. ``wrote[i]`` pulses for one
    cycle after a write of register ``i``.

    Members
    -------
    bus : In(axi4_lite_signature())
    regs : Out(32) x n;  status : In(32) x n;  wrote : Out(1) x n
    """

    def __init__(self, n: int, read_only=()):
        self.n, self.read_only = n, tuple(read_only)
        members = {"bus": In(axi4_lite_signature())}
        for i in range(n):
            members[f"reg{i}"] = Out(32)
            members[f"status{i}"] = In(32)
            members[f"wrote{i}"] = Out(1)
        super().__init__(members)

    def reg(self, i):
        return getattr(self, f"reg{i}")

    def status(self, i):
        return getattr(self, f"status{i}")

    def wrote(self, i):
        return getattr(self, f"wrote{i}")

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        take_w = Signal()
        m.d.comb += [
            bus.awready.eq(bus.awvalid & bus.wvalid & ~bus.bvalid),
            bus.wready.eq(bus.awvalid & bus.wvalid & ~bus.bvalid),
            take_w.eq(bus.awready),
            bus.arready.eq(bus.arvalid & ~bus.rvalid),
        ]
        for i in range(self.n):
            m.d.sync += self.wrote(i).eq(take_w & (bus.awaddr[2:] == i))
            with m.If(take_w & (bus.awaddr[2:] == i)):
                m.d.sync += self.reg(i).eq(bus.wdata)
        with m.If(take_w):
            m.d.sync += bus.bvalid.eq(1)
        with m.Elif(bus.bready):
            m.d.sync += bus.bvalid.eq(0)
        with m.If(bus.arready):
            m.d.sync += bus.rvalid.eq(1)
            with m.Switch(bus.araddr[2:]):
                for i in range(self.n):
                    with m.Case(i):
                        src = self.status(i) if i in self.read_only else self.reg(i)
                        m.d.sync += bus.rdata.eq(src)
        with m.Elif(bus.rready):
            m.d.sync += bus.rvalid.eq(0)
        return m


class AxiMemory(wiring.Component):
    """Simulation DRAM: an AXI4 subordinate over ``words`` words (see the module doc for
    its timing), with a back door for the bench (``bd_addr``, ``bd_wdata``, ``bd_we``;
    ``bd_rdata`` reads ``bd_addr`` combinationally). ``latency``, ``interval`` and
    ``random_stalls`` are inputs, set by the bench before a run.

    Members
    -------
    axi : In(axi4_master_signature(data_bits))
    """

    def __init__(self, *, data_bits: int, words: int, queue: int = 16):
        self.data_bits, self.words, self.queue = data_bits, words, queue
        self.word_bytes = data_bits // 8
        super().__init__({
            "axi": In(axi4_master_signature(data_bits)),
            "latency": In(8), "interval": In(4), "random_stalls": In(1),
            "bd_addr": In(range(words)), "bd_wdata": In(data_bits), "bd_we": In(1),
            "bd_rdata": Out(data_bits),
        })

    def elaborate(self, platform):
        m = Module()
        ax, wb = self.axi, self.word_bytes
        idx_bits = (self.words - 1).bit_length()
        m.submodules.mem = mem = Memory(shape=unsigned(self.data_bits), depth=self.words,
                                        init=[])
        rd = mem.read_port(domain="comb")
        bd = mem.read_port(domain="comb")
        wr = mem.write_port()
        now = Signal(32)
        m.d.sync += now.eq(now + 1)
        # one pseudo-random byte per beat for each direction: a 16-bit LFSR stepped eight
        # times per draw, so that successive draws do not share bits
        lfsr_r = Signal(16, init=0xACE1)
        lfsr_w = Signal(16, init=0x1D2B)
        r_next, w_next = _lfsr_step(m, lfsr_r, 8), _lfsr_step(m, lfsr_w, 8)

        # AR queue: address, length and the cycle its data may start
        q = self.queue
        m.submodules.qa = qa = Memory(shape=unsigned(ADDR_BITS), depth=q, init=[])
        m.submodules.ql = ql = Memory(shape=unsigned(8), depth=q, init=[])
        m.submodules.qt = qt = Memory(shape=unsigned(32), depth=q, init=[])
        head = Signal(range(q))
        tail = Signal(range(q))
        count = Signal(range(q + 1))
        push = Signal()
        pop = Signal()
        wa, wl, wt = qa.write_port(), ql.write_port(), qt.write_port()
        ra, rl, rt = (qa.read_port(domain="comb"), ql.read_port(domain="comb"),
                      qt.read_port(domain="comb"))
        m.d.comb += [
            ax.arready.eq(count < q),
            push.eq(ax.arvalid & ax.arready),
            wa.addr.eq(tail), wa.data.eq(ax.araddr), wa.en.eq(push),
            wl.addr.eq(tail), wl.data.eq(ax.arlen), wl.en.eq(push),
            wt.addr.eq(tail), wt.data.eq(now + self.latency - 1), wt.en.eq(push),
            ra.addr.eq(head), rl.addr.eq(head), rt.addr.eq(head),
        ]
        with m.If(push):
            m.d.sync += tail.eq(_wrap(tail, q))
        with m.If(push & ~pop):
            m.d.sync += count.eq(count + 1)
        with m.Elif(~push & pop):
            m.d.sync += count.eq(count - 1)

        # R channel: one burst at a time; a beat when the gap since the last has passed
        active = Signal()
        raddr = Signal(ADDR_BITS)
        left = Signal(9)
        gap = Signal(8)                     # cycles until the next beat may go
        beat = Signal()
        final = Signal()
        start = Signal()
        stall = Signal(8)
        m.d.comb += [
            beat.eq(active & (gap == 0)),
            final.eq(beat & (left == 1)),
            start.eq((~active | final) & (count != 0) & (now >= rt.data)),
            ax.rvalid.eq(beat),
            ax.rlast.eq(final),
            ax.rresp.eq(0),
            rd.addr.eq(raddr[(wb.bit_length() - 1):][:idx_bits]),
            ax.rdata.eq(rd.data),
            pop.eq(start),
            stall.eq(_spacing(self.random_stalls, lfsr_r[:8], self.interval)),
        ]
        with m.If(beat):
            m.d.sync += [raddr.eq(raddr + wb), left.eq(left - 1), gap.eq(stall - 1),
                         lfsr_r.eq(r_next)]
            with m.If(final):
                m.d.sync += active.eq(0)
        with m.Elif(gap != 0):
            m.d.sync += gap.eq(gap - 1)
        with m.If(start):
            m.d.sync += [active.eq(1), raddr.eq(ra.data), left.eq(rl.data + 1),
                         head.eq(_wrap(head, q))]

        # write side: one open burst; W beats on the same gap rule; B the cycle after
        wopen = Signal()
        waddr = Signal(ADDR_BITS)
        wgap = Signal(8)
        wstall = Signal(8)
        m.d.comb += [
            wstall.eq(_spacing(self.random_stalls, lfsr_w[:8], self.interval)),
            ax.awready.eq(~wopen),
            ax.wready.eq(wopen & (wgap == 0)),
            ax.bresp.eq(0),
            wr.addr.eq(Mux(self.bd_we, self.bd_addr,
                           waddr[(wb.bit_length() - 1):][:idx_bits])),
            wr.data.eq(Mux(self.bd_we, self.bd_wdata, ax.wdata)),
            wr.en.eq(self.bd_we | (ax.wvalid & ax.wready)),
            bd.addr.eq(self.bd_addr), self.bd_rdata.eq(bd.data),
        ]
        with m.If(ax.awvalid & ax.awready):
            m.d.sync += [wopen.eq(1), waddr.eq(ax.awaddr)]
        with m.If(ax.wvalid & ax.wready):
            m.d.sync += [waddr.eq(waddr + wb), wgap.eq(wstall - 1),
                         lfsr_w.eq(w_next)]
            with m.If(ax.wlast):
                m.d.sync += [wopen.eq(0), ax.bvalid.eq(1)]
        with m.Elif(wgap != 0):
            m.d.sync += wgap.eq(wgap - 1)
        with m.If(ax.bvalid & ax.bready):
            m.d.sync += ax.bvalid.eq(0)
        return m


def _wrap(i, n):
    return Mux(i == n - 1, 0, i + 1)


def _lfsr_step(m, state, n: int):
    """``state`` of a 16-bit Fibonacci LFSR (taps 16, 14, 13, 11) after ``n`` steps (each
    step a signal of its own, so the expression does not grow with ``n``)."""
    from amaranth.hdl import Cat
    for _ in range(n):
        nxt = Signal(16)
        m.d.comb += nxt.eq(Cat(state[15] ^ state[13] ^ state[12] ^ state[10], state[:15]))
        state = nxt
    return state


def _spacing(random, bits, interval):
    """Cycles from one beat to the next: ``interval``, or with ``random`` 1 to
    ``2 interval - 1`` drawn from LFSR ``bits`` (mean close to ``interval``)."""
    return Mux(random, bits % (2 * interval - 1) + 1, interval)
