"""The component model beside the synthesised circuits (``tokenfab asic``).

Every unit's cost hook counts its gates (``Components``: full adders, flip-flops, 2:1
multiplexers, XOR2 and NAND2). The model prices them with ZigZag's 28 nm gate figures,
scaled to a node by Stillmaker-Baas, at an assumed switching activity. Against a unit
synthesised onto a real library that is two claims, checked apart:

- the counts: the gates priced with the library's own cells of those functions (its
  smallest NAND2, XOR2, 2:1 mux, full adder and D flip-flop, found by their Liberty
  functions, not by name) against the synthesised area, and, for energy, each gate's
  output transition priced from the library's internal-power tables and ½CV² at a
  fanout-of-two load, at the model's activity, plus every flip-flop's clock pin each
  cycle;
- the node: the 28 nm figures scaled to the library's node against those cells.
"""
from __future__ import annotations

import fnmatch
import itertools

from tokenfab.cost_models.asic.gatesim import _pins_of, truth_table
from tokenfab.cost_models.components import GATES
from tokenfab.cost_models.asic.sta import interpolate



def _tables(cell) -> tuple[list[str], list[tuple]]:
    pins = sorted(cell["inputs"])
    outs = []
    for o in cell["outputs"].values():
        if not o["function"] or set(_pins_of(o["function"])) - set(pins):
            return pins, []
        outs.append(tuple(truth_table(o["function"], pins).tolist()))
    return pins, outs


def _kind(name, cell) -> str | None:
    """Which of ``GATES`` a library cell implements, from its functions alone."""
    if fnmatch.fnmatch(name, "*lpflow*"):
        return None
    if cell["ff"]:
        g = cell["ff_group"] or {}
        data = sorted(p for p in cell["inputs"] if p != cell["clock"])
        if g.get("clear") or g.get("preset") or (g.get("clocked_on") or "").startswith("!"):
            return None
        if len(data) == 1 and g.get("next_state") == data[0]:
            return "dff"
        if len(data) == 2 and g.get("next_state"):           # a load-enable flip-flop
            names = data + [g["state"][0]]
            table = tuple(truth_table(g["next_state"], names).tolist())
            for s in range(2):
                want = tuple(((i >> (1 - s)) & 1) if (i >> s) & 1 else (i >> 2) & 1
                             for i in range(8))
                if table == want:
                    return "dffe"
        return None
    pins, outs = _tables(cell)
    n = len(pins)
    if n == 2 and outs == [(1, 1, 1, 0)]:
        return "nand2"
    if n == 2 and outs == [(0, 1, 1, 0)]:
        return "xor2"
    if n == 3 and len(outs) == 1:
        for s, a, b in itertools.permutations(range(3)):
            want = tuple(((i >> b) & 1) if (i >> s) & 1 else ((i >> a) & 1) for i in range(8))
            if outs[0] == want:
                return "mux2"
    parity = tuple(bin(i).count("1") & 1 for i in range(8))
    if n == 3 and outs in ([parity], [tuple(1 - v for v in parity)]):
        return "xor3"
    if n == 3 and outs == [tuple(int(bin(i).count("1") >= 2) for i in range(8))]:
        return "maj3"
    return None


def library_gates(lib) -> dict:
    """Per gate kind: the library's smallest such cell, its area (m²), the energy of one
    output transition (J) at a fanout-of-two load, and for a flip-flop the clock pin's
    energy per cycle (J). A full adder is priced as a mapper builds it from gates (ABC
    never picks a compound adder cell from Yosys's gate netlist): the smaller of a
    three-input XOR cell and two two-input XORs for the sum, a majority cell for the
    carry."""
    found = {}
    for name, cell in lib.cells.items():
        kind = _kind(name, cell)
        if kind and (kind not in found or cell["area"] < lib.cells[found[kind]]["area"]):
            found[kind] = name
    missing = [g for g in GATES + ("xor3", "maj3", "dffe") if g != "fa" and g not in found]
    if missing:
        from tokenfab.errors import UsageError
        raise UsageError(f"liberty {lib.name} has no cell for {', '.join(missing)}")
    nand = lib.cells[found["nand2"]]
    load = 2 * max(nand["inputs"].values()) + lib.wire_cap(2)
    arc = nand["outputs"][next(iter(nand["outputs"]))]["arcs"][0]
    slew = max(interpolate(arc["rise_transition"], 0.0, load),
               interpolate(arc["fall_transition"], 0.0, load))
    out = {}
    for kind, name in found.items():
        cell = lib.cells[name]
        toggle = 0.0
        for o in cell["outputs"].values():
            groups = [g for g in o["power"] if g["rise_power"] or g["fall_power"]]
            if groups:
                toggle += sum((interpolate(g["rise_power"], slew, load)
                               + interpolate(g["fall_power"], slew, load)) / 2
                              for g in groups) / len(groups)
            toggle += 0.5 * load * lib.voltage ** 2
        clock = 0.0
        if kind == "dff":
            groups = cell["input_power"].get(cell["clock"], [])
            clock = 2 * sum((interpolate(g["rise_power"], slew, 0.0)
                             + interpolate(g["fall_power"], slew, 0.0)) / 2
                            for g in groups) / max(len(groups), 1)
        out[kind] = {"cell": name, "area_m2": cell["area"], "toggle_j": toggle,
                     "clock_j": clock}
    two = {k: 2 * out["xor2"][k] for k in ("area_m2", "toggle_j")}
    one = out.pop("xor3")
    total = one if one["area_m2"] <= two["area_m2"] else \
        {"cell": f"2 x {out['xor2']['cell']}", **two}
    carry = out.pop("maj3")
    out["fa"] = {"cell": f"{total['cell']} + {carry['cell']}",
                 "area_m2": total["area_m2"] + carry["area_m2"],
                 "toggle_j": total["toggle_j"] + carry["toggle_j"], "clock_j": 0.0}
    return out


