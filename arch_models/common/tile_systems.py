"""System presets for the GEMM-tile designs (LUT Tensor Core, MAC array).

``asic``: a stand-alone accelerator of tile units (the default). ``a100``: the A100-class
GPU of LUT Tensor Core's Table 1 with the design's units in place of its tensor cores.
"""
from __future__ import annotations

from arch_models.common.system import SystemSpec
from cost_models import components as cc
from cost_models import tech

# A100 SXM4 40 GB (NVIDIA datasheet via costdata.md 5.1, [S]); the paper normalizes its
# Table 1 to 1.41 GHz and keeps 108 SMs with 4 tensor cores each.
A100_SMS = 108
A100_TCS_PER_SM = 4
A100_CLOCK_HZ = 1.41e9
A100_DRAM_BYTES_PER_S = 1.555e12
A100_FP16_NON_TENSOR_FLOPS = 78e12
A100_FP16_TC_TILE = (8, 4, 8)      # 256 FP16 MACs per tensor core per cycle -> 312 TFLOPS

# CALIBRATED to one published number: the fraction of the unit formula's peak that
# GEMM kernels reach on the A100 model. Fitted so that mac-array --system a100 runs
# bitnet-b1.58-3b (FP16) at batch 1024 x 1 token in 41.15 ms (LUT Tensor Core Table 1,
# FP16 TC column). The other three Table 1 latencies are predictions (tests check them).
# The same fraction is assumed for the CUDA cores (no second fit).
A100_EFFICIENCY = 0.5811

LPDDR_BYTES_PER_S = 128e9           # 128-bit LPDDR5X-8533 class interface (assumption)


def _fp16_flop_j(node: int) -> float:
    """Energy of one vector-unit FLOP: half an FP16 multiply plus half an FP16 add."""
    return (cc.scaled_horowitz("fp16_mult", node) + cc.scaled_horowitz("fp16_add", node)) / 2


def asic(p, cost, *, node: int = 28, attention_on: str = "matrix") -> SystemSpec:
    comps = cost.unit_components(p)
    units = 16 * p.array_scale
    clock = 1e9
    vector = 1024
    fp_flop = _fp16_flop_j(node)
    step = comps.energy_per_step_j(node)
    att_mac = (step * p.cycles_per_tile / p.macs_per_tile if attention_on == "matrix"
               else 2 * fp_flop)
    return SystemSpec(
        name="asic",
        description=(f"{units} units of {p.m}x{p.n}x{p.k} at 1 GHz, {node} nm, "
                     f"{LPDDR_BYTES_PER_S / 1e9:.0f} GB/s LPDDR, {vector} FLOP/cycle vector "
                     f"unit, attention on the {attention_on} engine"),
        clock_hz=clock, units=units, tile=(p.m, p.n, p.k),
        cycles_per_tile=p.cycles_per_tile, weight_bits=p.weight_bits,
        act_bytes=p.act_bits / 8, kv_bytes=p.act_bits / 8,
        dram_bytes_per_s=LPDDR_BYTES_PER_S, vector_flops_per_cycle=vector,
        attention_on=attention_on, node_nm=node,
        energy_per_unit_step_j=step, energy_per_mac_attention_j=att_mac,
        energy_per_vector_flop_j=fp_flop,
        energy_per_dram_byte_j=8 * tech.value("dram", "lpddr_energy_per_bit"),
        energy_per_sram_byte_j=cc.sram_energy_per_byte(node),
        static_power_w=units * comps.leakage_w(node, clock),
    )


def a100(p, cost, *, fp16_tensor_cores: bool, node: int = 7) -> SystemSpec:
    """``fp16_tensor_cores``: the MAC baseline (FP16 weights and activations on A100's
    tensor cores, attention on them too); otherwise the design's units replace the tensor
    cores, run the low-bit GEMMs, and attention falls to the CUDA cores (the LUT-equipped
    SM of Table 1 has only the LUT TC area)."""
    units = A100_SMS * A100_TCS_PER_SM * p.array_scale
    fp_flop = _fp16_flop_j(node)
    vector = A100_FP16_NON_TENSOR_FLOPS / A100_CLOCK_HZ
    common = dict(
        name="a100", clock_hz=A100_CLOCK_HZ, units=units,
        act_bytes=2.0, kv_bytes=2.0, dram_bytes_per_s=A100_DRAM_BYTES_PER_S,
        vector_flops_per_cycle=vector, matrix_efficiency=A100_EFFICIENCY,
        vector_efficiency=A100_EFFICIENCY, activations_in_dram=True,
        materialize_scores=True, node_nm=node,
        energy_per_vector_flop_j=fp_flop,
        energy_per_dram_byte_j=8 * tech.value("dram", "hbm_energy_per_bit"),
        energy_per_sram_byte_j=cc.sram_energy_per_byte(node),
        calibrated=(("matrix_efficiency", "mac-array a100 bitnet-b1.58-3b batch 1024 x 1: "
                     "41.15 ms (LUT Tensor Core Table 1)"),),
    )
    if fp16_tensor_cores:
        fp16_mac = cc.scaled_horowitz("fp16_mult", node) + cc.scaled_horowitz("fp32_add", node)
        m, n, k = A100_FP16_TC_TILE
        return SystemSpec(
            description=(f"A100-class: {A100_SMS} SMs x {A100_TCS_PER_SM} FP16 tensor cores "
                         f"(x{p.array_scale}) of {m}x{n}x{k}, 1.41 GHz, 1.555 TB/s HBM2; "
                         "FP16 weights and activations"),
            tile=A100_FP16_TC_TILE, cycles_per_tile=1, weight_bits=16,
            attention_on="matrix", energy_per_unit_step_j=fp16_mac * m * n * k,
            energy_per_mac_attention_j=fp16_mac, **common)
    comps = cost.unit_components(p)
    return SystemSpec(
        description=(f"A100-class: {A100_SMS} SMs x {A100_TCS_PER_SM} tensor cores, each "
                     f"{p.array_scale} units of {p.m}x{p.n}x{p.k}, {p.weight_bits}-bit "
                     "weights, INT8 activations; 1.41 GHz, 1.555 TB/s HBM2; attention on "
                     "the CUDA cores"),
        tile=(p.m, p.n, p.k), cycles_per_tile=p.cycles_per_tile, weight_bits=p.weight_bits,
        attention_on="vector", energy_per_unit_step_j=comps.energy_per_step_j(node),
        energy_per_mac_attention_j=2 * fp_flop, **common)
