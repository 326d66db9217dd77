"""Validation helpers shared by every design's ``Params`` and the CLI's ``-p key=value``.

Messages follow "<thing> must be <constraint>, not {value!r}" so that tests can match them.
"""
from __future__ import annotations

import dataclasses
import re
import typing

from tokenfab.errors import UsageError


def check_int(name: str, value, lo: int | None = None, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{name} must be an integer, not {value!r}")
    if lo is not None and hi is not None and not lo <= value <= hi:
        raise UsageError(f"{name} must be an integer from {lo} to {hi}, not {value!r}")
    if lo is not None and value < lo:
        raise UsageError(f"{name} must be an integer of at least {lo}, not {value!r}")
    if hi is not None and value > hi:
        raise UsageError(f"{name} must be an integer of at most {hi}, not {value!r}")


def check_number(name: str, value, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{name} must be a number, not {value!r}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        rel = "greater than" if lo_open else "at least"
        raise UsageError(f"{name} must be a number {rel} {lo}, not {value!r}")
    if hi is not None and value > hi:
        raise UsageError(f"{name} must be a number of at most {hi}, not {value!r}")


def did_you_mean(value, choices) -> str:
    """`` (did you mean 'x'?)`` for a near miss among string choices, else ``""``."""
    import difflib
    if not isinstance(value, str):
        return ""
    names = [str(c) for c in choices]
    # initials of hyphenated names too: 'ltc' for 'lut-tensor-core'
    initials = {"".join(w[0] for w in re.split(r"[-_]", n) if w): n for n in names}
    close = difflib.get_close_matches(value, names, n=1, cutoff=0.6)
    hit = close[0] if close else initials.get(value.lower())
    return f" (did you mean {hit!r}?)" if hit else ""


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise UsageError(f"{name} must be one of {allowed}, not {value!r}"
                         f"{did_you_mean(value, choices)}")


class ParamsBase:
    """What every design's ``Params`` dataclass offers besides its fields."""

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def param_fields(params_cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(params_cls)}


def defaults(params_cls) -> dict:
    return {name: f.default for name, f in param_fields(params_cls).items()}


def _convert(name: str, text: str, kind):
    if kind is bool:
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise UsageError(f"{name} must be a boolean (true/false), not {text!r}")
    if kind is int:
        try:
            return int(text, 0)
        except ValueError:
            raise UsageError(f"{name} must be an integer, not {text!r}") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise UsageError(f"{name} must be a number, not {text!r}") from None
    return text


def parse_assignments(params_cls, assignments: list[str] | None) -> dict:
    """Turn ``["n=32", "weight_bits=2"]`` into typed keyword arguments for ``params_cls``."""
    hints = typing.get_type_hints(params_cls)
    fields = param_fields(params_cls)
    out = {}
    for item in assignments or []:
        if "=" not in item:
            raise UsageError(f"parameter must be written key=value, not {item!r}")
        key, _, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if key not in fields:
            allowed = ", ".join(sorted(fields))
            raise UsageError(f"parameter must be one of {allowed}, not {key!r}")
        out[key] = _convert(key, text.strip(), hints[key])
    return out


def build(params_cls, overrides: dict | None = None):
    """Instantiate ``params_cls`` with keyword overrides, turning TypeErrors into UsageErrors."""
    overrides = dict(overrides or {})
    fields = param_fields(params_cls)
    for key in overrides:
        if key not in fields:
            allowed = ", ".join(sorted(fields))
            raise UsageError(f"parameter must be one of {allowed}, not {key!r}")
    return params_cls(**overrides)
