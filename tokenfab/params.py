"""Validation helpers shared by every design's ``Params`` and the CLI's ``-p key=value``.

Messages follow "<thing> must be <constraint>, not {value!r}" so that tests can match them.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import numbers
import re
import typing

from tokenfab.errors import UsageError


def check_int(name: str, value, lo: int | None = None, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UsageError(f"{name} must be an integer, not {value!r}")
    if lo is not None and hi is not None and not lo <= value <= hi:
        raise UsageError(f"{name} must be an integer from {lo} to {hi}, not {value!r}")
    if lo is not None and value < lo:
        raise UsageError(f"{name} must be an integer of at least {lo}, not {value!r}")
    if hi is not None and value > hi:
        raise UsageError(f"{name} must be an integer of at most {hi}, not {value!r}")


def check_number(name: str, value, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False) -> None:
    import math
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UsageError(f"{name} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, not {value!r}")
    if lo is not None and hi is not None and not lo_open and not lo <= value <= hi:
        raise UsageError(f"{name} must be a number from {lo:g} to {hi:g}, not {value!r}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        rel = "greater than" if lo_open else "at least"
        raise UsageError(f"{name} must be a number {rel} {lo}, not {value!r}")
    if hi is not None and value > hi:
        raise UsageError(f"{name} must be a number of at most {hi}, not {value!r}")


def number(lo: float | None = None, hi: float | None = None, lo_open: bool = False):
    """A rule for :func:`checked`: a finite real number within the bounds."""
    return lambda name, value: check_number(name, value, lo, hi, lo_open)


def integer(lo: int | None = None, hi: int | None = None):
    """A rule for :func:`checked`: an integer (not a bool, not a float) within the bounds."""
    return lambda name, value: check_int(name, value, lo, hi)


def instance(cls):
    """A rule for :func:`checked`: an instance of ``cls``."""
    def rule(name, value):
        if not isinstance(value, cls):
            raise UsageError(f"{name} must be a {cls.__name__}, not {value!r}")
    return rule


def checked(**rules):
    """Check a public function's arguments where it is called: each argument named in
    ``rules`` against its rule (:func:`number`, :func:`integer`, :func:`instance`, or any
    ``rule(name, value)`` raising ``UsageError``), so that a notebook's negative count,
    NaN, float count or bool width gets one message naming the argument instead of a
    number or a raw ``TypeError``. An argument whose default is None may be None."""
    def wrap(fn):
        sig = inspect.signature(fn)
        unknown = set(rules) - set(sig.parameters)
        if unknown:
            raise TypeError(f"checked({', '.join(sorted(unknown))}): not arguments of "
                            f"{fn.__qualname__}")

        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError as exc:
                raise UsageError(f"{fn.__name__}(): {exc}") from None
            for name, rule in rules.items():
                if name in bound.arguments:
                    value = bound.arguments[name]
                    if value is None and sig.parameters[name].default is None:
                        continue
                    rule(name, value)
            return fn(*args, **kwargs)
        return call
    return wrap


def rtl_size_problem(design: str, params) -> str | None:
    """Why ``params`` has no RTL, or None: past its design's RTL limit
    (``Params.rtl_max_macs``, in ``macs_per_tile``: what elaborates in about a minute on
    2 cores, measured per design in benchmarks/BENCHMARKS.md), naming the parameters
    that make it large."""
    size = getattr(params, "macs_per_tile", None)
    limit = getattr(params, "rtl_max_macs", None)
    if size is None or limit is None or size <= limit:
        return None
    default = type(params)()
    changed = [f"{k}={v}" for k, v in params.to_dict().items() if getattr(default, k) != v]
    return (f"{design} with {', '.join(changed)} has {size:,} MACs per tile, past its RTL "
            f"limit of {limit:,}: elaboration grows faster than the size and would take "
            "minutes or more")


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


def param(default, help: str, *, lo=None, hi=None, choices=None):
    """A ``Params`` field with its one definition: default, meaning, and the range (``lo``
    and ``hi``; ``hi`` may be a function of the class) or ``choices`` that
    ``ParamsBase`` validates and ``tokenfab list DESIGN`` prints."""
    return dataclasses.field(default=default, metadata={
        "help": help, "lo": lo, "hi": hi, "choices": choices})


def declared_bound(bound, cls):
    """A field's declared ``lo`` or ``hi``: the value, or the function of the class."""
    return bound(cls) if callable(bound) else bound


def check_field(cls, f: dataclasses.Field, value):
    """``value`` for field ``f`` of the ``Params`` class ``cls``, checked against the
    field's own declaration (type, range or choices; not the cross-field checks) and
    returned as the plain value the field holds."""
    meta = f.metadata
    value = _plain(value, f.default)
    if meta["choices"] is not None:
        check_choice(f.name, value, meta["choices"])
    elif isinstance(f.default, bool):
        if not isinstance(value, bool):
            raise UsageError(f"{f.name} must be a boolean, not {value!r}")
    elif isinstance(f.default, int):
        check_int(f.name, value, declared_bound(meta["lo"], cls),
                  declared_bound(meta["hi"], cls))
    elif isinstance(f.default, float):
        check_number(f.name, value, declared_bound(meta["lo"], cls),
                     declared_bound(meta["hi"], cls))
    elif isinstance(f.default, str) and not isinstance(value, str):
        raise UsageError(f"{f.name} must be a string, not {value!r}")
    return value


