"""Timing of the mac-array unit and the systems built from it: attention runs on the MAC units; on the a100 preset A100's own FP16 tensor cores are the baseline."""
from tokenfab.arch_models.common.tile_systems import TileTiming

_hooks = TileTiming("mac-array", attention_on="matrix", fp16_tensor_cores=True)
SYSTEMS = _hooks.SYSTEMS
TEMPLATES = _hooks.TEMPLATES
unit_cycles = _hooks.unit_cycles
gemm = _hooks.gemm
system = _hooks.system
simulate = _hooks.simulate
