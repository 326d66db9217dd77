"""The one register of constants fitted to (or derived from) a published figure.

A model module declares each such constant once, where it is used::

    A100_EFFICIENCY = calibrated("a100_efficiency", 0.5711,
                                 fitted_to="...41.15 ms (LUT Tensor Core Table 1)",
                                 drives="GEMM and vector time on the a100 preset")

``tokenfab list --calibrations`` lists them all, and every result names the ones it used.
This module is part of the small core every level may import.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil


@dataclasses.dataclass(frozen=True)
class Calibration:
    name: str
    value: float
    fitted_to: str       # the published figure and its source
    drives: str          # which outputs move with it

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


REGISTRY: dict[str, Calibration] = {}


def calibrated(name: str, value: float, *, fitted_to: str, drives: str) -> float:
    """Register ``value`` under ``name`` and return it unchanged."""
    cal = Calibration(name, value, fitted_to, drives)
    old = REGISTRY.get(name)
    if old is not None and old != cal:
        raise RuntimeError(f"calibration {name!r} registered twice with different values")
    REGISTRY[name] = cal
    return value


def get(name: str) -> Calibration:
    return REGISTRY[name]


def all_calibrations() -> list[Calibration]:
    """Every registered calibration; imports every model module first (system and cost
    models register theirs at import) so that the list is complete."""
    import tokenfab.arch_models
    import tokenfab.cost_models
    for pkg in (tokenfab.arch_models, tokenfab.cost_models):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            importlib.import_module(info.name)
    return sorted(REGISTRY.values(), key=lambda c: c.name)
