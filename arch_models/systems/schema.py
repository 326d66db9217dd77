"""The schema of a system file, validated with pydantic; sources, calibrations and overrides.

A field is written plainly (``capacity: 4MiB``) or with its source, as every datum in
``cost_models/data`` is: ``capacity: {value: 4MiB, source: "...", confidence: W}``. A field
may also name a registered calibration: ``efficiency: {calibration: a100_efficiency}``.
Energy and area per level, when a file writes them instead of taking them from the cost
library, must carry a source. Errors name the field by its path, levels by their name:
``levels.gbuf.capacity: must be a size such as 512KiB, not '1MB/s'``.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr,
                      ValidationError, model_validator)
from pydantic_core import PydanticCustomError

from tokenfab.arch_models.systems import units
from tokenfab.errors import UsageError, option

HERE = Path(__file__).parent
OPERANDS = ("weights", "activations", "outputs", "kv_cache")
LEVEL_KINDS = ("register_file", "sram", "uram", "bram", "llc_slice")
TEMPLATES = ("accelerator", "gpu", "mixpe-paper", "fpga-soc", "chip-grid", "cpu")
SOURCE_KEYS = {"value", "source", "confidence", "low", "high"}
CONFIDENCE = ("S", "M", "W", "D", "R")
# fields that, when the file writes them, must say where the number comes from
MUST_SOURCE = ("read_energy", "write_energy", "area")


_SET = option("overrides", "--set")     # how an error names the option

def _unit(kind: str):
    def check(v):
        try:
            return units.parse(kind, v)
        except ValueError as exc:
            raise PydanticCustomError("unit", str(exc)) from None
    return BeforeValidator(check)


def _strict(kind: type):
    """Reject what pydantic would coerce (``'yes'`` to a bool, ``2.5`` to an int)."""
    def check(v):
        if kind is bool and not isinstance(v, bool):
            raise PydanticCustomError("type", f"must be true or false, not {v!r}")
        if kind is int and (isinstance(v, bool) or not isinstance(v, int)):
            raise PydanticCustomError("type", f"must be a whole number, not {v!r}")
        if kind is float and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise PydanticCustomError("type", f"must be a number, not {v!r}")
        return v
    return BeforeValidator(check)


Size = Annotated[float, _unit("size"), Field(gt=0)]
Bandwidth = Annotated[float, _unit("bandwidth"), Field(gt=0)]
CycleBandwidth = Annotated[float, _unit("cycle_bandwidth"), Field(gt=0)]
Frequency = Annotated[float, _unit("frequency"), Field(gt=0)]
Energy = Annotated[float, _unit("energy")]
Area = Annotated[float, _unit("area")]
Node = Annotated[float, _unit("node"), Field(gt=0)]
PosInt = Annotated[int, _strict(int), Field(ge=1)]
Fraction = Annotated[float, _strict(float), Field(gt=0, le=1)]
Flag = Annotated[bool, _strict(bool)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$", max_length=64)]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Engines(_Base):
    """The compute engines: ``design`` (optional: the file then runs only that design),
    ``count`` (None: the design's own rule, e.g. 16 x array_scale tile units) and the
    width of partial sums the units write back when a mapping splits K."""
    design: str | None = None
    count: PosInt | None = None
    partial_sum_bits: Annotated[int, _strict(int), Field(ge=8, le=64)] = 32


class VectorUnit(_Base):
    """``flops_per_cycle`` None: the template's rule (2 x the array's PEs on
    ``mixpe-paper``); the other templates need it."""
    flops_per_cycle: Annotated[float, _strict(float), Field(gt=0)] | None = None
    efficiency: Fraction = 1.0


class HostLink(_Base):
    name: str = "host link"
    bandwidth: Bandwidth


class Network(_Base):
    """The links between the chips of a multi-chip system (template ``chip-grid``): each
    chip's direct links to its row and column peers, each link's ``bandwidth`` one way,
    its ``latency``, and ``efficiency``, the fraction of the bandwidth that carries
    payload."""
    name: str = "chip links"
    topology: Literal["row-column"] = "row-column"
    bandwidth: Bandwidth
    latency: Annotated[float, _unit("time")] = 0.0
    links_per_chip: PosInt
    efficiency: Fraction = 1.0


class Memory(_Base):
    """Off-chip memory. ``technology`` is a key of ``offchip_memory`` in the cost
    library's ``tech.json`` (``lpddr5x``, ``hbm2``, ...). ``bandwidth`` is all
    ``channels`` together (``channels`` is descriptive); ``latency`` is paid once per
    operation, before its first fill (its later fills pipeline behind it);
    ``efficiency`` is the fraction of the bandwidth long streams sustain."""
    technology: Name
    description: str = ""
    capacity: Size
    bandwidth: Bandwidth
    bus_bits: Annotated[int, _strict(int), Field(ge=0)] = 0
    channels: PosInt = 1
    latency: Annotated[float, _unit("time")] = 0.0
    efficiency: Fraction = 1.0          # the fraction of ``bandwidth`` streams sustain


class Level(_Base):
    """One on-chip level. ``instances`` copies of ``capacity`` each (per SM, per slice);
    ``bandwidth`` bytes per cycle per port per instance (default ``width_bits / 8``);
    ``holds`` the operands it keeps; ``double_buffered`` halves the room a tile may take
    so the next tile loads while this one computes."""
    name: Name
    kind: Literal[LEVEL_KINDS]
    capacity: Size
    instances: PosInt = 1
    width_bits: PosInt = 64
    bandwidth: CycleBandwidth | None = None
    ports: PosInt = 1
    holds: list[Literal[OPERANDS]] = Field(min_length=1)
    double_buffered: Flag = True
    read_energy: Energy | None = None     # J per byte read (default: the cost library)
    write_energy: Energy | None = None
    area: Area | None = None              # m² of one instance (default: the cost library)

    @model_validator(mode="after")
    def _holds_once(self):
        if len(set(self.holds)) != len(self.holds):
            raise PydanticCustomError("dup", f"holds names an operand twice: {self.holds}")
        return self

    @property
    def bytes_per_cycle(self) -> float:
        """Bytes per cycle through all ports of all instances."""
        per_port = self.bandwidth if self.bandwidth is not None else self.width_bits / 8
        return per_port * self.ports * self.instances

    @property
    def total_bytes(self) -> float:
        return self.capacity * self.instances


class Kernels(_Base):
    """How software drives the machine: ``activations_in_dram`` (every activation
    round-trips DRAM between kernels, unfused), ``materialize_scores`` (attention writes
    and reads S and P in FP16), ``efficiency`` (the fraction of the unit formula's peak
    that kernels reach)."""
    activations_in_dram: Flag = False
    materialize_scores: Flag = False
    efficiency: Fraction = 1.0


class Mapper(_Base):
    """How each GEMM is mapped: ``objective`` latency (the slowest of compute and each
    level's transfers, then bytes moved), energy (bytes moved, a DRAM byte weighted 64
    on-chip bytes) or edp (the product of the two)."""
    objective: Literal["latency", "energy", "edp"] = "latency"


class Spec(_Base):
    name: Name
    description: str = ""
    template: Literal[TEMPLATES] = "accelerator"
    clock: Frequency
    node: Node
    engines: Engines = Engines()
    vector_unit: VectorUnit
    host_link: HostLink | None = None      # every template but chip-grid and cpu needs one
    memory: Memory
    network: Network | None = None         # chip-grid only
    levels: list[Level] = Field(default_factory=list)
    kernels: Kernels = Kernels()
    mapper: Mapper = Mapper()
    assumptions: list[str] = Field(default_factory=list)

    _raw: dict = PrivateAttr(default_factory=dict)
    _sources: dict = PrivateAttr(default_factory=dict)
    _origin: str = PrivateAttr(default="")
    _calibrations: tuple = PrivateAttr(default=())
    _overrides: tuple = PrivateAttr(default=())

    @model_validator(mode="after")
    def _template_fields(self):
        if self.template != "mixpe-paper" and self.vector_unit.flops_per_cycle is None:
            raise PydanticCustomError("template", f"vector_unit.flops_per_cycle: missing "
                                      f"(template {self.template} needs it)")
        if self.template in ("chip-grid", "cpu"):
            if self.template == "chip-grid" and self.network is None:
                raise PydanticCustomError("template", "network: a chip-grid system needs "
                                          "its chip links (bandwidth, links_per_chip)")
        else:
            if self.host_link is None:
                raise PydanticCustomError("template", f"host_link: missing (template "
                                          f"{self.template} needs one)")
            if self.network is not None:
                raise PydanticCustomError("template", "network: only chip-grid systems "
                                          "have chip links")
        return self

    @model_validator(mode="after")
    def _names_once(self):
        names = [lv.name for lv in self.levels]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise PydanticCustomError("dup", f"level names must be unique: {', '.join(dup)}")
        return self

    # -- what the models read ------------------------------------------------------------
    def level(self, name: str) -> Level:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(name)

    def holders(self, operand: str) -> list[Level]:
        """The levels that keep ``operand``, innermost first."""
        return [lv for lv in self.levels if operand in lv.holds]

    @property
    def activation_buffer_bytes(self) -> float:
        """Room of the outermost level that keeps activations (0: none does)."""
        held = self.holders("activations")
        return held[-1].total_bytes if held else 0.0

    @property
    def sources(self) -> dict:
        return dict(self._sources)

    @property
    def origin(self) -> str:
        return self._origin

    @property
    def calibrations(self) -> tuple:
        return self._calibrations

    @property
    def overrides(self) -> tuple:
        return self._overrides

    def to_dict(self) -> dict:
        """The file's own form (units as written, sources kept)."""
        return copy.deepcopy(self._raw)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def fields(self) -> list[tuple[str, object, str]]:
        """(path, value as written, source) of every field, for ``list --systems NAME``."""
        out = []

        def walk(node, path):
            if isinstance(node, dict) and not _is_leaf(node):
                for k, v in node.items():
                    walk(v, f"{path}.{k}" if path else k)
            elif isinstance(node, list) and node and all(isinstance(x, dict) for x in node):
                for x in node:
                    walk(x, f"{path}.{x.get('name', '?')}")
            else:
                value = node.get("value", node) if isinstance(node, dict) else node
                if isinstance(node, dict) and "calibration" in node:
                    value = f"calibration {node['calibration']}"
                out.append((path, value, self._sources.get(path, "")))
        walk(self._raw, "")
        return out


