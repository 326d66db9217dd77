"""The LUT Tensor Core engine's golden model: the reference output. Where a layer sits in
DRAM is every engine's (``arch_models/common/engine.layer``); the bench packs and unpacks
the DRAM words (``sim/ltc_engine/testbench.py``)."""
from __future__ import annotations

import numpy as np

from tokenfab.arch_models.lut_tensor_core import golden as unit_golden
from tokenfab.hw.ltc_engine.params import Params


def reference(p: Params, acts, codes) -> np.ndarray:
    """What the engine must leave in DRAM: the unit's GEMM, wrapped to ``acc_bits``."""
    return unit_golden.ref_gemm(p.unit, acts, codes)
