"""Cost hooks of the MAC-array baseline: its components, counted from ``Params``."""
from collections import Counter
import math

from tokenfab.cost_models import tile_arrays
from tokenfab.cost_models.components import (Components, adder, array_multiplier, mux_tree,
                                             register, times)
from tokenfab.hw.mac_array.top import operand_bits


def dequantizer(p) -> Counter:
    """One weight's dequantizer (``hw/mac_array/top.py``): ``q' - z`` (``b + 2`` bits),
    times the ``scale_bits`` scale, two comparisons against the format's limits and the
    saturating 3-way select of ``act_bits``."""
    diff = p.weight_bits + 2
    prod = diff + p.scale_bits
    return (adder(diff) + array_multiplier(diff, p.scale_bits) + times(adder(prod), 2)
            + mux_tree(3, p.act_bits))


def unit_components(p) -> Components:
    w = operand_bits(p)
    per_tile = register(p.m * p.k * p.act_bits) + register(p.n * p.k * w)
    per_tile += register(p.m * p.n * p.acc_bits)
    per_tile += times(dequantizer(p), p.n * p.k)
    pe = Counter()
    for _ in range(p.k):
        pe += array_multiplier(p.act_bits, w)
    pe += Counter({"fa": (p.k - 1) * (p.act_bits + w + math.ceil(math.log2(max(p.k, 2))))})
    pe += adder(p.acc_bits) + register(p.acc_bits)
    per_step = Counter({g: n * p.m * p.n for g, n in pe.items()})
    return Components(per_step, per_tile, p.cycles_per_tile)


def pricing(p, run):
    """Joules per event of the system ``run`` ran on (see ``tile_arrays.pricing``)."""
    return tile_arrays.pricing(p, run, unit_components)