def _is_leaf(node: dict) -> bool:
    return ("value" in node and set(node) <= SOURCE_KEYS) or set(node) == {"calibration"}


# -- sources and calibrations --------------------------------------------------------------
def _strip(raw, path: str, sources: dict, cals: list, errors: list):
    """``raw`` with every sourced leaf replaced by its value; sources by path."""
    if isinstance(raw, dict):
        if "calibration" in raw:
            if set(raw) != {"calibration"}:
                errors.append(f"{path}: a calibration reference has only 'calibration', "
                              f"not {sorted(set(raw) - {'calibration'})}")
                return None
            cal = _calibration(raw["calibration"])
            if cal is None:
                errors.append(f"{path}: no registered calibration {raw['calibration']!r} "
                              "(tokenfab list --calibrations)")
                return None
            cals.append(cal)
            sources[path] = f"calibration {cal.name}: fitted to {cal.fitted_to}"
            return cal.value
        if "value" in raw and set(raw) <= SOURCE_KEYS:
            src = raw.get("source")
            if not isinstance(src, str) or not src.strip():
                errors.append(f"{path}: a value written with 'value' needs a 'source'")
                return None
            conf = raw.get("confidence")
            if conf is not None and conf not in CONFIDENCE:
                errors.append(f"{path}: confidence must be one of {', '.join(CONFIDENCE)}, "
                              f"not {conf!r}")
            sources[path] = src + (f" [{conf}]" if conf else "")
            return raw["value"]
        return {k: _strip(v, f"{path}.{k}" if path else str(k), sources, cals, errors)
                for k, v in raw.items()}
    if isinstance(raw, list):
        out = []
        for i, x in enumerate(raw):
            name = x.get("name") if isinstance(x, dict) else None
            sub = f"{path}.{name}" if isinstance(name, str) else f"{path}[{i}]"
            out.append(_strip(x, sub, sources, cals, errors))
        return out
    return raw


