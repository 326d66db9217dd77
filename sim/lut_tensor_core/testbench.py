"""Verification hooks of the LUT Tensor Core (the cocotb bench is ``sim.stream_tb``)."""
from arch_models.lut_tensor_core import golden
from hw.lut_tensor_core import top
from sim.tile_cases import TileTestbench

TESTBENCH = TileTestbench(golden, top)
