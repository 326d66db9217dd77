"""Verification hooks of the MAC array (the cocotb bench is ``tokenfab.sim.stream_tb``)."""
from tokenfab.arch_models.mac_array import golden
from tokenfab.hw.mac_array import top
from tokenfab.sim.tile_cases import TileTestbench

TESTBENCH = TileTestbench(golden, top)
