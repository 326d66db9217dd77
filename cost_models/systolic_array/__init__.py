"""Cost hooks of the systolic array: the whole array's components, counted from
``Params``, and the energy prices of the systems built from it.

Per PE: the multiplier (an ``b x b`` array multiplier for integers; for FP16 an FMA of
LLMCompass's 25,300 transistors as NAND2 gate equivalents, 4 transistors each), the
accumulator adder, and the registers the dataflow keeps: the operand passed right with its
three flags, then for ``os`` the operand passed down, the accumulator and its shadow copy
(with the select of a fold's first product, and the drain's row multiplexer at the edge);
for ``ws`` / ``is`` the stationary operand and the partial sum passed down. Edge skew and
deskew registers are counted too. Every PE switches every step (one step = one array
cycle). With ``weights = int4`` (the dequantise-then-multiply baseline) each column has a
dequantiser at the top edge working every step: ``q - z`` and the product with the FP16
scale (counted as the MixPE integer-times-FP16 unit for a 5-bit integer), with the
group's scale and zero point in a register.
"""
from collections import Counter

from tokenfab.cost_models import tech, tile_arrays
from tokenfab.cost_models.components import (Components, adder, array_multiplier,
                                             int_times_fp16_to_fp32, mux_tree, register,
                                             times)


def _multiplier(p) -> Counter:
    if p.dtype == "fp16":
        return Counter(nand2=round(tech.value("fpu_transistors", "fp16_fma") / 4))
    b = p.operand_bits
    return array_multiplier(b, b)


def unit_components(p) -> Components:
    R, C, b, acc = p.rows, p.cols, p.operand_bits, p.acc_bits
    pe = _multiplier(p) + adder(acc) + register(b + 3)
    if p.dataflow == "os":
        # operand, accumulator and its shadow copy; the first step of a fold selects
        # the product alone (a 2:1 mux per accumulator bit)
        pe += register(b) + register(acc) + register(acc) + mux_tree(2, acc)
        skew = register((b + 3) * R * (R - 1) // 2 + b * C * (C - 1) // 2)
        skew += mux_tree(R, C * acc)             # the drain: one shadow row a cycle
    else:
        pe += register(b) + register(acc)
        skew = register((b + 3) * R * (R - 1) // 2 + acc * C * (C - 1) // 2)
    per_step = times(pe, R * C) + skew
    if p.weights == "int4":
        dequant = adder(5) + int_times_fp16_to_fp32(5) + register(16 + 4)
        per_step += times(dequant, C)
    return Components(per_step, Counter(), 1)


def pricing(p, run):
    """Joules per event of the system ``run`` ran on (see ``tile_arrays.pricing``)."""
    return tile_arrays.pricing(p, run, unit_components)
