"""The SMs' energy around a GPU's tensor cores (cost_models.gpu), from AccelWattch's
measured Quadro GV100: fitted on one kernel, tested on the others."""
import pytest

from tokenfab.cost_models import gpu, tech
from tokenfab.errors import UsageError


def _measured(kernel):
    return tech.value("gpu_sm", "kernels", kernel, "measured_power")


@pytest.mark.calibration
def test_fit_kernel_is_reproduced():
    # CALIBRATED: gpu_sm_energy_per_mac was fitted to this one measurement.
    assert gpu.kernel_power_w(gpu.FIT_KERNEL) == pytest.approx(_measured(gpu.FIT_KERNEL),
                                                              rel=1e-9)


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


def test_a_kernel_outside_the_data_is_refused():
    with pytest.raises(UsageError, match="kernel must be one of cudaTensorCoreGemm"):
        gpu.mac_rate("sgemm")
