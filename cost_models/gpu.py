"""What a GPU's SMs spend around its tensor cores, from a measured GPU.

A tensor-core MAC on a GPU costs far more than its multiplier and adder: the SM reads its
operands from the register file, fetches and issues the instructions, stages tiles through
shared memory and clocks all of it. AccelWattch (Kandiah et al., MICRO'21) measured the
board power of an NVIDIA Quadro GV100 running tensor-core GEMMs and modelled the parts of
it that are not the SMs' work (constant power, static power of the active lanes, idle SMs,
L2, DRAM). The rest, over the kernel's MAC rate, less what the tensor cores' own
multipliers and adders take (``components.fp16_tensor_core``, the datapath a system prices
as its units), is what the SMs spend around each FP16 MAC:

    e = (P_measured - P_constant - P_static - P_idle_SMs - P_L2 - P_DRAM) / (MACs / t)
        - datapath per MAC

fitted on one kernel (``cudaTensorCoreGemm``, 4096^3) and registered as the calibration
``gpu_sm_energy_per_mac``; the other tensor-core kernels of AccelWattch's validation set
test it (``kernel_power_w``). Another node takes it scaled by the Stillmaker-Baas energy
factor, and an A100 SM by ``ampere_vs_volta`` (a weak assumption, 0.5 - 1).

The CUDA cores' work is priced the same way from AccelWattch's one SIMT GEMM (Parboil
``sgemm``, FP32 FMAs): ``gpu_simt_energy_per_fma``, less an FP32 multiply and add
(Horowitz), per FLOP half an FMA's, an FP16 FLOP ``fp16_simt_packing`` of an FP32 one.
"""
from __future__ import annotations

import math

from tokenfab.calibration import calibrated
from tokenfab.cost_models import components as cc
from tokenfab.cost_models import energy, tech
from tokenfab.errors import UsageError
from tokenfab.params import checked, number

GROUP = "gpu_sm"
FIT_KERNEL = "cudaTensorCoreGemm"
SIMT_FIT_KERNEL = "parboil_sgemm"
GV100_TC_TILE = (4, 4, 4)   # Volta whitepaper: 64 FP16 FMAs per tensor core per clock
OUTSIDE = ("constant_power", "static_power", "idle_sm_power", "l2_power", "dram_power")


def kernels(group: str = "kernels") -> list[str]:
    """AccelWattch's GV100 kernels of ``group``: "kernels" (tensor cores) or
    "simt_kernels" (CUDA cores)."""
    return [k for k in tech.leaf(GROUP, group) if not k.startswith("_")]


def _group(name) -> str:
    for group in ("kernels", "simt_kernels"):
        if isinstance(name, str) and name in kernels(group):
            return group
    raise UsageError(f"kernel must be one of {', '.join(kernels() + kernels('simt_kernels'))}"
                     f", not {name!r}")


def kernel_field(name: str, field: str) -> float:
    """An SI field of an AccelWattch kernel (``measured_power``, ``sm_cycles``, ...)."""
    return tech.value(GROUP, _group(name), name, field)


def _seconds(name: str) -> float:
    return kernel_field(name, "sm_cycles") / tech.value(GROUP, "gv100_clock")


def mac_rate(name: str) -> float:
    """MACs (tensor kernels) or FMAs (SIMT kernels) per second of an AccelWattch kernel
    on the GV100 at its clock."""
    count = "macs" if _group(name) == "kernels" else "fmas"
    return kernel_field(name, count) / _seconds(name)


def outside_power_w(name: str) -> float:
    """The kernel's power AccelWattch puts outside the SMs' per-MAC work."""
    return sum(kernel_field(name, f) for f in OUTSIDE)


def datapath_j_per_mac(tile: tuple, node: int) -> float:
    """J per MAC of an FP16 tensor core of ``tile`` (m, n, k) MACs per cycle: its
    multipliers, adders and operand registers as the components count them."""
    comps = cc.fp16_tensor_core(*tile)
    return (comps.clock_j(node) + comps.data_j(node)) / math.prod(tile)


