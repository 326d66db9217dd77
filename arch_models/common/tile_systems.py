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

from tokenfab.arch_models.common.system import (SystemSpec, from_platform, load_platform,
                                                memory_summary, platform_summary)
from tokenfab.arch_models.common.tile_timing import sequence_cycles, tile_gemm
from tokenfab.calibration import calibrated

# A100 SXM4 40 GB (NVIDIA datasheet via costdata.md 5.1, [S]); the paper normalizes its
# Table 1 to 1.41 GHz and keeps 108 SMs with 4 tensor cores each. The platform's numbers
# (clock, HBM, caches, vector unit) live in ``systems/a100.yaml``.
A100_FP16_TC_TILE = (8, 4, 8)      # 256 FP16 MACs per tensor core per cycle -> 312 TFLOPS
A100_TENSOR_CORES = 432            # 108 SMs x 4 tensor cores (A100 whitepaper)

# The fraction of the unit formula's peak that GEMM kernels reach on the A100 model,
# fitted to one published latency. The other three Table 1 latencies are predictions
# (tests check them). The same fraction is assumed for the CUDA cores (no second fit).
# ``systems/a100.yaml`` names it for ``kernels.efficiency`` and ``vector_unit.efficiency``.
A100_EFFICIENCY = calibrated(
    "a100_efficiency", 0.5711,
    fitted_to="mac-array --system a100, bitnet-b1.58-3b FP16, batch 1024 x 1 token: "
              "41.15 ms (LUT Tensor Core, ISCA '25, Table 1, FP16 TC column)",
    drives="every GEMM, attention and vector time on the a100 preset")

TEMPLATES = ("accelerator", "gpu")     # the system files a tile design runs on


def _precompute(p):
    ops = precompute_ops_per_group(p)
    return (p.k, ops) if ops else None


def asic(p, platform, *, design: str, node: int | None = None,
         attention_on: str = "matrix") -> SystemSpec:
    """Units of ``p`` on an ``accelerator`` system file (16 x array_scale by default)."""
    units = (platform.engines.count or 16) * p.array_scale
    return from_platform(
        platform, design=design, base_units=16, scale=p.array_scale, node=node,
        description=(f"{units} units of {p.m}x{p.n}x{p.k} at "
                     f"{platform_summary(platform, node)}, "
                     f"attention on the {attention_on} engine"),
        tile=(p.m, p.n, p.k), cycles_per_tile=p.cycles_per_tile, weight_bits=p.weight_bits,
        act_bytes=p.act_bits / 8, kv_bytes=p.act_bits / 8, attention_on=attention_on,
        table_precompute=_precompute(p), unit_map=((p.m, p.k, p.n), "mnk", units),
        assumptions=(f"weights stored at {p.weight_bits} bits; activations and KV cache "
                     f"INT{p.act_bits}; LM head and embeddings as the other weights "
                     "(embeddings in the activation format)",
                     "each unit accumulates a whole K chain of its output tile (its "
                     "sequencer's contract); partial sums of a K split by the mapping go "
                     "back to the level holding outputs"))


def a100(p, platform, *, design: str, fp16_tensor_cores: bool,
         node: int | None = None) -> SystemSpec:
    """``fp16_tensor_cores``: the MAC baseline (FP16 weights and activations on A100's
    tensor cores, attention on them too); otherwise the design's units replace the tensor
    cores, run the low-bit GEMMs, and attention falls to the CUDA cores (the LUT-equipped
    SM of Table 1 has only the LUT TC area)."""
    units = (platform.engines.count or A100_TENSOR_CORES) * p.array_scale
    common = dict(design=design, base_units=A100_TENSOR_CORES, scale=p.array_scale, node=node,
                  act_bytes=2.0, kv_bytes=2.0)
    head = (f"A100-class: {units} tensor-core slots, {platform.clock / 1e9:g} GHz, "
            f"{memory_summary(platform)}")
    if fp16_tensor_cores:
        m, n, k = A100_FP16_TC_TILE
        return from_platform(
            platform, description=(f"{head}; FP16 tensor cores of {m}x{n}x{k} "
                                   f"(x{p.array_scale}); FP16 weights and activations"),
            tile=A100_FP16_TC_TILE, cycles_per_tile=1, weight_bits=16,
            attention_on="matrix", fp16_tensor_cores=True,
            unit_map=((m, k, n), "mnk", units),
            assumptions=("weights, activations and KV cache FP16 (the model's weights "
                         "converted to FP16 whatever their trained format)",),
            **common)
    return from_platform(
        platform, description=(f"{head}; each slot {p.array_scale} units of "
                               f"{p.m}x{p.n}x{p.k}, {p.weight_bits}-bit weights, INT8 "
                               "activations; attention on the CUDA cores"),
        tile=(p.m, p.n, p.k), cycles_per_tile=p.cycles_per_tile, weight_bits=p.weight_bits,
        attention_on="vector", table_precompute=_precompute(p),
        unit_map=((p.m, p.k, p.n), "mnk", units),
        assumptions=(f"weights quantised to {p.weight_bits} bits; activations moved as FP16 "
                     "between kernels; KV cache FP16",) + (
            ("the LUT unit at the paper's boundary whatever its parameters say: tables "
             "precomputed on the CUDA cores, accumulators in the register file",)
            if hasattr(p, "precompute") else ()),
        **common)


def paper_boundary(p, system):
    """The unit as a ``gpu`` system builds it: a LUT Tensor Core sits at the paper's
    tensor-core boundary there (tables precomputed on the CUDA cores and broadcast,
    accumulators in the register file), whatever ``p`` says; other units as they are.
    ``system``: a ``SystemSpec``, a ``systems.Spec`` or a template name."""
    template = getattr(system, "template", system)
    if template == "gpu" and hasattr(p, "precompute"):
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
    TEMPLATES = TEMPLATES

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

    def system(self, p, name="asic", node: int | None = None, overrides=()) -> SystemSpec:
        """The system file ``name`` (a preset, a path, a dict or a ``systems.Spec``) with
        ``overrides`` applied, built from ``p``'s units."""
        platform = load_platform(name, overrides, TEMPLATES, self.SYSTEMS, self.design)
        p = paper_boundary(p, platform)
        if platform.template == "accelerator":
            return asic(p, platform, design=self.design, node=node,
                        attention_on=self.attention_on)
        return a100(p, platform, design=self.design,
                    fp16_tensor_cores=self.fp16_tensor_cores, node=node)

    def simulate(self, p, request, system_name="asic", *, node: int | None = None,
                 overrides=(), progress=None, trace: bool = False):
        from tokenfab.arch_models.common.simulate import simulate
        spec = self.system(p, system_name, node, overrides)
        return simulate(self.design, paper_boundary(p, spec.platform), spec, request,
                        progress=progress, trace=trace)
