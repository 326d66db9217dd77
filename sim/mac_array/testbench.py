"""Verification hooks of the MAC array (the cocotb bench is ``tokenfab.sim.stream_tb``):
the dequantizer's corners (saturation both ways, a zero scale), the tile corner cases at
scale 1 and offset 0 (the bare reinterpretation), then the tile cases again with random
group scales and zero offsets per beat and column."""
import numpy as np

from tokenfab.arch_models.mac_array import golden
from tokenfab.hw.mac_array import top
from tokenfab.sim.tile_cases import TileTestbench, tile_cases


class MacArrayTestbench(TileTestbench):
    def cases(self, p, n_beats, rng):
        smax = (1 << p.scale_bits) - 1
        zlo, zhi = p.zero_range
        qmax = (1 << p.weight_bits) - 1
        lo, hi = p.act_range
        am, wn = (p.m, p.k), (p.n, p.k)

        def beat(act, codes, scale, zero):
            return [golden.encode_beat(p, act, codes, True, np.full(p.n, scale),
                                       np.full(p.n, zero))]

        def random_groups(p_, act, codes, last):
            return golden.encode_beat(p_, act, codes, last, rng.integers(0, smax + 1, p.n),
                                      rng.integers(zlo, zhi + 1, p.n))

        cases = [
            # the largest |s (q' - z)| each way: saturates unless the format holds it
            ("dequant_high", beat(np.full(am, hi), np.full(wn, qmax), smax, zlo)),
            ("dequant_low", beat(np.full(am, lo), np.zeros(wn, np.int64), smax, zhi)),
            ("scale_zero", beat(rng.integers(lo, hi + 1, am), rng.integers(0, qmax + 1, wn),
                                0, zlo)),
        ]
        cases += [(f"unscaled_{name}", beats) for name, beats in
                  tile_cases(p, 0, rng, golden.encode_beat)]
        used = sum(len(b) for _, b in cases)
        return cases + tile_cases(p, max(0, n_beats - used), rng, random_groups)


TESTBENCH = MacArrayTestbench(golden, top)
