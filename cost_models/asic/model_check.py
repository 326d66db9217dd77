"""The component model beside the synthesised circuits (``tokenfab asic``).

Every unit's cost hook counts its gates (``Components``: full adders, flip-flops, 2:1
multiplexers, XOR2 and NAND2). The model prices them with ZigZag's 28 nm gate figures,
scaled to a node: a step's dynamic energy is every flip-flop's clock pin each cycle plus
the counted gates' switching at one calibrated activity for each busy step. Against a
unit synthesised onto a real library and simulated at gate level that is three claims,
checked apart:

- the counts: the gates priced with the library's own cells of those functions (its
  smallest NAND2, XOR2, 2:1 mux, full adder and D flip-flop, found by their Liberty
  functions, not by name) against the synthesised area and energy: each gate's output
  transition priced from the library's internal-power tables and 1/2 C V^2 at a
  fanout-of-two load, every flip-flop's clock pin from its tables;
- the node: the 28 nm figures against those cells (``node_factors``: the 130 nm row
  of ``tech.json`` is sky130's);
- the activity: one figure for every unit (``fit_activity`` on the switching of one
  point per design; the other points test it). A run's busy steps are its operations over the unit's peak per
  step, so a systolic array's fill and drain pay the clock only.
"""
from __future__ import annotations

import fnmatch
import itertools
import math
from collections import Counter

from tokenfab.cost_models import tech
from tokenfab.cost_models.asic.gatesim import _pins_of, truth_table
from tokenfab.cost_models.asic.sta import interpolate
from tokenfab.cost_models.components import ACTIVITY, GATES, Components



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
        if kind in ("dff", "dffe"):
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


def node_factors(gates: dict) -> dict:
    """The library's cells over ZigZag's 28 nm gates: the geometric mean over the five
    gate kinds of the area ratio and of the energy-per-transition ratio."""
    out = {}
    for kind, lib_key in (("area", "area_m2"), ("energy", "toggle_j")):
        logs = [math.log(gates[g][lib_key] / tech.value("gates_28nm", f"{g}_{kind}"))
                for g in GATES]
        out[kind] = math.exp(sum(logs) / len(logs))
    return out


def on_library(comps, gates: dict, activity: float) -> dict:
    """A unit's component counts priced with the library's cells: area (m2), the
    gates' switching in one busy step at ``activity`` and the flip-flops' clock in one
    cycle (J)."""
    area = sum(n * gates[g]["area_m2"] for g, n in comps.gates().items())
    data = activity * sum(n * gates[g]["toggle_j"] for g, n in comps.switched().items())
    clock = comps.gates()["dff"] * gates["dff"]["clock_j"]
    return {"area_m2": area, "data_j": data, "clock_j": clock}


def components(design):
    """The unit's component counts from its cost hook (``unit_components``; SAIL's block
    logic: ``block_components``)."""
    mod = design.entry.cost
    hook = getattr(mod, "unit_components", None) or getattr(mod, "block_components")
    return hook(design.params)


def busy_steps(design, synth: dict) -> float:
    """The run's operations in units of the unit's peak per step: MACs over
    ``macs_per_tile / cycles_per_tile`` (SAIL's block: one lookup a step)."""
    p = design.params
    if "MAC" in synth["ops"]:
        return synth["ops"]["MAC"] * p.cycles_per_tile / p.macs_per_tile
    return synth["ops"]["lookup"]


def flop_memories(design, gates: dict | None = None) -> dict:
    """The unit's memories as this flow builds them without SRAM macros (the cost model
    prices them as SRAM): every bit a load-enable flip-flop whose clock pin switches
    every cycle, every read port a multiplexer tree over the words. Priced with the
    library's cells (``gates``) or, without, with the model's gates at 130 nm (a
    load-enable flip-flop as a flip-flop and a 2:1 mux)."""
    hook = getattr(design.entry.cost, "memories", None)
    mems = list(hook(design.params).values()) if hook else []
    bits = sum(d * w for d, w in mems)
    muxes = sum((d - 1) * w for d, w in mems)
    if gates is not None:
        return {"area_m2": bits * gates["dffe"]["area_m2"] + muxes * gates["mux2"]["area_m2"],
                "clock_j": bits * gates["dffe"]["clock_j"]}
    model = Components(Counter(dff=bits, mux2=bits + muxes), Counter(), 1)
    return {"area_m2": model.area_m2(130), "clock_j": model.clock_j(130)}


