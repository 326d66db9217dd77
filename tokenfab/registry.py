"""The design registry: the one place where a design is named.

A design is a package name that exists in each level, found by convention:

- ``tokenfab.hw.<pkg>.params.Params`` and ``tokenfab.hw.<pkg>.top.top(params)``
- ``tokenfab.arch_models.<pkg>.golden`` and ``tokenfab.arch_models.<pkg>.timing``
- ``tokenfab.sim.<pkg>.testbench``
- ``tokenfab.cost_models.<pkg>``: ``pricing(params, run)``; optionally ``design_cost``
  (replaces the tile-array ``cost``, as for HNLPU, TeLLMe and SAIL) and
  ``companions(params, result)`` (top-level keys a design adds to ``simulate``'s result:
  SAIL's ``baseline``, ``speedup``, ...)

Modules are imported when first used, so ``tokenfab list`` stays fast.
"""
from __future__ import annotations

import dataclasses
import importlib

from tokenfab.errors import UsageError


@dataclasses.dataclass(frozen=True)
class DesignEntry:
    name: str
    title: str
    paper: str
    package: str
    top_name: str

    def module(self, level: str, sub: str | None = None):
        path = f"tokenfab.{level}.{self.package}" + (f".{sub}" if sub else "")
        return importlib.import_module(path)

    @property
    def Params(self):
        return self.module("hw", "params").Params

    def top(self, params):
        return self.module("hw", "top").top(params)

    @property
    def golden(self):
        return self.module("arch_models", "golden")

    @property
    def timing(self):
        return self.module("arch_models", "timing")

    @property
    def testbench(self):
        return self.module("sim", "testbench").TESTBENCH

    @property
    def cost(self):
        return self.module("cost_models")


DESIGNS: dict[str, DesignEntry] = {
    e.name: e for e in [
        DesignEntry(
            name="lut-tensor-core",
            title="LUT Tensor Core: mixed-precision GEMM by table lookup",
            paper="Mo et al., LUT Tensor Core, ISCA 2025 (arXiv 2408.06003)",
            package="lut_tensor_core", top_name="lut_tensor_core"),
        DesignEntry(
            name="mac-array",
            title="MAC array: conventional dequantize-and-multiply baseline",
            paper="baseline of every paper here (LUT Tensor Core's MAC tensor core)",
            package="mac_array", top_name="mac_array"),
        DesignEntry(
            name="systolic-array",
            title="Systolic array: output-, weight- or input-stationary MAC array "
                  "(SCALE-Sim's cycles)",
            paper="baseline; cycle model of SCALE-Sim (Samajdar et al., ISPASS 2020; "
                  "SCALE-Sim v3, 2025)",
            package="systolic_array", top_name="systolic_array"),
        DesignEntry(
            name="mixpe",
            title="MixPE: shift-and-add mixed-precision PEs, dequantised once per group",
            paper="Zhang et al., MixPE: Quantization and Hardware Co-design for Efficient "
                  "LLM Inference (arXiv 2411.16158)",
            package="mixpe", top_name="mixpe"),
        DesignEntry(
            name="sail",
            title="SAIL: LUT-GEMV in SRAM arrays beside each LLC slice of a many-core CPU",
            paper="Zhang et al., SAIL: SRAM-Accelerated LLM Inference System with "
                  "Lookup-Table-based GEMV (arXiv 2509.25853)",
            package="sail", top_name="sail"),
        DesignEntry(
            name="hnlpu",
            title="HNLPU: hardwired-neuron GEMV with weights fixed in metal",
            paper="Liu et al., Hardwired-Neurons Language Processing Units, ASPLOS 2026 "
                  "(arXiv 2508.16151)",
            package="hnlpu", top_name="hnlpu_gemv"),
        DesignEntry(
            name="tellme",
            title="TeLLMe: ternary table-lookup matmul (TLMM) and RMS-MAX for edge FPGAs",
            paper="Qiao et al., TeLLMe v2, FPGA 2026 (arXiv 2510.15926)",
            package="tellme", top_name="tellme"),
    ]
}


def get(name: str) -> DesignEntry:
    try:
        return DESIGNS[name]
    except KeyError:
        from tokenfab.params import did_you_mean
        allowed = ", ".join(DESIGNS)
        raise UsageError(f"design must be one of {allowed}, not {name!r}"
                         f"{did_you_mean(name, DESIGNS)}") from None