def _calibration(name):
    from tokenfab import calibration
    if not isinstance(name, str):
        return None
    if name not in calibration.REGISTRY:
        calibration.all_calibrations()
    return calibration.REGISTRY.get(name)


def _loc(raw: dict, loc: tuple) -> str:
    """A pydantic location as a path, list items by their ``name``."""
    parts, node = [], raw
    for key in loc:
        if isinstance(key, int) and isinstance(node, list):
            item = node[key] if key < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str):
                parts.append(name)
            elif parts:
                parts[-1] += f"[{key}]"
            else:
                parts.append(f"[{key}]")
            node = item
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts)


def _message(err: dict, model_fields) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return f"unknown field; allowed: {', '.join(model_fields)}"
    if kind == "missing":
        return "missing"
    if kind == "literal_error":
        return f"must be {err['ctx']['expected']}, not {err['input']!r}"
    if kind in ("greater_than", "greater_than_equal", "less_than_equal", "less_than"):
        return f"{msg.lower()}, not {err['input']!r}"
    if kind == "string_pattern_mismatch":
        return f"must be a name of letters, digits, '-' and '_', not {err['input']!r}"
    if kind.startswith("string_") or kind == "model_type" or kind == "dict_type":
        return f"{msg.lower()}, not {err['input']!r}"
    return msg


