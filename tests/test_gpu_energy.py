"""The SMs' energy around a GPU's tensor cores (cost_models.gpu), from AccelWattch's
measured Quadro GV100: fitted on one kernel, tested on the others."""
import pytest

from tokenfab.cost_models import gpu, tech
from tokenfab.errors import UsageError


def _measured(kernel):
    return gpu.kernel_field(kernel, "measured_power")


@pytest.mark.parametrize("kernel", [gpu.FIT_KERNEL, gpu.SIMT_FIT_KERNEL])
@pytest.mark.calibration
def test_fit_kernels_are_reproduced(kernel):
    """CALIBRATED: gpu_sm_energy_per_mac on cudaTensorCoreGemm (182.0 W) and
    gpu_simt_energy_per_fma on Parboil sgemm (217.5 W), one measurement each."""
    assert gpu.kernel_power_w(kernel) == pytest.approx(_measured(kernel), rel=1e-9)


# PREDICTED: AccelWattch's other tensor-core validation kernels on the same GV100, each
# at its own MAC rate with its own modelled constant, static, idle-SM, L2 and DRAM power.
# The tolerance sits just past the larger observed error (in brackets).
@pytest.mark.parametrize("kernel", ["cutlass_4096x128x4096",      # (+1.3%)
                                    "cutlass_2560x512x2560"])     # (+10.2%)
@pytest.mark.prediction
def test_other_gv100_tensor_kernels(kernel):
    """AccelWattch's measured Quadro GV100 power of CUTLASS WMMA GEMMs (121.6 and 178.0 W)
    from the SM energy per MAC fitted on cudaTensorCoreGemm, within 12%."""
    assert gpu.kernel_power_w(kernel) == pytest.approx(_measured(kernel), rel=0.12)


def test_the_fit_is_per_mac_and_scales_with_node():
    # 4096^3 MACs in 3.87 M cycles at 1132 MHz: 20.1 TMAC/s, 43% of the GV100's 40,960
    # FP16 MACs per clock
    assert gpu.mac_rate(gpu.FIT_KERNEL) == pytest.approx(4096 ** 3 / (3871172.375 / 1.132e9))
    assert 1e-12 < gpu.GV100_SM_J_PER_MAC < 10e-12
    # far above the multipliers and adders themselves
    assert gpu.GV100_SM_J_PER_MAC > 10 * gpu.datapath_j_per_mac(gpu.GV100_TC_TILE, 16)
    assert gpu.sm_energy_per_mac(7) / gpu.sm_energy_per_mac(16) == pytest.approx(
        tech.scale(7, "energy", ref=16))


def test_a_cuda_core_fma_costs_the_sms_several_tensor_core_macs():
    """Parboil sgemm's 1024 x 992 x 1056 FMAs in 359 k cycles: 3.38 T FMA/s, 58% of the
    GV100's 80 x 64 FP32 lanes. Around each FMA the SMs spend 40.0 pJ, against 4.61 pJ
    around a tensor-core MAC: the reason tensor cores exist. On the A100 an FP16 FLOP
    takes half an FP32 FMA's share at 7 nm times fp16_simt_packing (0.5)."""
    assert gpu.mac_rate("parboil_sgemm") == pytest.approx(1024 * 992 * 1056
                                                          / (358744.025 / 1.132e9))
    assert gpu.GV100_SIMT_J_PER_FMA > 4 * gpu.GV100_SM_J_PER_MAC
    assert gpu.simt_energy_per_flop(7) == pytest.approx(
        gpu.GV100_SIMT_J_PER_FMA / 2 * tech.scale(7, "energy", ref=16) * 0.5)


def test_an_a100_at_its_fp32_rate_stays_inside_its_board_power():
    """19.5 TFLOPS of FP32 on the CUDA cores (the A100 datasheet) at the SIMT figure
    scaled to 7 nm, with the idle draw, within the 400 W board limit (about 270 W)."""
    per_flop = (gpu.GV100_SIMT_J_PER_FMA / 2 * tech.scale(7, "energy", ref=16)
                + gpu.fp32_fma_j(7) / 2)
    idle = tech.value("a100-sxm", "idle_power", file="platforms")
    assert idle + 19.5e12 * per_flop < tech.value("a100-sxm", "power", file="platforms")


def test_a_kernel_outside_the_data_is_refused():
    with pytest.raises(UsageError, match="kernel must be one of cudaTensorCoreGemm.*parboil_sgemm"):
        gpu.mac_rate("sgemm")
    with pytest.raises(UsageError, match="kernel must be one of"):
        gpu.kernel_power_w(["parboil_sgemm"])