class ParamsBase:
    """What every design's ``Params`` dataclass offers besides its fields: validation of
    every field declared with :func:`param` (subclasses add cross-field checks in their
    own ``__post_init__`` after calling this one)."""

    def __post_init__(self):
        cls = type(self)
        for f in dataclasses.fields(self):
            if "help" in f.metadata:
                object.__setattr__(self, f.name, check_field(cls, f, getattr(self, f.name)))

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _plain(value, default):
    """numpy scalars and paths as the plain Python values a field holds (a notebook's
    sweep passes ``np.int64(32)`` or a ``pathlib.Path``); anything else unchanged, for
    the checks to judge (an integral float is not taken for an integer)."""
    import numbers
    import os
    numpy = type(value).__module__ == "numpy"
    if isinstance(default, bool):
        return bool(value) if numpy and type(value).__name__.startswith("bool") else value
    if isinstance(default, int) and numpy and isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(default, float) and numpy and isinstance(value, numbers.Real):
        return float(value)
    if isinstance(default, str) and isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def as_int(name: str, value, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` checked as by :func:`check_int` (numpy integers accepted) and returned as
    a plain ``int``."""
    value = _plain(value, 0)
    check_int(name, value, lo, hi)
    return value


def as_bool(name: str, value) -> bool:
    """``value`` as a plain ``bool`` (numpy booleans accepted); a string such as ``"no"``
    is refused rather than taken for true."""
    if type(value).__module__ == "numpy" and type(value).__name__.startswith("bool"):
        value = bool(value)
    if not isinstance(value, bool):
        raise UsageError(f"{name} must be True or False, not {value!r}")
    return value


def as_path(name: str, value):
    """``value`` (a ``str`` or a path) as a ``Path``."""
    import os
    from pathlib import Path
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise UsageError(f"{name} must be a folder or file path (str or pathlib.Path), "
                         f"not {value!r}")
    return Path(value)


def check_callback(name: str, value, allow_true: bool = False) -> None:
    """A progress callback: ``None``, a callable (or ``True`` where a default exists)."""
    if value is None or callable(value) or (allow_true and value is True):
        return
    what = "None, True or a callable" if allow_true else "None or a callable"
    raise UsageError(f"{name} must be {what}, not {value!r}")


def message_callback(name: str, value):
    """A long call's ``progress``: ``None``, a callable taking one message, or ``True``
    for a tqdm line of the latest step and the time so far (a widget in a notebook)."""
    check_callback(name, value, allow_true=True)
    if value is not True:
        return value
    from tqdm.auto import tqdm
    bar = tqdm(total=None, bar_format="{desc} [{elapsed}]", dynamic_ncols=True)

    def say(msg):
        bar.set_description_str(f".. {msg}"[:100])
    return say


def params_key(params, length: int = 12) -> str:
    """A hash of a configuration's parameters, for folder names."""
    import hashlib
    import json
    text = json.dumps(params.to_dict(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def folder_tag(params) -> str:
    """A folder name for a configuration: its parameters when short and path-safe, else
    their hash (a weights file's path, many parameters)."""
    tag = "-".join(f"{k}{v}" for k, v in params.to_dict().items())
    if len(tag) > 120 or not re.fullmatch(r"[\w.-]*", tag):
        tag = params_key(params)
    return tag


def param_fields(params_cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(params_cls)}


def defaults(params_cls) -> dict:
    return {name: f.default for name, f in param_fields(params_cls).items()}


def describe(params_cls) -> list[dict]:
    """Each parameter: name, type, default, allowed values and meaning."""
    out = []
    for name, f in param_fields(params_cls).items():
        meta = f.metadata
        if meta.get("choices") is not None:
            allowed = ", ".join(str(c) for c in meta["choices"])
        elif meta.get("lo") is not None or meta.get("hi") is not None:
            lo = declared_bound(meta.get("lo"), params_cls)
            hi = declared_bound(meta.get("hi"), params_cls)
            allowed = f"{'' if lo is None else lo} – {'' if hi is None else hi}".strip()
        else:
            allowed = "any"
        out.append({"name": name, "type": type(f.default).__name__, "default": f.default,
                    "allowed": allowed, "help": meta.get("help", "")})
    return out


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
            raise UsageError(f"parameter must be one of {allowed}, not {key!r}"
                             f"{did_you_mean(key, fields)}")
        if key in out:
            raise UsageError(f"parameter {key} is given twice ({key}={out[key]!r} and "
                             f"{item.strip()!r}); give it once")
        out[key] = _convert(key, text.strip(), hints[key])
    return out


def build(params_cls, overrides: dict | None = None):
    """Instantiate ``params_cls`` with keyword overrides, turning TypeErrors into UsageErrors."""
    overrides = dict(overrides or {})
    fields = param_fields(params_cls)
    for key in overrides:
        if key not in fields:
            allowed = ", ".join(sorted(fields))
            raise UsageError(f"parameter must be one of {allowed}, not {key!r}"
                             f"{did_you_mean(key, fields)}")
    return params_cls(**overrides)
