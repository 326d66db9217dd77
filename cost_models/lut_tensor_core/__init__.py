"""Cost hooks of the LUT Tensor Core unit: its components, counted from ``Params``.

The boundary follows the parameters: with ``precompute="external"`` the table adders are
outside the unit (the system model charges the vector unit's precompute), and with
``accumulators="regfile"`` the accumulators and their output copy are register-file bits
(``Components.outside``): not in the unit's area, still in its energy.
"""
from collections import Counter
import math

from tokenfab.cost_models import tile_arrays
from tokenfab.cost_models.components import Components, adder, mux_tree, register, times


def unit_components(p) -> Components:
    e, lut = p.table_entries, p.lut_bits
    per_tile = Counter()
    if p.precompute == "internal":
        per_tile += times(adder((p.k - 1) * lut), p.m * e)    # table precompute
    per_tile += register(p.m * e * lut)                    # table registers
    per_tile += register(p.n * p.k * p.weight_bits)        # weight registers
    pe = Counter()
    pe += mux_tree(e, lut)                                 # entry select
    pe += Counter(xor2=lut) + adder(lut + 1)               # conditional negation
    if p.weight_bits > 1:                                  # shift by bit-plane
        pe += Counter(mux2=math.ceil(math.log2(p.weight_bits)) * (lut + p.weight_bits))
    pe += adder(p.acc_bits)                                # shift-accumulate adder
    accumulators = register(2 * p.m * p.n * p.acc_bits)    # accumulator + output copy
    per_step = times(pe, p.m * p.n)
    if p.accumulators == "unit":
        return Components(per_step + register(p.m * p.n * p.acc_bits),
                          per_tile + register(p.m * p.n * p.acc_bits), p.cycles_per_tile)
    return Components(per_step, per_tile, p.cycles_per_tile, outside=accumulators)


def pricing(p, run):
    """Joules per event of the system ``run`` ran on (see ``tile_arrays.pricing``)."""
    return tile_arrays.pricing(p, run, unit_components)


# ---------------------------------------------------------------- against the paper
A100_SMS, TCS_PER_SM = 108, 4          # A100 (the paper's Table 1 keeps both)
TABLE1 = {"lut8x_area_per_sm_mm2": 0.373, "fp16_area_per_sm_mm2": 0.975,
          "lut8x_density_tops_per_mm2": 61.95, "fp16_density_tflops_per_mm2": 2.96,
          "lut8x_peak_tops": 2496, "fp16_peak_tflops": 312}


def paper_checks(node: int = 28) -> dict:
    """The LUT Tensor Core paper's area claims recomputed from our component counts, each
    beside the paper's figure (LUT Tensor Core, ISCA '25: Table 1, the 1-bit PPA claim,
    Fig. 13). The LUT units sit at the paper's boundary (external precompute, accumulators
    in the register file) with INT8 activations; the MAC side is an FP16 tensor core with
    the same boundary (``components.fp16_tensor_core``)."""
    from tokenfab.cost_models.components import (fp16_multiplier, fp16_tensor_core,
                                                 fused_dot_product)
    from tokenfab.hw.lut_tensor_core.params import Params

    def lut(**kw):
        p = Params(precompute="external", accumulators="regfile", **kw)
        return unit_components(p).area_m2(node) * 1e6

    lut_sm = TCS_PER_SM * 8 * lut(weight_bits=2)            # 8 M2N64K4 units per TC
    fp16_sm = TCS_PER_SM * fp16_tensor_core(8, 4, 8).area_m2(node) * 1e6
    out = {
        "lut8x_area_per_sm_mm2": lut_sm, "fp16_area_per_sm_mm2": fp16_sm,
        "lut8x_density_tops_per_mm2": TABLE1["lut8x_peak_tops"] / (A100_SMS * lut_sm),
        "fp16_density_tflops_per_mm2": TABLE1["fp16_peak_tflops"] / (A100_SMS * fp16_sm),
    }
    checks = {k: {"ours": v, "paper": TABLE1[k], "error": v / TABLE1[k] - 1}
              for k, v in out.items()}
    # 1-bit weights, the same M x N x K = 512: the dequantise-then-FP16 MAC tensor core
    # (8x4x16) and a mixed FP16 x INT1 one, over the LUT M2N64K4 unit
    lut1 = lut(weight_bits=1)
    checks["mac_over_lut_area_1bit"] = {
        "ours": fp16_tensor_core(8, 4, 16).area_m2(node) * 1e6 / lut1,
        "ours_mixed_mac": fp16_tensor_core(8, 4, 16, weight_bits=1).area_m2(node) * 1e6 / lut1,
        "paper": (4.0, 6.0)}
    # Fig. 13: at equal throughput a bit-serial unit needs W units for W-bit weights; the
    # largest W at which W LUT units are smaller than one FP16 x INT-W MAC tensor core
    smaller = [w for w in range(1, 9) if w * lut(weight_bits=w)
               < fp16_tensor_core(8, 4, 16, weight_bits=w).area_m2(node) * 1e6]
    checks["lut_smaller_than_mac_up_to_bits"] = {
        "ours": max(smaller) if smaller and smaller == list(range(1, max(smaller) + 1)) else 0,
        "paper": 6}
    # Fig. 12's DP4 units at 1 GHz, by components only (our LUT RTL takes integer
    # activations): LUT W_INT1 A_FP16 with N = 4 columns sharing one 8-entry FP16 table
    # (precomputed outside), each column an 8:1 mux, a sign flip and an FP16 accumulating
    # adder; MAC W_FP16 A_FP16: 4 FP16 multipliers and a 5-input fused adder.
    lut_dp4 = Components(times(mux_tree(8, 16) + Counter(xor2=1) + fused_dot_product(2, 14), 4)
                         + register(8 * 16 + 4 * 4), Counter(), 1)
    mac_dp4 = Components(times(fp16_multiplier(), 4) + fused_dot_product(5), Counter(), 1)
    for name, comps, flops, paper in (("lut_dp4_tflops_per_mm2", lut_dp4, 4 * 8, 61.55),
                                      ("mac_dp4_tflops_per_mm2", mac_dp4, 8, 3.39)):
        ours = flops * 1e9 / (comps.area_m2(node) * 1e6) / 1e12
        checks[name] = {"ours": ours, "paper": paper, "error": ours / paper - 1}
    return checks