def _fields_at(loc: tuple):
    """The field names allowed where ``loc`` points (for unknown-field messages)."""
    model = Spec
    for key in loc[:-1]:
        if isinstance(key, int):
            continue
        f = model.model_fields.get(key)
        ann = getattr(f, "annotation", None)
        sub = getattr(ann, "__args__", (ann,))
        model = next((a for a in sub if isinstance(a, type) and issubclass(a, BaseModel)),
                     None)
        if model is None:
            return []
    return list(model.model_fields)


def from_dict(raw, origin: str = "a dict", overrides: tuple = ()) -> Spec:
    """Validate ``raw`` (a file's mapping) into a :class:`Spec`; every error at once."""
    what = f"system {origin}"
    if not isinstance(raw, dict):
        raise UsageError(f"{what}: must be a mapping of fields (name, clock, node, ...), "
                         f"not {type(raw).__name__}")
    raw = copy.deepcopy(raw)
    raw, sources = apply_overrides(raw, overrides, what)
    found: dict = {}
    cals: list = []
    errors: list = []
    plain = _strip(raw, "", found, cals, errors)
    sources.update({k: v for k, v in found.items() if k not in sources})
    if not errors:
        try:
            spec = Spec.model_validate(plain)
        except ValidationError as exc:
            for e in exc.errors():
                where, msg = _loc(plain, e["loc"]), _message(e, _fields_at(e["loc"]))
                errors.append(f"{where}: {msg}" if where else msg)
        else:
            for lv in spec.levels:
                for f in MUST_SOURCE:
                    path = f"levels.{lv.name}.{f}"
                    if getattr(lv, f, None) is not None and path not in sources:
                        errors.append(f"{path}: a value written in the file must carry its "
                                      "source: {value: ..., source: '...'}")
    if errors:
        raise UsageError(f"{what}: " + "; ".join(errors))
    spec._raw = raw
    spec._sources = sources
    spec._origin = origin
    spec._calibrations = tuple(dict.fromkeys(cals))
    spec._overrides = tuple(overrides)
    return spec