def _gv100_node() -> int:
    return int(tech.value(GROUP, "gv100_node"))


def fp32_fma_j(node: int) -> float:
    """An FP32 multiply and add at ``node`` (Horowitz, scaled): an FMA's arithmetic."""
    return energy.op_energy("fp_mult", 32, node) + energy.op_energy("fp_add", 32, node)


def _arithmetic_j(name: str) -> float:
    """The arithmetic of one of the kernel's MACs (FMAs) as a system prices its units: a
    tensor core's datapath per MAC, or an FP32 multiply and add."""
    if _group(name) == "kernels":
        return datapath_j_per_mac(GV100_TC_TILE, _gv100_node())
    return fp32_fma_j(_gv100_node())


def _fit(name: str) -> float:
    """J per MAC (FMA) the SMs spend around the arithmetic of ``name``: its measured power
    less the parts outside the SMs, over its MAC rate, less the arithmetic."""
    sm_w = kernel_field(name, "measured_power") - outside_power_w(name)
    return sm_w / mac_rate(name) - _arithmetic_j(name)


GV100_SIMT_J_PER_FMA = calibrated(
    "gpu_simt_energy_per_fma", _fit(SIMT_FIT_KERNEL),
    fitted_to="AccelWattch's measured 217.5 W of Parboil sgemm (medium, 1024 x 992 x 1056 "
              "FP32 FMAs on the CUDA cores) on a Quadro GV100 at 1132 MHz, less its modelled "
              "constant, static, idle-SM, L2 and DRAM power and an FP32 multiply and add "
              "(Horowitz); J per FMA at 16 nm",
    drives="the a100 preset's energy per CUDA-core FLOP (level 'sm')")


GV100_SM_J_PER_MAC = calibrated(
    "gpu_sm_energy_per_mac", _fit(FIT_KERNEL),
    fitted_to="AccelWattch's measured 182.0 W of cudaTensorCoreGemm (4096^3 FP16 MACs) on a "
              "Quadro GV100 at 1132 MHz, less its modelled constant, static, idle-SM, L2 and "
              "DRAM power (AccelWattch_graphs.xlsx, Volta_SASS_SIM) and the tensor cores' "
              "datapath (components); J per MAC at 16 nm",
    drives="the a100 preset's energy per busy tensor-core slot step (level 'sm')")


@checked(j_per_mac=number(0))
def kernel_power_w(name: str, j_per_mac: float | None = None) -> float:
    """Board power of an AccelWattch kernel on the GV100 as this model puts it: its MAC
    (FMA) rate at ``j_per_mac`` (default: the fitted figure of its kind) and the
    datapath, plus the parts outside the SMs' per-MAC work."""
    if j_per_mac is None:
        j_per_mac = GV100_SM_J_PER_MAC if _group(name) == "kernels" else GV100_SIMT_J_PER_FMA
    return (j_per_mac + _arithmetic_j(name)) * mac_rate(name) + outside_power_w(name)


def sm_energy_per_mac(node) -> float:
    """J per FP16 tensor-core MAC an A100-class SM spends at ``node`` around its tensor
    cores' datapath: the GV100's figure scaled by the node's energy factor and by
    ``ampere_vs_volta``."""
    n = tech.check_node(node)
    return (GV100_SM_J_PER_MAC * tech.scale(n, "energy", ref=_gv100_node())
            * tech.value(GROUP, "ampere_vs_volta"))


def simt_energy_per_flop(node) -> float:
    """J per FP16 FLOP an A100-class SM spends at ``node`` on the CUDA cores around the
    arithmetic: half the GV100's figure per FMA, scaled by node, times
    ``fp16_simt_packing``."""
    n = tech.check_node(node)
    return (GV100_SIMT_J_PER_FMA / 2 * tech.scale(n, "energy", ref=_gv100_node())
            * tech.value(GROUP, "fp16_simt_packing"))
