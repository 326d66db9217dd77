"""The ``mixpe-paper`` system preset: the MixPE authors' simulator configuration
(yuzhang712/mixpe_simulator, conf_*.ini; sail_mixpe.md B.2, [R]), shared by ``mixpe`` and
its ``systolic-array`` baselines: one array at 500 MHz, weight/activation/output SRAM
128/256/128 KiB, 1,024 bits per cycle off chip, 28 nm."""
from __future__ import annotations

from tokenfab.arch_models.common.system import Memory, SystemSpec
from tokenfab.arch_models.common.tile_systems import PCIE4_X16_BYTES_PER_S

CLOCK_HZ = 500e6
OFFCHIP_BITS_PER_CYCLE = 1024
SRAM_BYTES = (128 + 256 + 128) * 1024
# The simulator states no DRAM capacity; 32 GB holds OPT-6.7B and Llama-2-13B in FP16.
DRAM_BYTES = 32e9


def spec(*, rows: int, cols: int, lanes: int, weight_bits: float, act_bytes: float,
         gemm_cycles, attention_on: str, what: str, node: int, assumptions) -> SystemSpec:
    bw = OFFCHIP_BITS_PER_CYCLE / 8 * CLOCK_HZ
    # 1,024 bits wide is one HBM2 stack's interface; priced as HBM2 (assumption)
    mem = Memory("DRAM behind a 1,024-bit interface (HBM2-class; capacity: assumption)",
                 DRAM_BYTES, bw, "hbm2")
    return SystemSpec(
        name="mixpe-paper",
        description=(f"MixPE authors' simulator: one {what} at 500 MHz, {node} nm, "
                     f"1,024 bits/cycle off chip ({bw / 1e9:.0f} GB/s), 512 KiB of SRAM "
                     "buffers"),
        clock_hz=CLOCK_HZ, units=1, tile=(rows, cols, lanes), cycles_per_tile=1,
        weight_bits=weight_bits, act_bytes=act_bytes, kv_bytes=act_bytes, memory=mem,
        buffer_bytes=SRAM_BYTES, host_bytes_per_s=PCIE4_X16_BYTES_PER_S,
        vector_flops_per_cycle=2 * rows * cols, attention_on=attention_on, node_nm=node,
        gemm_cycles=gemm_cycles,
        assumptions=tuple(assumptions) + (
            "GEMMs run fold by fold on SCALE-Sim's schedule, batch x tokens as M",
            "element-wise work on a vector unit of 2 x R x C FLOP per cycle (assumption: "
            "the simulator models the linear layers only)",
            "DRAM capacity 32 GB (assumption; the simulator states none)"))