# -- overrides -----------------------------------------------------------------------------
def parse_overrides(items) -> tuple:
    """``["memory.bandwidth=819GB/s", ...]`` (or a dict of path -> value) as pairs; values
    read as YAML scalars (``true``, ``2``, ``[weights]``; ``1MiB`` stays text)."""
    if items is None:
        return ()
    if isinstance(items, dict):
        return tuple((str(k), v) for k, v in items.items())
    if isinstance(items, str):
        items = [items]
    out, seen = [], set()
    for item in items:
        if isinstance(item, tuple) and len(item) == 2:
            path, value = item
        elif isinstance(item, str) and "=" in item:
            path, text = item.split("=", 1)
            path = path.strip()
            try:
                value = yaml.safe_load(text) if text.strip() else ""
            except yaml.YAMLError:
                value = text
        else:
            raise UsageError(f"{_SET} takes PATH=VALUE such as memory.bandwidth=819GB/s, "
                             f"not {item!r}")
        if not re.fullmatch(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*", str(path)):
            raise UsageError(f"{_SET} path must be dotted field names such as "
                             f"levels.gbuf.capacity, not {path!r}")
        if path in seen:
            raise UsageError(f"{_SET} {path} is given twice")
        seen.add(path)
        out.append((path, value))
    return tuple(out)


def apply_overrides(raw: dict, overrides, what: str = "system") -> tuple[dict, dict]:
    """``raw`` with each (path, value) set; the overridden paths' sources say so."""
    sources = {}
    for path, value in overrides:
        node = raw
        keys = path.split(".")
        for i, key in enumerate(keys[:-1]):
            here = ".".join(keys[:i + 1])
            if isinstance(node, list):
                hit = [x for x in node if isinstance(x, dict) and x.get("name") == key]
                if not hit:
                    names = [x.get("name") for x in node if isinstance(x, dict)]
                    raise UsageError(f"{what}: {_SET} {path}: no level {key!r} "
                                     f"(levels: {', '.join(map(str, names)) or 'none'})")
                node = hit[0]
                continue
            if not isinstance(node, dict):
                raise UsageError(f"{what}: {_SET} {path}: {'.'.join(keys[:i])} is a value, "
                                 "not a section")
            if key not in node or node[key] is None:
                node[key] = {}
            elif isinstance(node[key], dict) and _is_leaf(node[key]):
                raise UsageError(f"{what}: {_SET} {path}: {here} is a value, not a section")
            node = node[key]
        if isinstance(node, list):
            raise UsageError(f"{what}: {_SET} {path}: name a level's field "
                             "(levels.NAME.FIELD)")
        # written with its provenance, so the spec's YAML keeps it
        node[keys[-1]] = {"value": value, "source": f"--set {path}={value}"}
        sources[path] = f"--set {path}={value}"
    return raw, sources


# -- files -----------------------------------------------------------------------------------
def preset_names() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def read_file(path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"system file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"system file {str(path)!r} is a folder, not a YAML file") from None
    except UnicodeDecodeError:
        raise UsageError(f"system file {str(path)!r} is not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"system file {str(path)!r} cannot be read: "
                         f"{exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "malformed"
        raise UsageError(f"system file {str(path)!r} is not valid YAML{where}: "
                         f"{problem}") from None
    return raw


def load(system=None, overrides=(), *, default: str = "asic", offer=()) -> Spec:
    """A validated spec from a preset name, a path of a YAML file, a dict or a
    :class:`Spec` (``None``: ``default``), with ``overrides`` (``--set`` pairs) applied.
    An unknown name is refused listing ``offer`` (a design's own presets) or every
    preset."""
    from tokenfab.params import did_you_mean
    overrides = parse_overrides(overrides)
    if system is None:
        system = default
    if isinstance(system, Spec):
        return from_dict(system.to_dict(), system.origin, system.overrides + overrides)
    if isinstance(system, dict):
        return from_dict(system, "(a dict)", overrides)
    if isinstance(system, Path) or (isinstance(system, str) and (
            system.endswith((".yaml", ".yml")) or "/" in system)):
        return from_dict(read_file(system), repr(str(system)), overrides)
    if isinstance(system, str) and system in preset_names():
        return from_dict(read_file(HERE / f"{system}.yaml"), system, overrides)
    names = list(offer) or preset_names()
    raise UsageError(f"system must be one of {', '.join(names)} or the path of a YAML "
                     f"file, not {system!r}{did_you_mean(system, names)}")
