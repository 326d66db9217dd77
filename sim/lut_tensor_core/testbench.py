"""Verification hooks of the LUT Tensor Core (the cocotb bench is ``tokenfab.sim.stream_tb``)."""
from tokenfab.arch_models.lut_tensor_core import golden
from tokenfab.hw.lut_tensor_core import top
from tokenfab.sim.tile_cases import TileTestbench

TESTBENCH = TileTestbench(golden, top)
