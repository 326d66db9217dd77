"""A standard-cell library as the silicon flow reads it: a digest of a Liberty file.

The file is parsed once with ``liberty-parser`` (T. Kramer) and digested into what the flow
needs, in SI units: per cell its area (m²), leakage (W), input pin capacitances (F), output
functions, and per timing arc its sense and its delay and output-transition tables (NLDM:
input slew in s x output load in F); its pins' internal energy per transition (J; an
output's per related input, in input slew x output load); whether it is a flip-flop, its
``ff`` group (state, next state, clear, preset), its clock pin and its setup constraint
tables (related and constrained pin transitions, the template's order); and the library's
default wire-load model (a net's capacitance before layout, from its fanout). The
digest is cached by the file's SHA-256 (parsing sky130_fd_sc_hd's 12.8 MB takes ~5 s).

Everything a bad file can be is refused here in one line: missing, unreadable, a corrupt
gzip, not Liberty, no cells, no flip-flop.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import re
from pathlib import Path

from tokenfab.errors import UsageError

DIGEST_VERSION = 4
UNITS = {"ps": 1e-12, "ns": 1e-9, "us": 1e-6, "fs": 1e-15, "ff": 1e-15, "pf": 1e-12,
         "nf": 1e-9, "nw": 1e-9, "uw": 1e-6, "mw": 1e-3, "pw": 1e-12, "w": 1.0, "s": 1.0,
         "f": 1.0, "v": 1.0, "mv": 1e-3}


@dataclasses.dataclass(frozen=True)
class Library:
    name: str
    path: str
    sha256: str
    process: float
    voltage: float
    temperature: float
    cells: dict            # name -> digest (see ``_cell``)
    # the default wire-load model: F per unit length, [[fanout, length], ...], slope
    wire_load: dict | None = None

    def wire_cap(self, fanout: int) -> float:
        """A net's wire capacitance before layout, from the library's default wire-load
        model: the length its fanout gives (past the table, extended by the slope) times
        the capacitance per unit length; 0 without a model."""
        w = self.wire_load
        if not w or fanout <= 0:
            return 0.0
        table = dict(w["fanout_length"])
        if fanout in table:
            length = table[fanout]
        else:
            top = max(table)
            length = table[top] + (fanout - top) * w["slope"] if fanout > top else \
                table[min(table)] * fanout / min(table)
        return length * w["capacitance"]

    @property
    def corner(self) -> str:
        return (f"{self.name}: process {self.process:g}, {self.voltage:g} V, "
                f"{self.temperature:g} °C")

    def flip_flops(self) -> list[str]:
        return [n for n, c in self.cells.items() if c["ff"]]


def _unit(text, what: str) -> float:
    """``"1ns"``, ``[1.0, "pf"]`` -> seconds, farads, watts."""
    if isinstance(text, list):
        scale, unit = float(text[0]), str(text[1]).strip('"')
    else:
        m = re.fullmatch(r"\s*([0-9.]*)\s*([A-Za-z]+)\s*", str(text).strip('"'))
        if not m:
            raise UsageError(f"Liberty {what} unit {text!r} is not understood")
        scale, unit = float(m.group(1) or 1), m.group(2)
    factor = UNITS.get(unit.lower())
    if factor is None:
        raise UsageError(f"Liberty {what} unit {text!r} is not understood")
    return scale * factor


def _table(group, t_unit: float, c_unit: float, templates: dict | None = None,
           v_unit: float | None = None) -> dict | None:
    """A lookup table in SI units: ``slew`` (index_1) x ``load`` (index_2) for delay
    tables; ``vars`` names the template's variables in index order (a library may put
    the load first, and constraint tables index transitions of two pins). The values
    are times (``t_unit``) unless ``v_unit`` is given (energies of power tables)."""
    if group is None:
        return None
    template = str(group.args[0]).strip('"') if group.args else ""
    variables = (templates or {}).get(template, ["input_net_transition",
                                                  "total_output_net_capacitance"])
    unit1 = c_unit if "capacitance" in variables[0] else t_unit
    unit2 = c_unit if len(variables) > 1 and "capacitance" in variables[1] else t_unit
    values = group.get_array("values")
    try:
        i1 = [float(x) * unit1 for x in group.get_array("index_1").ravel()]
    except Exception:                  # a scalar table (one value)
        i1 = [0.0]
    try:
        i2 = [float(x) * unit2 for x in group.get_array("index_2").ravel()]
    except Exception:
        i2 = [0.0]
    return {"slew": i1, "load": i2, "vars": list(variables),
            "values": (values.reshape(len(i1), len(i2)) * (v_unit or t_unit)).tolist()}


def _power(pin, t_unit, c_unit, e_unit, templates) -> list:
    """A pin's ``internal_power`` groups: energy per transition (J) for a rising and a
    falling edge, with the related pin (for an output) and the ``when`` condition."""
    out = []
    for g in pin.get_groups("internal_power"):
        out.append({"from": str(g.get("related_pin", "")).strip('"') or None,
                    "when": str(g.get("when", "")).strip('"') or None,
                    **{key: _table(g.get_group(key), t_unit, c_unit, templates, e_unit)
                       if g.get_groups(key) else None
                       for key in ("rise_power", "fall_power")}})
    return out


def _ff(cell) -> dict | None:
    """The ``ff`` group: its state variables, next state, clear and preset functions."""
    groups = cell.get_groups("ff")
    if not groups:
        return None
    g = groups[0]

    def attr(key):
        v = g.get(key)
        return str(v).strip('"') if v is not None else None
    return {"state": [str(a).strip('"') for a in g.args], "next_state": attr("next_state"),
            "clocked_on": attr("clocked_on"), "clear": attr("clear"),
            "preset": attr("preset")}


def _cell(cell, t_unit, c_unit, p_unit, a_unit, e_unit, templates) -> dict:
    pins, outputs, ff = {}, {}, bool(cell.get_groups("ff"))
    clock, setup, input_power = None, {}, {}
    for pin in cell.get_groups("pin"):
        name = str(pin.args[0]).strip('"')
        direction = str(pin.get("direction", "")).strip('"')
        if direction == "input":
            # the load a pin presents: the larger of its rise and fall capacitance
            pins[name] = max(float(pin.get(k, 0.0)) for k in
                             ("capacitance", "rise_capacitance", "fall_capacitance")) * c_unit
            input_power[name] = _power(pin, t_unit, c_unit, e_unit, templates)
            if str(pin.get("clock", "")).strip('"') == "true":
                clock = name
            for t in pin.get_groups("timing"):
                kind = str(t.get("timing_type", "")).strip('"')
                if kind.startswith("setup"):
                    setup[name] = {key: _table(t.get_group(key), t_unit, c_unit, templates)
                                   if t.get_groups(key) else None
                                   for key in ("rise_constraint", "fall_constraint")}
        elif direction == "output":
            arcs = []
            for t in pin.get_groups("timing"):
                kind = str(t.get("timing_type", "combinational")).strip('"')
                if kind not in ("combinational", "rising_edge", "falling_edge"):
                    continue
                arc = {"from": str(t.get("related_pin", "")).strip('"'), "type": kind,
                       "sense": str(t.get("timing_sense", "non_unate")).strip('"')}
                for key in ("cell_rise", "cell_fall", "rise_transition", "fall_transition"):
                    arc[key] = _table(t.get_group(key), t_unit, c_unit, templates) \
                        if t.get_groups(key) else None
                arcs.append(arc)
            fn = pin.get("function")
            outputs[name] = {"function": str(fn).strip('"') if fn is not None else None,
                             "arcs": arcs, "three_state": pin.get("three_state") is not None,
                             "power": _power(pin, t_unit, c_unit, e_unit, templates)}
    if ff and clock is None:
        ff_group = cell.get_groups("ff")[0]
        clock = str(ff_group.get("clocked_on", "")).strip('"').lstrip("!") or None
    return {"area": float(cell.get("area", 0.0)) * a_unit,
            "leakage": float(cell.get("cell_leakage_power", 0.0)) * p_unit,
            "inputs": pins, "outputs": outputs, "ff": ff, "clock": clock, "setup": setup,
            "input_power": input_power, "ff_group": _ff(cell),
            "latch": bool(cell.get_groups("latch"))}


def _read_text(path: Path) -> bytes:
    if not path.exists():
        raise UsageError(f"liberty {str(path)!r} does not exist")
    if not path.is_file():
        raise UsageError(f"liberty {str(path)!r} is not a file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"liberty {str(path)!r} cannot be read: {exc.strerror}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise UsageError(f"liberty {str(path)!r} is a corrupt gzip file: {exc}") from None
    return raw


def load(path, cache_dir=None) -> Library:
    """The digest of the Liberty file at ``path`` (plain or ``.gz``)."""
    path = Path(path).expanduser()
    raw = _read_text(path)
    sha = hashlib.sha256(raw).hexdigest()
    cache_dir = Path(cache_dir or Path.home() / ".cache" / "tokenfab" / "liberty")
    cached = cache_dir / f"{sha[:32]}-v{DIGEST_VERSION}.json"
    if cached.exists():
        try:
            d = json.loads(cached.read_text())
            return Library(**{**d, "path": str(path)})
        except (OSError, ValueError, TypeError):
            pass
    text = raw.decode("utf-8", "replace")
    if not re.match(r"\s*(/\*.*?\*/\s*)*library\s*\(", text, re.S):
        raise UsageError(f"liberty {str(path)!r} is not a Liberty library (it must start "
                         "with 'library (name) {')")
    from liberty.parser import parse_liberty
    try:
        lib = parse_liberty(text)
    except Exception as exc:                 # the parser raises lark's errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"liberty {str(path)!r} cannot be parsed: {first}") from None
    t_unit = _unit(lib.get("time_unit", "1ns"), "time")
    c_unit = _unit(lib.get("capacitive_load_unit", [1.0, "pf"]), "capacitance")
    p_unit = _unit(lib.get("leakage_power_unit", "1nW"), "leakage power")
    a_unit = 1e-12                              # Liberty areas are in µm² by convention
    v_unit = _unit(lib.get("voltage_unit", "1V"), "voltage")
    e_unit = c_unit * v_unit ** 2               # internal power tables: energy, C x V²
    templates = {str(g.args[0]).strip('"'): [str(g.get(f"variable_{i}", "")).strip('"')
                                             for i in (1, 2) if g.get(f"variable_{i}")]
                 for kind in ("lu_table_template", "power_lut_template")
                 for g in lib.get_groups(kind)}
    cells = {str(c.args[0]).strip('"'): _cell(c, t_unit, c_unit, p_unit, a_unit, e_unit,
                                               templates)
             for c in lib.get_groups("cell")}
    if not cells:
        raise UsageError(f"liberty {str(path)!r} has no cells")
    wire_load = None
    default = str(lib.get("default_wire_load", "")).strip('"')
    for g in lib.get_groups("wire_load"):
        if default and str(g.args[0]).strip('"') == default:
            wire_load = {"capacitance": float(g.get("capacitance", 0.0)) * c_unit,
                         "slope": float(g.get("slope", 0.0)),
                         "fanout_length": [[int(float(a.value[0])), float(a.value[1])]
                                           for a in g.attributes
                                           if a.name == "fanout_length"]}
    out = Library(name=str(lib.args[0]).strip('"'), path=str(path), sha256=sha,
                  process=float(lib.get("nom_process", 1.0)),
                  voltage=float(lib.get("nom_voltage", 0.0)) * v_unit,
                  temperature=float(lib.get("nom_temperature", 25.0)), cells=cells,
                  wire_load=wire_load)
    if not out.flip_flops():
        raise UsageError(f"liberty {str(path)!r} has no flip-flop cells; the designs are "
                         "clocked and need one")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        from tokenfab.results import write_atomic
        write_atomic(cached, lambda tmp: Path(tmp).write_text(
            json.dumps({k: v for k, v in dataclasses.asdict(out).items() if k != "path"})))
    except OSError:
        pass                                    # a read-only cache: parse again next time
    return out


def plain_copy(path, dest: Path) -> Path:
    """The Liberty as plain text at ``dest`` (Yosys reads no ``.gz``)."""
    dest.write_bytes(_read_text(Path(path).expanduser()))
    return dest
