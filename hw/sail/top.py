"""One SAIL C-SRAM block: LUT-GEMV in 256 x 256 SRAM arrays beside an LLC slice (our
design where the paper is silent; ``sail_mixpe.md`` A.3, ``tokenfab.hw.sail.params``).

One input beat is one instruction (``op``, ``addr``, 256-bit ``data``):

- ``WRITE`` stores ``data`` in line ``addr`` of the slice window (1 cycle);
- ``READ`` returns line ``addr`` on ``o_stream`` one cycle later;
- ``GEMV`` (the one new instruction) takes a :func:`desc_layout` descriptor in ``data``
  and runs a whole GEMV tile; the block takes no other beat until it is done.

A GEMV, state by state (cycles per state in brackets; the cycle model restates them):

- ``QMAX``/``QCONV`` [2 (L + 1) per token, L = k_lines]: type conversion. Pass 1 reads
  the token's FP16 lines and keeps the largest exponent; pass 2 reads them again and
  writes ``act_bits``-bit integers, each significand shifted right by its distance from
  that exponent (16 shifters, one line per cycle).
- per group of ``nbw`` inputs: ``WLOAD`` [nbw x arrays + 1] reads the group's weight
  lines into the arrays' weight latches; ``BUILD`` [2**nbw] builds every table in its
  array, one word-line per cycle: row ``p`` = row ``p & (p - 1)`` (read the cycle before,
  through a read port transparent to the write) + the weight of ``p``'s lowest set bit;
  then per token ``FETCH`` [1] reads its quantised line and ``LOOK``/``MISS``
  [per activation bit, LSB first: 1, or 2 on an array read] form the pattern of bit
  ``i`` of the group's ``nbw`` activations. The all-zero pattern and a hit in the
  pattern-reuse table (fully associative, FIFO, cleared per group) take the row from
  the table in the same cycle; a miss reads the word-line in every array (a synchronous
  SRAM read: the next lookup cannot start before it, since it may hit the row being
  filled) and fills the table (its rows in a register file read in the cycle of the hit,
  its tags in flip-flops). The periphery adds row << i to the token's sums, or subtracts
  it at the sign bit. The sums live in an SRAM bank row per token slot; a token's row is
  read at FETCH into a working register and written back at its last lookup (the first
  group starts from zero).
- ``DEQ`` [ceil(n / 8) + 1 per token]: per output line, read the scales' line; eight
  units give ``fl32(acc * s * 2**(emax - 13 - act_bits))`` (one RNE rounding) or the raw
  accumulator, from the token's bank row (read in the first cycle) moved up by eight
  outputs a line.
"""
from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data
from amaranth.lib.memory import Memory

from tokenfab.hw.common import fp
from tokenfab.hw.common.sequencer import StreamUnit
from tokenfab.hw.sail.params import (FIELD_BITS, FP16_PER_LINE, LINE_BITS, OPS,
                                     WORDLINES, Y_PER_LINE, Params)


def desc_layout(p: Params) -> data.StructLayout:
    f = unsigned(FIELD_BITS)
    return data.StructLayout({"x": f, "q": f, "w": f, "s": f, "y": f, "n": f,
                              "k_lines": f, "b": unsigned(8), "dequant": unsigned(1)})


def in_layout(p: Params) -> data.StructLayout:
    return data.StructLayout({"op": unsigned(2), "addr": unsigned(FIELD_BITS),
                              "data": unsigned(LINE_BITS)})


def out_layout(p: Params):
    return unsigned(LINE_BITS)


def _max(a, b):
    return Mux(a > b, a, b)


