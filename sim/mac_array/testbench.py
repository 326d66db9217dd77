"""Verification hooks of the MAC array (the cocotb bench is ``sim.stream_tb``)."""
from arch_models.mac_array import golden
from hw.mac_array import top
from sim.tile_cases import TileTestbench

TESTBENCH = TileTestbench(golden, top)
