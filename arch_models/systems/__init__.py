"""Systems as data: a system is a YAML file (the convention of Timeloop/Accelergy and ZigZag)
validated against the schema in :mod:`.schema`.

Every preset is such a file beside this module (``asic.yaml``, ``a100.yaml``, ...); a user
brings their own the same way. :func:`load` takes a preset name, a path, a dict or a
:class:`~.schema.Spec`, applies ``--set`` overrides (:func:`apply_overrides`) and returns a
validated :class:`~.schema.Spec` that remembers each field's source. ``Spec.to_yaml()``
writes it back; loading that text gives the same spec.
"""
from __future__ import annotations

from tokenfab.arch_models.systems.schema import (HERE, Spec, apply_overrides, from_dict,
                                                 load, parse_overrides, preset_names,
                                                 read_file)

__all__ = ["HERE", "Spec", "apply_overrides", "from_dict", "load", "parse_overrides",
           "preset_names", "read_file"]
