"""Cost hooks of MixPE: the array's components counted from ``Params`` as the RTL
(``tokenfab.hw.mixpe``) builds them, and the energy prices of its systems.

Per PE, every cycle: the AND-gated adds (4 weight bit-planes x ``lanes`` activations,
no multiplier) into four plane accumulators through per-plane adder trees (bit-serial:
one plane, one accumulator that doubles), the operand and flag registers passed right
and down, and the group-end combine of the planes. Once per group: the dequantisation
unit (integer ``P - z * sum(a)``, the FP16-scale multiply rounded to FP32, the FP32
adder) and the FP32 result and shadow registers. With ``dequant = edge`` the units sit
below the columns (one per column, busy ``rows`` cycles of each group) with a row
multiplexer and the bottom chain. Left edge: row sums and, for W4A16, the aligners.
"""
from collections import Counter

from tokenfab.cost_models import tile_arrays
from tokenfab.cost_models.components import (Components, adder, barrel_shifter,
                                             fp32_adder, int_times_fp16_to_fp32, mux_tree,
                                             register, times)
from tokenfab.hw.mixpe.params import WEIGHT_BITS


def _pe_datapath(p) -> Counter:
    L, b = p.L, p.act_bits
    qbits = 1 if p.pe == "serial" else WEIGHT_BITS
    row_pass = L * b + 5 + (p.psum_bits + 5 if p.dequant == "pe" else 0)
    col_pass = L * qbits + (16 + WEIGHT_BITS if p.dequant == "pe" else 0)
    c = register(row_pass) + register(col_pass) + register(p.psum_bits)   # P latch
    if p.pe == "parallel":
        # per plane: L AND-gated activations summed with the accumulator (L adders)
        c += Counter(nand2=WEIGHT_BITS * L * b)
        c += times(adder(p.plane_bits), WEIGHT_BITS * L)
        c += register(WEIGHT_BITS * p.plane_bits)
        c += times(adder(p.psum_bits), WEIGHT_BITS - 1)                   # combine
    else:
        c += Counter(nand2=L * b) + times(adder(p.psum_bits), L)
        c += mux_tree(2, p.psum_bits) + register(p.psum_bits)             # doubling
    return c


def dequant_unit(p) -> Counter:
    """One unit: ``P - z * sum(a)``, the scale multiply to FP32, the FP32 add."""
    d = p.dsum_bits
    return (Counter(nand2=WEIGHT_BITS * p.psum_bits)
            + times(adder(p.psum_bits), WEIGHT_BITS - 1)                  # z * sum(a)
            + adder(d) + int_times_fp16_to_fp32(d + 1) + fp32_adder()
            + mux_tree(2, 32))                                             # y or first


def _group_registers(p) -> Counter:
    """Per PE: the FP32 result, its shadow copy, and (dequant in the PE) the group's
    latched sum, exponent, scale and zero point."""
    c = register(32 + 32 + 1)
    if p.dequant == "pe":
        c += register(p.psum_bits + 5 + 16 + WEIGHT_BITS + 2)
    return c


def pe_components(p) -> Components:
    """One PE: its datapath every cycle and, once per group, its result registers and
    one dequantisation (done by its own unit with ``dequant = pe``, by the column's unit
    at the edge with ``edge``)."""
    return Components(_pe_datapath(p), _group_registers(p) + dequant_unit(p),
                      p.group_beats)


def unit_components(p) -> Components:
    """The whole array: R x C PEs, edge skew, row sums and aligners, and with
    ``dequant = edge`` the C column units (the same work per group, 1/R of the units)."""
    R, C, L = p.R, p.C, p.L
    pe = pe_components(p)
    qbits = 1 if p.pe == "serial" else WEIGHT_BITS
    row_w = L * p.act_bits + 5 + 1 + 5
    col_w = L * qbits + (16 + WEIGHT_BITS if p.dequant == "pe" else 0)
    edge = register(row_w * R * (R - 1) // 2 + col_w * C * (C - 1) // 2)
    edge += times(adder(p.psum_bits), R * L) + register(p.psum_bits * R)   # row sums
    if p.mode == "w4a16":
        align = barrel_shifter(p.act_bits - 1, 30) + adder(p.act_bits) + adder(7)
        edge += times(align, R * L)
    per_step = times(pe.per_step, R * C) + edge
    per_group = times(pe.per_tile, R * C)
    if p.dequant == "pe":
        return Components(per_step, per_group, p.group_beats)
    # row multiplexers, bottom chain and the scale registers of the column units
    per_step += (times(mux_tree(R, p.psum_bits + 32), C)
                 + register(C * (p.psum_bits + 5 + max(1, (R - 1).bit_length()) + 2))
                 + register(2 * C * (16 + WEIGHT_BITS)))
    shared = times(_group_registers(p), R * C) + times(dequant_unit(p), C)
    return Components(per_step, per_group, p.group_beats, shared=shared)


def pricing(p, run):
    """Joules per event of the system ``run`` ran on (see ``tile_arrays.pricing``)."""
    return tile_arrays.pricing(p, run, unit_components)
