"""tokenfab: design, generate, verify, simulate and cost accelerators for low-bit LLM
inference."""
from tokenfab.api import Design, design, designs, systems
from tokenfab.errors import ToolError, UsageError


def sweep(spec, out="build/sweep", workers=None, resume=False, progress=None,
          fmt="parquet", scheduler=None):
    """A design-space sweep (see :mod:`tokenfab.sweeps`): a DataFrame, one row per point."""
    from tokenfab import sweeps as _sweep
    return _sweep.sweep(spec, out=out, workers=workers, resume=resume, progress=progress,
                        fmt=fmt, scheduler=scheduler)


def engine(name: str, system=None, overrides=(), **params):
    """An engine (see :mod:`tokenfab.engines`): ``tokenfab.engine("ltc-engine", units=2)``;
    with ``system`` (a preset name, YAML path, dict or spec; ``overrides`` as ``--set``)
    sized from that system's levels and memory (``Engine.from_system``)."""
    from tokenfab.engines import Engine
    if system is not None:
        return Engine.from_system(name, system, overrides, **params)
    return Engine(name, **params)


def __getattr__(name):
    if name == "models":                 # tokenfab.models without importing it up front
        import importlib
        return importlib.import_module("tokenfab.models")
    raise AttributeError(f"module 'tokenfab' has no attribute {name!r}")


__all__ = ["Design", "design", "designs", "engine", "systems", "sweep", "models", "UsageError",
           "ToolError"]
__version__ = "0.1.0"