class SailBlock(StreamUnit):
    """A C-SRAM block: ``arrays`` table arrays, a data-feeding module with a
    pattern-reuse table, ``slots`` accumulator banks, the conversion units and the GEMV
    controller, over a window of ``lines`` 256-bit lines of its LLC slice.

    Members: ``i_stream`` and ``o_stream`` (see ``StreamUnit``).
    """

    PARAMS = Params
    LAYOUTS = (in_layout, out_layout)

    def elaborate(self, platform):
        p = self.params
        m = Module()
        A, O, E, NBW, AB = p.arrays, p.outputs_per_array, p.entry_bits, p.nbw, p.act_bits
        N = A * O
        per_line = FP16_PER_LINE // NBW
        abits = p.addr_bits

        # ---- the slice window: one read and one write port
        m.submodules.lines = lmem = Memory(shape=unsigned(LINE_BITS), depth=p.lines, init=[])
        lw = lmem.write_port()
        lr = lmem.read_port()
        laddr = Signal(abits)
        m.d.comb += lr.addr.eq(laddr)

        # ---- the C-SRAM arrays: one table each, O entries of E bits per word-line
        wps, rps = [], []
        for a in range(A):
            mem = Memory(shape=unsigned(O * E), depth=WORDLINES, init=[])
            m.submodules[f"array{a}"] = mem
            wp = mem.write_port()
            wps.append(wp)
            rps.append(mem.read_port(transparent_for=(wp,)))
        arr_addr = Signal(range(WORDLINES))
        m.d.comb += [rp.addr.eq(arr_addr) for rp in rps]

        # ---- controller state
        d = Signal(desc_layout(p))
        t = Signal(range(max(p.slots, 2)))
        cnt = Signal(FIELD_BITS + 1)                 # l, idx, pattern or output line
        i = Signal(range(max(AB, 2)))
        g = Signal(FIELD_BITS + 1)
        gsub = Signal(range(max(per_line, 2)))
        tok_x = Signal(abits)
        tok_q = Signal(abits)
        tok_y = Signal(abits)
        qg = Signal(abits)                           # q line of group g, token 0
        qrow = Signal(abits)
        wrow = Signal(abits)
        emax = [Signal(5, name=f"emax{s}") for s in range(p.slots)]
        emax_t = Array(emax)[t]
        emax_run = Signal(5)
        wl = [Signal(O * p.weight_bits, name=f"wl{k}") for k in range(NBW * A)]
        # accumulator banks: one SRAM row of N accumulators per token slot, worked on in
        # a register while one token's lookups run (read at FETCH, written at its last)
        acc_shape = data.ArrayLayout(signed(p.acc_bits), N)
        m.submodules.banks = banks = Memory(shape=acc_shape, depth=p.slots, init=[])
        bank_w = banks.write_port()
        bank_r = banks.read_port()
        m.d.comb += bank_r.addr.eq(t)
        work = Signal(acc_shape)
        first_group = Signal()
        o_valid = Signal()
        rd_addr = Signal(abits)

        i_pl = self.i_stream.payload
        m.d.comb += [self.o_stream.valid.eq(o_valid), self.o_stream.payload.eq(lr.data)]
        with m.If(self.o_stream.ready):
            m.d.sync += o_valid.eq(0)
        last_t = t == d.b - 1

        # ---- the data-feeding module: this lookup's pattern and the reuse table
        acts = lr.data.word_select(gsub, NBW * AB)          # this group's activations
        pattern = Signal(NBW)
        m.d.comb += pattern.eq(Cat(acts.word_select(j, AB).bit_select(i, 1)
                                   for j in range(NBW)))
        E_prt = p.prt_entries
        prt_valid = [Signal(name=f"prt_v{e}") for e in range(E_prt)]
        prt_tag = [Signal(NBW, name=f"prt_tag{e}") for e in range(E_prt)]
        prt_ptr = Signal(range(max(E_prt, 2)))
        hits = [Signal(name=f"prt_hit{e}") for e in range(E_prt)]
        m.d.comb += [h.eq(v & (tag == pattern)) for h, v, tag in zip(hits, prt_valid, prt_tag)]
        hit_rows = [Signal(O * E, name=f"prt_row{a}") for a in range(A)]
        if E_prt:
            # the table's rows: a register file read in the cycle of the hit
            m.submodules.prt = prt_mem = Memory(shape=unsigned(A * O * E), depth=E_prt,
                                                init=[])
            prt_w = prt_mem.write_port()
            prt_r = prt_mem.read_port(domain="comb")
            for e in range(E_prt):
                with m.If(hits[e]):
                    m.d.comb += prt_r.addr.eq(e)
            m.d.comb += [hit_rows[a].eq(Mux(pattern == 0, 0, prt_r.data[a * O * E:
                                                                       (a + 1) * O * E]))
                         for a in range(A)]
        short = Signal()                     # served without an array read
        if E_prt:
            m.d.comb += short.eq((pattern == 0) | Cat(*hits).any())

        # ---- the periphery: accumulate a row (from the arrays or the table) << i
        rows_now = [Signal(O * E, name=f"row{a}") for a in range(A)]
        do_acc = Signal()
        base = Signal(acc_shape)              # the token's sums before this lookup
        with m.If(i != 0):
            m.d.comb += base.eq(work)
        with m.Elif(~first_group):
            m.d.comb += base.eq(bank_r.data)
        summed = Signal(acc_shape)
        for a in range(A):
            for o in range(O):
                n = a * O + o
                term = rows_now[a][o * E:(o + 1) * E].as_signed() << i
                m.d.comb += summed[n].eq(Mux(i == AB - 1, base[n] - term, base[n] + term))
        with m.If(do_acc):
            m.d.sync += work.eq(summed)
            with m.If(i == AB - 1):
                m.d.comb += [bank_w.addr.eq(t), bank_w.data.eq(summed), bank_w.en.eq(1)]

        def advance():
            """After a token's last activation bit: next token, next group or DEQ."""
            with m.If(i == AB - 1):
                m.d.sync += i.eq(0)
                with m.If(last_t):
                    m.d.sync += t.eq(0)
                    with m.If(g == d.k_lines * per_line - 1):      # the last group
                        m.d.sync += [cnt.eq(0), tok_y.eq(d.y)]
                        m.next = "DEQ"
                    with m.Else():
                        nq = Mux(gsub == per_line - 1, qg + 1, qg)
                        m.d.sync += [g.eq(g + 1), wrow.eq(wrow + NBW * A), cnt.eq(0),
                                     first_group.eq(0),
                                     gsub.eq(Mux(gsub == per_line - 1, 0, gsub + 1)),
                                     qg.eq(nq), qrow.eq(nq)]
                        m.next = "WLOAD"
                with m.Else():
                    m.d.sync += [t.eq(t + 1), qrow.eq(qrow + d.k_lines)]
                    m.next = "FETCH"
            with m.Else():
                m.d.sync += i.eq(i + 1)
                m.next = "LOOK"

        # ---- type conversion datapath (16 lanes of one FP16 line)
        lanes = [fp.fp16_fields(m, lr.data[16 * k:16 * (k + 1)], f"x{k}")
                 for k in range(FP16_PER_LINE)]
        line_max = Signal(5)
        lm = lanes[0][1]
        for k, (_, eff, _) in enumerate(lanes[1:]):
            nxt = Signal(5, name=f"xmax{k}")         # a signal per step: no re-expansion
            m.d.comb += nxt.eq(_max(lm, eff))
            lm = nxt
        m.d.comb += line_max.eq(lm)
        qline = []
        for k, (sign, eff, sig) in enumerate(lanes):
            sh = Signal(6, name=f"qsh{k}")
            m.d.comb += sh.eq(emax_t - eff + (12 - AB))
            mag = Signal(11, name=f"qmag{k}")
            m.d.comb += mag.eq(sig >> sh)
            qv = Signal(AB, name=f"q{k}")
            m.d.comb += qv.eq(Mux(sign, -mag, mag))
            qline.append(qv)

        # ---- dequantisation: eight output lanes
        half = Signal()
        deq_src = Signal(acc_shape)          # the token's sums, moved up a line at a time
        m.d.comb += deq_src.eq(Mux(cnt == 1, bank_r.data, work))
        yline = []
        for k in range(Y_PER_LINE):
            s_bits = lr.data.word_select(Cat(Const(k, 3), half), 16)
            s_sign, s_eff, s_sig = fp.fp16_fields(m, s_bits, f"s{k}")
            a_k = deq_src[k] if k < N else Const(0)
            val = Signal(signed(p.acc_bits + 1), name=f"dq_v{k}")
            m.d.comb += val.eq(Mux(s_sign, -a_k, a_k))
            off = Signal(signed(8), name=f"dq_off{k}")
            m.d.comb += off.eq(s_eff - 25 + emax_t - 13 - AB)
            f32 = fp.scaled_int_to_fp32(m, val, s_sig, off, f"dq{k}")
            y = Signal(32, name=f"y{k}")
            lane_ok = ((cnt - 1) << 3) + k < d.n
            m.d.comb += y.eq(Mux(lane_ok, Mux(d.dequant, f32, a_k), 0))
            yline.append(y)

        with m.FSM():
            with m.State("IDLE"):
                op = i_pl.op
                ready = Signal()
                m.d.comb += [ready.eq(Mux(op == OPS["write"], 1,
                                          ~o_valid | self.o_stream.ready)),
                             self.i_stream.ready.eq(ready),
                             laddr.eq(rd_addr),
                             lr.en.eq(~o_valid | self.o_stream.ready)]
                take = self.i_stream.valid & ready
                with m.If(take & (op == OPS["write"])):
                    m.d.comb += [lw.addr.eq(i_pl.addr), lw.data.eq(i_pl.data), lw.en.eq(1)]
                with m.If(take & (op == OPS["read"])):
                    m.d.comb += [laddr.eq(i_pl.addr), lr.en.eq(1)]
                    m.d.sync += [rd_addr.eq(i_pl.addr), o_valid.eq(1)]
                with m.If(take & (op == OPS["gemv"])):
                    desc = data.View(desc_layout(p), i_pl.data[:desc_layout(p).size])
                    m.d.sync += [d.eq(desc), t.eq(0), cnt.eq(0), i.eq(0), g.eq(0),
                                 gsub.eq(0), tok_x.eq(desc.x), tok_q.eq(desc.q),
                                 qg.eq(desc.q), qrow.eq(desc.q), wrow.eq(desc.w)]
                    m.d.sync += first_group.eq(1)        # the banks start from zero
                    m.next = "QMAX"

            with m.State("QMAX"):
                m.d.comb += [laddr.eq(tok_x + cnt), lr.en.eq(1)]
                new = Mux(cnt == 0, 0, _max(emax_run, line_max))
                m.d.sync += [emax_run.eq(new), cnt.eq(cnt + 1)]
                with m.If(cnt == d.k_lines):
                    for s in range(p.slots):
                        with m.If(t == s):
                            m.d.sync += emax[s].eq(new)
                    m.d.sync += cnt.eq(0)
                    m.next = "QCONV"

            with m.State("QCONV"):
                m.d.comb += [laddr.eq(tok_x + cnt), lr.en.eq(1)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt != 0):
                    m.d.comb += [lw.addr.eq(tok_q + cnt - 1), lw.data.eq(Cat(*qline)),
                                 lw.en.eq(1)]
                with m.If(cnt == d.k_lines):
                    m.d.sync += [cnt.eq(0), tok_x.eq(tok_x + d.k_lines),
                                 tok_q.eq(tok_q + d.k_lines)]
                    with m.If(last_t):
                        m.d.sync += t.eq(0)
                        m.next = "WLOAD"
                    with m.Else():
                        m.d.sync += t.eq(t + 1)
                        m.next = "QMAX"

            with m.State("WLOAD"):
                m.d.comb += [laddr.eq(wrow + cnt), lr.en.eq(1)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt != 0):             # shift the weight latches by one line
                    m.d.sync += [wl[k].eq(wl[k + 1]) for k in range(NBW * A - 1)]
                    m.d.sync += wl[-1].eq(lr.data[:O * p.weight_bits])
                with m.If(cnt == NBW * A):
                    m.d.sync += cnt.eq(0)
                    m.d.sync += [v.eq(0) for v in prt_valid]
                    if E_prt:
                        m.d.sync += prt_ptr.eq(0)
                    m.next = "BUILD"

            with m.State("BUILD"):
                pat = cnt[:NBW + 1]
                nxt_pat = pat + 1
                m.d.comb += arr_addr.eq(nxt_pat & pat)          # parent of the next row
                low = Signal(range(max(NBW, 2)))
                for j in reversed(range(NBW)):
                    with m.If(pat[j]):
                        m.d.comb += low.eq(j)
                for a in range(A):
                    entries = []
                    for o in range(O):
                        parent = rps[a].data[o * E:(o + 1) * E].as_signed()
                        wv = Array(wl[j * A + a][o * p.weight_bits:(o + 1) * p.weight_bits]
                                   .as_signed() for j in range(NBW))[low]
                        entries.append((parent + wv)[:E])
                    m.d.comb += [wps[a].addr.eq(pat),
                                 wps[a].data.eq(Mux(pat == 0, 0, Cat(*entries))),
                                 wps[a].en.eq(1)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(pat == p.patterns - 1):
                    m.d.sync += cnt.eq(0)
                    m.next = "FETCH"

            with m.State("FETCH"):
                m.d.comb += [laddr.eq(qrow), lr.en.eq(1)]
                m.next = "LOOK"

            with m.State("LOOK"):
                m.d.comb += [laddr.eq(qrow), lr.en.eq(1), arr_addr.eq(pattern)]
                with m.If(short):
                    m.d.comb += [do_acc.eq(1)] + [r.eq(h) for r, h in zip(rows_now, hit_rows)]
                    advance()
                with m.Else():
                    m.next = "MISS"

            with m.State("MISS"):
                m.d.comb += [laddr.eq(qrow), lr.en.eq(1), do_acc.eq(1)]
                m.d.comb += [r.eq(rp.data) for r, rp in zip(rows_now, rps)]
                if E_prt:
                    for e in range(E_prt):
                        with m.If(prt_ptr == e):
                            m.d.sync += [prt_valid[e].eq(1), prt_tag[e].eq(pattern)]
                    m.d.comb += [prt_w.addr.eq(prt_ptr), prt_w.en.eq(1),
                                 prt_w.data.eq(Cat(*(rp.data for rp in rps)))]
                    m.d.sync += prt_ptr.eq(Mux(prt_ptr == E_prt - 1, 0, prt_ptr + 1))
                advance()

            with m.State("DEQ"):
                # issue the scales of output line cnt; use those of line cnt - 1
                m.d.comb += [laddr.eq(d.s + (cnt >> 1)), lr.en.eq(1),
                             half.eq((cnt - 1) & 1)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt != 0):
                    m.d.comb += [lw.addr.eq(tok_y + cnt - 1), lw.data.eq(Cat(*yline)),
                                 lw.en.eq(1)]
                    m.d.sync += [work[n].eq(deq_src[n + Y_PER_LINE] if n + Y_PER_LINE < N
                                            else 0) for n in range(N)]
                n_lines = (d.n + Y_PER_LINE - 1) >> 3
                with m.If(cnt == n_lines):
                    m.d.sync += [cnt.eq(0), tok_y.eq(tok_y + n_lines)]
                    with m.If(last_t):
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += t.eq(t + 1)
        return m


def top(params: Params) -> SailBlock:
    return SailBlock(params)