def run_energy(design, synth: dict, gates: dict | None = None,
               activity: float | None = None) -> dict:
    """The energy (J) of the asic run ``synth`` by the component model: every cycle's
    clock (the unit's flip-flops and its flop-built memories) and the gates' switching in
    the run's busy steps. With ``gates`` the counts are priced on the library's cells,
    without by the model at 130 nm; ``activity`` defaults to the calibrated one."""
    comps = components(design)
    act = ACTIVITY if activity is None else activity
    busy = busy_steps(design, synth)
    mem = flop_memories(design, gates)
    if gates is not None:
        lib = on_library(comps, gates, act)
        clock, data, area = lib["clock_j"], lib["data_j"], lib["area_m2"]
    else:
        clock, data, area = comps.clock_j(130), comps.data_j(130, act), comps.area_m2(130)
    cycles = synth["cycles"]
    return {"area_m2": area + mem["area_m2"],
            "clock_j": cycles * (clock + mem["clock_j"]), "data_j": busy * data,
            "total_j": cycles * (clock + mem["clock_j"]) + busy * data}


def synth_energy_j(synth: dict) -> float:
    """The synthesised unit's dynamic energy over its asic run."""
    return synth["dynamic_w"] * synth["clock_ns"] * 1e-9 * synth["cycles"]


def fit_activity(points: list) -> float:
    """The one activity at which the model's switching at 130 nm gives the synthesised
    runs' switching (their dynamic energy less their clock pins'), least squares in log
    over ``points`` (pairs of a design and its asic result as a dict): the geometric mean
    of the ratios. The activity drives the switching only, so the clock (a sourced
    flip-flop figure) stays out of the fit. Units with flop-built memories (SAIL's block)
    are left out: their switching is in the memories, which the model prices as SRAM."""
    logs = []
    for design, synth in points:
        if flop_memories(design)["area_m2"] > 0:
            continue
        clock = synth["clock_pins_w"] * synth["clock_ns"] * 1e-9 * synth["cycles"]
        model = run_energy(design, synth, activity=1.0)["data_j"]
        logs.append(math.log((synth_energy_j(synth) - clock) / model))
    if not logs:
        raise ValueError("fit_activity needs a unit without flop-built memories")
    return math.exp(sum(logs) / len(logs))


def compare(design, synth: dict, gates: dict, activity: float | None = None) -> dict:
    """One unit: its synthesised area and dynamic energy per operation (``synth``: a
    ``tokenfab asic`` result as a dict) beside its counts on the library's cells and
    beside the component model at 130 nm, both with the unit's memories as the flow
    builds them."""
    ops = synth["ops"][synth["op"]]
    lib = run_energy(design, synth, gates, activity)
    model = run_energy(design, synth, None, activity)
    want = synth_energy_j(synth)
    return {
        "design": design.name, "params": synth.get("given", {}), "op": synth["op"],
        "synth_area_mm2": synth["area_um2"] / 1e6,
        "cells_area_mm2": lib["area_m2"] * 1e6,
        "model_area_mm2": model["area_m2"] * 1e6,
        "synth_pj_per_op": want / ops * 1e12,
        "cells_pj_per_op": lib["total_j"] / ops * 1e12,
        "model_pj_per_op": model["total_j"] / ops * 1e12,
        "model_clock_share": model["clock_j"] / model["total_j"],
        "area_ratio": lib["area_m2"] * 1e12 / synth["area_um2"],
        "energy_ratio": lib["total_j"] / want,
        "model_area_ratio": model["area_m2"] * 1e12 / synth["area_um2"],
        "model_energy_ratio": model["total_j"] / want}
