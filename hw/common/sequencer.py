"""The tile sequencer shared by the GEMM-tile designs."""
from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from tokenfab.params import check_int


class StreamUnit(wiring.Component):
    """A unit with one input and one output ``lib.stream`` (members ``i_stream`` and
    ``o_stream``) whose payload layouts follow from its parameters.

    Subclasses set ``PARAMS`` (the parameter class they accept) and ``LAYOUTS`` (the
    ``in_layout`` and ``out_layout`` functions of those parameters), and control their
    streams with :meth:`add_sequencer`.

    Members
    -------
    i_stream : In(stream.Signature(in_layout(params)))
    o_stream : Out(stream.Signature(out_layout(params)))
    """

    def __init__(self, params):
        if not isinstance(params, self.PARAMS):
            raise TypeError(f"params must be a {self.PARAMS.__module__}.Params, "
                            f"not {params!r}")
        self.params = params
        in_layout, out_layout = self.LAYOUTS
        super().__init__({"i_stream": In(stream.Signature(in_layout(params))),
                          "o_stream": Out(stream.Signature(out_layout(params)))})

    def add_sequencer(self, m: Module, *, cycles_per_tile: int, last) -> "TileSequencer":
        """Add a ``TileSequencer`` as submodule ``seq`` of ``m``, driven by this unit's
        streams; ``last`` is the input beat's last flag (a constant for one-beat units)."""
        m.submodules.seq = seq = TileSequencer(cycles_per_tile=cycles_per_tile)
        m.d.comb += [
            seq.in_valid.eq(self.i_stream.valid),
            seq.in_last.eq(last),
            self.i_stream.ready.eq(seq.in_ready),
            self.o_stream.valid.eq(seq.out_valid),
            seq.out_ready.eq(self.o_stream.ready),
        ]
        return seq


class TileSequencer(wiring.Component):
    """Handshake and step control for a unit that spends ``cycles_per_tile`` cycles on each
    input beat and accumulates until a beat marked ``last``, then emits one output beat.

    Timing contract (the timing model's ``unit_cycles`` restates it): with the source always
    valid and the sink always ready, a new beat is accepted in the cycle of the previous
    beat's final step, so ``T`` beats take ``T * cycles_per_tile`` step cycles, and the
    output of the final beat is handed over one cycle after its final step.

    Parameters
    ----------
    cycles_per_tile : int
        Step cycles per input beat (the number of weight bit-planes for a bit-serial unit).

    Members
    -------
    in_valid, in_last : In(1)
        The input stream's ``valid`` and the beat's ``last`` flag.
    in_ready : Out(1)
        The input stream's ``ready``.
    out_valid : Out(1), out_ready : In(1)
        The output stream's handshake.
    load : Out(1)
        An input beat is accepted this cycle: latch its payload.
    step : Out(1)
        Accumulate the contribution of step ``plane`` this cycle.
    emit : Out(1)
        This step is the final one of a ``last`` beat: write ``acc + contribution`` to the
        output register and clear the accumulators.
    plane : Out(range(cycles_per_tile))
        Index of the current step within the beat.
    """

    def __init__(self, *, cycles_per_tile: int):
        check_int("cycles_per_tile", cycles_per_tile, 1, 64)
        self.cycles_per_tile = cycles_per_tile
        super().__init__({
            "in_valid": In(1), "in_last": In(1), "in_ready": Out(1),
            "out_valid": Out(1), "out_ready": In(1),
            "load": Out(1), "step": Out(1), "emit": Out(1),
            "plane": Out(range(cycles_per_tile)),
        })

    def elaborate(self, platform):
        m = Module()
        busy = Signal()
        last = Signal()
        final = Signal()
        stall = Signal()
        m.d.comb += [
            final.eq(self.plane == self.cycles_per_tile - 1),
            # The output register is still full and this step would overwrite it.
            stall.eq(busy & final & last & self.out_valid & ~self.out_ready),
            self.step.eq(busy & ~stall),
            self.emit.eq(self.step & final & last),
            self.in_ready.eq(~busy | (final & ~stall)),
            self.load.eq(self.in_valid & self.in_ready),
        ]
        with m.If(self.step):
            m.d.sync += self.plane.eq(self.plane + 1)
            with m.If(final):
                m.d.sync += [self.plane.eq(0), busy.eq(0)]
        with m.If(self.load):
            m.d.sync += [busy.eq(1), last.eq(self.in_last), self.plane.eq(0)]
        with m.If(self.emit):
            m.d.sync += self.out_valid.eq(1)
        with m.Elif(self.out_ready):
            m.d.sync += self.out_valid.eq(0)
        return m


def accumulate(m: Module, seq: TileSequencer, acc, out, contribution) -> None:
    """Add ``contribution`` to accumulator ``acc`` on a step; on the emitting step write the
    sum to output register ``out`` instead and clear ``acc``."""
    total = acc + contribution
    with m.If(seq.emit):
        m.d.sync += [out.eq(total), acc.eq(0)]
    with m.Elif(seq.step):
        m.d.sync += acc.eq(total)
