"""Cost hooks of the LUT Tensor Core unit: its components, counted from ``Params``."""
from collections import Counter
import math

from tokenfab.cost_models import tile_arrays
from tokenfab.cost_models.components import Components, adder, mux_tree, register


def unit_components(p) -> Components:
    e, lut = p.table_entries, p.lut_bits
    per_tile = Counter()
    per_tile += Counter({g: n * p.m * e for g, n in adder((p.k - 1) * lut).items()})
    per_tile += register(p.m * e * lut)                    # table registers
    per_tile += register(p.n * p.k * p.weight_bits)        # weight registers
    per_tile += register(p.m * p.n * p.acc_bits)           # output register
    pe = Counter()
    pe += mux_tree(e, lut)                                 # entry select
    pe += Counter(xor2=lut) + adder(lut + 1)               # conditional negation
    if p.weight_bits > 1:                                  # shift by bit-plane
        pe += Counter(mux2=math.ceil(math.log2(p.weight_bits)) * (lut + p.weight_bits))
    pe += adder(p.acc_bits) + register(p.acc_bits)         # shift-accumulator
    per_step = Counter({g: n * p.m * p.n for g, n in pe.items()})
    return Components(per_step, per_tile, p.cycles_per_tile)


def pricing(p, run):
    """Joules per event of the system ``run`` ran on (see ``tile_arrays.pricing``)."""
    return tile_arrays.pricing(p, run, unit_components)
