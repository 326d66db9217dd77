"""System presets for the GEMM-tile designs (LUT Tensor Core, MAC array).

``asic``: a stand-alone accelerator of tile units (the default). ``a100``: the A100-class
GPU of LUT Tensor Core's Table 1 with the design's units in place of its tensor cores.
Times, bytes and capacities only; ``tokenfab.cost_models.tile_arrays`` prices them.

Two modelling switches of the ``a100`` preset move its Table 1 predictions; each is on,
as the paper's unfused baseline kernels behave. Their effect on bitnet-b1.58-3b prefill
when turned off (measured 2026-12-02):

================================  ==============  ===============  ===============
switch off                        FP16, b1024x1   LUT-8X, b1024x1  both, b1x2048
================================  ==============  ===============  ===============
``activations_in_dram``           -4.3%           -23.1%           -2.7% / -6.4%
``materialize_scores``            0.0%            -0.1%            -7.8% / -7.1%
================================  ==============  ===============  ===============
"""
from __future__ import annotations

import dataclasses

from tokenfab.arch_models.common.system import Memory, SystemSpec, check_system
from tokenfab.arch_models.common.tile_timing import sequence_cycles, tile_gemm
from tokenfab.calibration import calibrated, get

# A100 SXM4 40 GB (NVIDIA datasheet via costdata.md 5.1, [S]); the paper normalizes its
# Table 1 to 1.41 GHz and keeps 108 SMs with 4 tensor cores each.
A100_SMS = 108
A100_TCS_PER_SM = 4
A100_CLOCK_HZ = 1.41e9
A100_HBM = Memory("HBM2 (A100 SXM4 40 GB)", 40e9, 1.555e12, "hbm2", 5120)  # datasheet [S]
A100_L2_BYTES = 40 * 2**20          # A100 whitepaper: 40 MB L2 [S]
A100_FP16_NON_TENSOR_FLOPS = 78e12
A100_FP16_TC_TILE = (8, 4, 8)      # 256 FP16 MACs per tensor core per cycle -> 312 TFLOPS

# The fraction of the unit formula's peak that GEMM kernels reach on the A100 model,
# fitted to one published latency. The other three Table 1 latencies are predictions
# (tests check them). The same fraction is assumed for the CUDA cores (no second fit).
A100_EFFICIENCY = calibrated(
    "a100_efficiency", 0.5811,
    fitted_to="mac-array --system a100, bitnet-b1.58-3b FP16, batch 1024 x 1 token: "
              "41.15 ms (LUT Tensor Core, ISCA '25, Table 1, FP16 TC column)",
    drives="every GEMM, attention and vector time on the a100 preset")

# PCIe 4.0 x16: 16 GT/s x 16 lanes x 128b/130b = 31.5 GB/s per direction (PCI-SIG base
# specification 4.0 [S]); the host link both presets spill weights over.
PCIE4_X16_BYTES_PER_S = 31.5e9

# The asic preset's memory: a 128-bit LPDDR5X-8533 interface (8533 MT/s x 16 bytes =
# 136.5 GB/s, taken as 128 GB/s sustained) with 16 GB (two 64 Gb x64 packages): an
# assumption for an edge accelerator [W], not a product.
ASIC_LPDDR = Memory("LPDDR5X (128-bit, 16 GB; assumption)", 16e9, 128e9, "lpddr5x", 128)
ASIC_BUFFER_BYTES = 4 * 2**20       # on-chip activation SRAM (assumption [W])


def _precompute(p):
    ops = precompute_ops_per_group(p)
    return (p.k, ops) if ops else None


def asic(p, *, node: int = 28, attention_on: str = "matrix") -> SystemSpec:
    units = 16 * p.array_scale
    vector = 1024
    mem = ASIC_LPDDR
    return SystemSpec(
        name="asic",
        description=(f"{units} units of {p.m}x{p.n}x{p.k} at 1 GHz, {node} nm, "
                     f"{mem.bytes_per_s / 1e9:.0f} GB/s LPDDR5X, {vector} FLOP/cycle vector "
                     f"unit, attention on the {attention_on} engine"),
        clock_hz=1e9, units=units, tile=(p.m, p.n, p.k),
        cycles_per_tile=p.cycles_per_tile, weight_bits=p.weight_bits,
        act_bytes=p.act_bits / 8, kv_bytes=p.act_bits / 8, memory=mem,
        buffer_bytes=ASIC_BUFFER_BYTES, host_bytes_per_s=PCIE4_X16_BYTES_PER_S,
        vector_flops_per_cycle=vector, attention_on=attention_on, node_nm=node,
        table_precompute=_precompute(p),
        assumptions=(f"weights stored at {p.weight_bits} bits; activations and KV cache "
                     f"INT{p.act_bits}; LM head and embeddings as the other weights "
                     "(embeddings in the activation format)",
                     f"{ASIC_BUFFER_BYTES // 2**20} MiB on-chip activation buffer; larger "
                     "live activations stream through DRAM"))


