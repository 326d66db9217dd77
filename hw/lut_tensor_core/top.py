"""LUT Tensor Core unit: M symmetrized tables x N MUX-based PEs, bit-serial weights."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data

from tokenfab.hw.common.arith import SignedSumTable, mux_tree, symmetric_table_coeffs
from tokenfab.hw.common.sequencer import StreamUnit, accumulate
from tokenfab.hw.lut_tensor_core.params import Params


def in_layout(p: Params) -> data.StructLayout:
    """One input beat: the M x K activations (``precompute="external"``: the M
    precomputed tables of ``2**(K-1)`` entries instead), for each of the N columns and each
    weight bit-plane the K packed weight bits (sign in bit K-1, table index below it), and
    the ``last`` flag (``accumulators="regfile"``: the M x N partial sums ``acc`` instead;
    every beat then leaves as ``acc + A x W``)."""
    fields = {}
    if p.precompute == "internal":
        fields["act"] = data.ArrayLayout(data.ArrayLayout(signed(p.act_bits), p.k), p.m)
    else:
        fields["tab"] = data.ArrayLayout(data.ArrayLayout(signed(p.lut_bits),
                                                          p.table_entries), p.m)
    fields["w"] = data.ArrayLayout(data.ArrayLayout(unsigned(p.k), p.weight_bits), p.n)
    if p.accumulators == "unit":
        fields["last"] = unsigned(1)
    else:
        fields["acc"] = out_layout(p)
    return data.StructLayout(fields)


def out_layout(p: Params) -> data.ArrayLayout:
    """One output beat: the M x N accumulators."""
    return data.ArrayLayout(data.ArrayLayout(signed(p.acc_bits), p.n), p.m)


class LutTensorCore(StreamUnit):
    """An M x N x K LUT Tensor Core tile.

    Per accepted beat, M tables of ``2**(K-1)`` entries are precomputed from the beat's
    activations (``SignedSumTable``; with ``precompute="external"`` they arrive in the
    beat), then for ``weight_bits`` cycles every PE (m, n) looks up table m with the K bits
    of column n's current bit-plane: bits K-2..0 select the entry, bit K-1 negates it, and
    the value shifted left by the plane index is added to the accumulator. Beats
    accumulate until one is marked ``last``; then the M x N sums leave on ``o_stream`` and
    the accumulators clear. With ``accumulators="regfile"`` every beat starts from the
    partial sums it brings and leaves with its own result.

    The bit inversion that makes one sign bit enough is done offline on the static weights
    by ``tokenfab.arch_models.lut_tensor_core.golden.pack_weights``.

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
        payload = self.i_stream.payload
        regfile = p.accumulators == "regfile"
        seq = self.add_sequencer(m, cycles_per_tile=p.cycles_per_tile,
                                 last=1 if regfile else payload.last)

        if p.precompute == "internal":
            coeffs = symmetric_table_coeffs(p.k)
            entries = []
            for row in range(p.m):
                table = SignedSumTable(coeffs=coeffs, act_bits=p.act_bits)
                m.submodules[f"table{row}"] = table
                m.d.comb += table.act.eq(payload.act[row])
                entries.append(table.entries)
            assert table.entry_bits == p.lut_bits
        else:
            entries = [payload.tab[row] for row in range(p.m)]

        # Tables are registered when the beat is accepted, weights with them.
        table_reg = Signal(data.ArrayLayout(data.ArrayLayout(signed(p.lut_bits),
                                                             p.table_entries), p.m))
        w_reg = Signal(data.ArrayLayout(data.ArrayLayout(unsigned(p.k), p.weight_bits), p.n))
        with m.If(seq.load):
            m.d.sync += w_reg.eq(self.i_stream.payload.w)
            for row in range(p.m):
                m.d.sync += table_reg[row].eq(entries[row])

        acc = Signal(out_layout(p))
        out_reg = Signal(out_layout(p))
        m.d.comb += self.o_stream.payload.eq(out_reg)
        for col in range(p.n):
            group = w_reg[col][seq.plane]
            sign = group[p.k - 1]
            index = group[:p.k - 1]
            for row in range(p.m):
                entry = mux_tree((table_reg[row][i] for i in range(p.table_entries)), index)
                value = Mux(sign, -entry, entry) << seq.plane
                accumulate(m, seq, acc[row][col], out_reg[row][col], value)
        if regfile:
            with m.If(seq.load):                 # C from the register file
                m.d.sync += acc.eq(payload.acc)
        return m


def top(params: Params) -> LutTensorCore:
    return LutTensorCore(params)
