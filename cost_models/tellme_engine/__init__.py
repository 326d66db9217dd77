"""Cost of the TeLLMe engine running a layer: every engine's model
(``cost_models/engine.py``) with the TLMM unit's components."""
from __future__ import annotations

import functools

from tokenfab.arch_models.tellme_engine.timing import outputs
from tokenfab.cost_models import engine
from tokenfab.cost_models.tellme import unit_components
from tokenfab.hw.tellme_engine.params import Params


def engine_cost(p: Params, L, mapping: dict, cycles: float, **kw) -> engine.EngineCost:
    return engine.engine_cost(p, L, mapping, cycles, unit_components(p.unit),
                              functools.partial(outputs, p), **kw)
