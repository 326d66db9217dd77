"""Verification hooks of the LUT Tensor Core (the cocotb bench is ``tokenfab.sim.stream_tb``).

With ``accumulators="regfile"`` each case's beats are chained as a register file would run
them (every beat brings the sums the previous one left); random cases start from random
partial sums, so the register-file path is driven to wrap as well.
"""
import numpy as np

from tokenfab.arch_models.lut_tensor_core import golden
from tokenfab.hw.common.packing import pack
from tokenfab.hw.lut_tensor_core import top
from tokenfab.sim.tile_cases import TileTestbench


class LutTestbench(TileTestbench):
    def cases(self, p, n_beats, rng):
        cases = super().cases(p, n_beats, rng)
        if p.accumulators != "regfile":
            return cases
        half = 1 << (p.acc_bits - 1)
        return [(name, golden.chain_regfile(
            p, beats, None if not name.startswith("random")
            else rng.integers(-half, half, (p.m, p.n), dtype=np.int64)))
            for name, beats in cases]

    def pack_in(self, p, beat) -> int:
        layout = top.in_layout(p)
        return pack(layout, {name: np.asarray(beat[name]).tolist() for name, _ in layout})


TESTBENCH = LutTestbench(golden, top)
