"""Cost of the LUT Tensor Core engine running a layer: every engine's model
(``cost_models/engine.py``) with the LUT Tensor Core unit's components."""
from __future__ import annotations

import functools

from tokenfab.arch_models.ltc_engine.timing import outputs
from tokenfab.cost_models import engine
from tokenfab.cost_models.lut_tensor_core import unit_components
from tokenfab.hw.ltc_engine.params import Params


def engine_cost(p: Params, L, mapping: dict, cycles: float, **kw) -> engine.EngineCost:
    return engine.engine_cost(p, L, mapping, cycles, unit_components(p.unit),
                              functools.partial(outputs, p), **kw)
