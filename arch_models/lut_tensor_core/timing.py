"""Timing of the lut-tensor-core unit and the systems built from it: attention runs on the vector unit (the LUT units take low-bit weights only); on the a100 preset the units replace the tensor cores."""
from tokenfab.arch_models.common.tile_systems import TileTiming

_hooks = TileTiming("lut-tensor-core", attention_on="vector", fp16_tensor_cores=False)
SYSTEMS = _hooks.SYSTEMS
TEMPLATES = _hooks.TEMPLATES
unit_cycles = _hooks.unit_cycles
gemm = _hooks.gemm
system = _hooks.system
simulate = _hooks.simulate