def on_library(comps, gates: dict, activity: float) -> dict:
    """A unit's component counts priced with the library's cells: area (m²) and the
    dynamic energy of one step (J) at ``activity``, the flip-flops' clock apart."""
    area = sum(n * gates[g]["area_m2"] for g, n in comps.gates().items())
    data = activity * sum(n * gates[g]["toggle_j"] for g, n in comps.switched().items())
    clock = comps.gates()["dff"] * gates["dff"]["clock_j"]
    return {"area_m2": area, "data_j": data, "clock_j": clock, "step_j": data + clock}


def components(design):
    """The unit's component counts from its cost hook (``unit_components``; SAIL's block
    logic: ``block_components``)."""
    mod = design.entry.cost
    hook = getattr(mod, "unit_components", None) or getattr(mod, "block_components")
    return hook(design.params)


def effective_activity(design, synth: dict, gates: dict) -> float:
    """The activity at which the unit's counted gates, priced on the library's cells with
    the flip-flops' clock apart, switch the synthesised circuit's dynamic energy per
    cycle: what one activity figure would have to be for this unit."""
    lib1 = on_library(components(design), gates, 1.0)
    synth_step = synth["dynamic_w"] * synth["clock_ns"] * 1e-9
    return (synth_step - lib1["clock_j"]) / lib1["data_j"]


def flop_memories_m2(design, gates: dict) -> float:
    """The unit's memories as this flow builds them without SRAM macros (the cost model
    prices them as SRAM): every bit a load-enable flip-flop, every read port a
    multiplexer tree over the words."""
    hook = getattr(design.entry.cost, "memories", None)
    if hook is None:
        return 0.0
    area = 0.0
    for depth, width in hook(design.params).values():
        area += depth * width * gates["dffe"]["area_m2"]
        area += (depth - 1) * width * gates["mux2"]["area_m2"]
    return area


def compare(design, synth: dict, gates: dict, activity: float, node: int = 130) -> dict:
    """One unit: its synthesised area and dynamic energy per cycle (``synth``: a
    ``tokenfab asic`` result as a dict) beside its counts on the library's cells (with
    its memories as the flow builds them) and beside the component model as ``cost``
    evaluates it at ``node``."""
    comps = components(design)
    lib_basis = on_library(comps, gates, activity)
    lib_basis["area_m2"] += flop_memories_m2(design, gates)
    period = synth["clock_ns"] * 1e-9
    synth_step = synth["dynamic_w"] * period
    return {
        "design": design.name, "params": synth.get("given", {}),
        "synth_area_mm2": synth["area_um2"] / 1e6,
        "cells_area_mm2": lib_basis["area_m2"] * 1e6,
        "model_area_mm2": comps.area_m2(node) * 1e6,
        "synth_pj_per_cycle": synth_step * 1e12,
        "cells_pj_per_cycle": lib_basis["step_j"] * 1e12,
        "cells_clock_pj_per_cycle": lib_basis["clock_j"] * 1e12,
        "model_pj_per_cycle": comps.energy_per_step_j(node) * 1e12,
        "area_ratio": lib_basis["area_m2"] * 1e12 / synth["area_um2"],
        "energy_ratio": lib_basis["step_j"] / synth_step,
        "model_area_ratio": comps.area_m2(node) * 1e12 / synth["area_um2"],
        "model_energy_ratio": comps.energy_per_step_j(node) / synth_step}
