"""The language models a simulation runs, as a public API.

``load(model)`` takes a shipped name (``names()``), the path of a Hugging Face
``config.json`` (or its folder), a Hub id in the local cache, a config dict, a
``transformers`` config object or a loaded :class:`ModelConfig`; ``names()`` lists the
shipped ones. ``simulate(model=...)`` and ``cost(model=...)`` take the same."""
from __future__ import annotations

from tokenfab.arch_models.workloads import ModelConfig, load_model as load, shipped_models

__all__ = ["ModelConfig", "load", "names", "list"]


def names() -> list[str]:
    """The shipped models' names."""
    return shipped_models()


list = names        # tokenfab.models.list(), as the issue and the notebooks call it
