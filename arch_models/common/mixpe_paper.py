"""The ``mixpe-paper`` system template: the MixPE authors' simulator configuration
(yuzhang712/mixpe_simulator, conf_*.ini; sail_mixpe.md B.2, [R]), shared by ``mixpe`` and
its ``systolic-array`` baselines. Its numbers (one array at 500 MHz, weight/input/output
SRAMs of 128/256/128 KiB, 1,024 bits per cycle off chip, 28 nm) are the preset file
``systems/mixpe-paper.yaml``."""
from __future__ import annotations

from tokenfab.arch_models.common.system import SystemSpec, from_platform


def spec(platform, *, design: str, rows: int, cols: int, lanes: int, weight_bits: float,
         act_bytes: float, gemm_cycles, attention_on: str, what: str, node: int | None,
         unit_map: tuple, assumptions) -> SystemSpec:
    """One ``rows x cols`` array of ``lanes`` products per PE on a ``mixpe-paper`` file;
    element-wise work on 2 x R x C FLOP per cycle unless the file sets the vector unit."""
    bw = platform.memory.bandwidth
    return from_platform(
        platform, design=design, base_units=1, node=node,
        vector_flops=2 * rows * cols,
        description=(f"MixPE authors' simulator: one {what} at "
                     f"{platform.clock / 1e6:g} MHz, {int(node or platform.node)} nm, "
                     f"{bw / 1e9:.0f} GB/s off chip"),
        tile=(rows, cols, lanes), cycles_per_tile=1, weight_bits=weight_bits,
        act_bytes=act_bytes, kv_bytes=act_bytes, attention_on=attention_on,
        gemm_cycles=gemm_cycles, unit_map=unit_map, assumptions=tuple(assumptions))