def a100(p, *, fp16_tensor_cores: bool, node: int = 7) -> SystemSpec:
    """``fp16_tensor_cores``: the MAC baseline (FP16 weights and activations on A100's
    tensor cores, attention on them too); otherwise the design's units replace the tensor
    cores, run the low-bit GEMMs, and attention falls to the CUDA cores (the LUT-equipped
    SM of Table 1 has only the LUT TC area)."""
    units = A100_SMS * A100_TCS_PER_SM * p.array_scale
    vector = A100_FP16_NON_TENSOR_FLOPS / A100_CLOCK_HZ
    common = dict(
        name="a100", clock_hz=A100_CLOCK_HZ, units=units,
        act_bytes=2.0, kv_bytes=2.0, memory=A100_HBM, buffer_bytes=A100_L2_BYTES,
        host_bytes_per_s=PCIE4_X16_BYTES_PER_S,
        vector_flops_per_cycle=vector, matrix_efficiency=A100_EFFICIENCY,
        vector_efficiency=A100_EFFICIENCY, activations_in_dram=True,
        materialize_scores=True, node_nm=node,
        calibrations=(get("a100_efficiency"),),
    )
    switches = ("activations_in_dram: every activation round-trips HBM between kernels "
                "(unfused kernels, as the paper's baseline)",
                "materialize_scores: attention writes and reads S and P in FP16 "
                "(no FlashAttention)")
    if fp16_tensor_cores:
        m, n, k = A100_FP16_TC_TILE
        return SystemSpec(
            description=(f"A100-class: {A100_SMS} SMs x {A100_TCS_PER_SM} FP16 tensor cores "
                         f"(x{p.array_scale}) of {m}x{n}x{k}, 1.41 GHz, 1.555 TB/s HBM2; "
                         "FP16 weights and activations"),
            tile=A100_FP16_TC_TILE, cycles_per_tile=1, weight_bits=16,
            attention_on="matrix", fp16_tensor_cores=True,
            assumptions=("weights, activations and KV cache FP16 (the model's weights "
                         "converted to FP16 whatever their trained format)",) + switches,
            **common)
    return SystemSpec(
        description=(f"A100-class: {A100_SMS} SMs x {A100_TCS_PER_SM} tensor cores, each "
                     f"{p.array_scale} units of {p.m}x{p.n}x{p.k}, {p.weight_bits}-bit "
                     "weights, INT8 activations; 1.41 GHz, 1.555 TB/s HBM2; attention on "
                     "the CUDA cores"),
        tile=(p.m, p.n, p.k), cycles_per_tile=p.cycles_per_tile, weight_bits=p.weight_bits,
        attention_on="vector", table_precompute=_precompute(p),
        assumptions=(f"weights quantised to {p.weight_bits} bits; activations moved as FP16 "
                     "between kernels; KV cache FP16",) + switches + (
            ("the LUT unit at the paper's boundary whatever its parameters say: tables "
             "precomputed on the CUDA cores, accumulators in the register file",)
            if hasattr(p, "precompute") else ()),
        **common)


def paper_boundary(p, system: str):
    """The unit as the ``a100`` preset builds it: a LUT Tensor Core sits at the paper's
    tensor-core boundary there (tables precomputed on the CUDA cores and broadcast,
    accumulators in the register file), whatever ``p`` says; other units as they are."""
    if system == "a100" and hasattr(p, "precompute"):
        return dataclasses.replace(p, precompute="external", accumulators="regfile")
    return p


def precompute_ops_per_group(p) -> float:
    """Adds an external precompute spends on one group of K activations: K-1 for the
    first entry, then one per further entry (each differs from an earlier one by one
    sign flip: ``+ 2 a_j``). 0 when the unit builds its own tables."""
    if getattr(p, "precompute", "internal") != "external":
        return 0.0
    return p.table_entries + p.k - 2


class TileTiming:
    """The timing hooks of a GEMM-tile design (its ``timing`` module's ``SYSTEMS``,
    ``unit_cycles``, ``system`` and ``simulate``): ``attention_on`` the asic preset's
    engine for attention, ``fp16_tensor_cores`` whether the a100 preset keeps A100's own
    FP16 tensor cores (the MAC baseline) or puts the design's units in their place."""

    SYSTEMS = ("asic", "a100")

    def __init__(self, design: str, *, attention_on: str, fp16_tensor_cores: bool):
        self.design = design
        self.attention_on = attention_on
        self.fp16_tensor_cores = fp16_tensor_cores

    @staticmethod
    def unit_cycles(p, n_tiles: int) -> int:
        """Cycles for ``n_tiles`` beats back to back (see ``TileSequencer``)."""
        return sequence_cycles(n_tiles, p.cycles_per_tile)

    @staticmethod
    def gemm(p, M: int, K: int, N: int) -> dict:
        """One unit's cycles for ``A[M, K] @ B[K, N]`` (see ``tile_gemm``)."""
        return tile_gemm(M, K, N, (p.m, p.n, p.k), p.cycles_per_tile)

    def system(self, p, name: str = "asic", node: int = 28) -> SystemSpec:
        check_system(name, dict.fromkeys(self.SYSTEMS))
        p = paper_boundary(p, name)
        if name == "asic":
            return asic(p, node=node, attention_on=self.attention_on)
        return a100(p, fp16_tensor_cores=self.fp16_tensor_cores)

    def simulate(self, p, request, system_name: str = "asic", *, node: int = 28,
                 progress=None, trace: bool = False):
        from tokenfab.arch_models.common.simulate import simulate
        return simulate(self.design, paper_boundary(p, system_name),
                        self.system(p, system_name, node), request, progress=progress,
                        trace=trace)
