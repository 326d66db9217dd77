"""Static timing of a mapped netlist on its Liberty digest (NLDM, no wires).

Yosys's flattened JSON netlist of library cells is walked in topological order. Every
net's load is the input capacitance of the pins it drives (wires are not modelled:
pre-layout, as ABC's ``stime`` and the issue's cross-check with OpenSTA without parasitics).
A path starts at a primary input (arrival 0, the library's smallest characterised slew)
or at a flip-flop's clock-to-output arc; an arc's delay and output slew interpolate its
``cell_rise`` / ``cell_fall`` and transition tables bilinearly in (input slew, output
load) and take the larger of rise and fall (no unateness: an upper bound by a little).
A path ends at a flip-flop's data pin (plus its setup time) or at a primary output.
"""
from __future__ import annotations

import bisect
from collections import defaultdict

from tokenfab.errors import UsageError


def interpolate(table: dict | None, slew: float, load: float) -> float:
    """Bilinear lookup of ``table`` (Liberty NLDM) at (``slew``, ``load``), clamped-linear
    beyond its edges (extrapolated from the last two points, never below 0)."""
    if table is None:
        return 0.0
    xs, ys, v = table["slew"], table["load"], table["values"]

    def bracket(axis, x):
        if len(axis) == 1:
            return 0, 0, 0.0
        i = min(max(bisect.bisect_right(axis, x) - 1, 0), len(axis) - 2)
        return i, i + 1, (x - axis[i]) / (axis[i + 1] - axis[i])

    i0, i1, fx = bracket(xs, slew)
    j0, j1, fy = bracket(ys, load)
    top = v[i0][j0] + (v[i0][j1] - v[i0][j0]) * fy
    bot = v[i1][j0] + (v[i1][j1] - v[i1][j0]) * fy
    return max(0.0, top + (bot - top) * fx)


def arc_delay(arc: dict, slew: float, load: float) -> tuple[float, float]:
    """(delay, output slew) of one timing arc, the larger of rise and fall."""
    d = max(interpolate(arc["cell_rise"], slew, load), interpolate(arc["cell_fall"], slew, load))
    s = max(interpolate(arc["rise_transition"], slew, load),
            interpolate(arc["fall_transition"], slew, load))
    return d, s


def critical_path(netlist: dict, top: str, lib) -> dict:
    """The slowest register-to-register (or port) path of ``top`` in Yosys's JSON
    ``netlist``: {"delay_s", "start", "end", "cells" (on the path), "setup_s"}."""
    mod = netlist["modules"].get(top)
    if mod is None:
        raise UsageError(f"no module {top!r} in the mapped netlist")
    names = {}
    for name, net in mod.get("netnames", {}).items():
        for b in net["bits"]:
            if isinstance(b, int) and (b not in names or not name.startswith("$")):
                names[b] = name
    driver, sinks = {}, defaultdict(list)   # net -> (cell, pin); net -> [(cell, pin)]
    cells = {}
    for inst, c in mod["cells"].items():
        digest = lib.cells.get(c["type"])
        if digest is None:
            raise UsageError(f"cell {c['type']} of the mapped netlist is not in the library")
        cells[inst] = digest
        for pin, bits in c["connections"].items():
            for b in bits:
                if not isinstance(b, int):
                    continue
                if pin in digest["outputs"]:
                    driver[b] = (inst, pin)
                elif pin in digest["inputs"]:
                    sinks[b].append((inst, pin))
    load = defaultdict(float)
    for b, ss in sinks.items():
        load[b] = sum(cells[i]["inputs"][p] for i, p in ss)
    min_slew = min((a["cell_rise"]["slew"][0] for c in lib.cells.values()
                    for o in c["outputs"].values() for a in o["arcs"] if a["cell_rise"]),
                   default=0.0)
    arrival, slew, came = {}, {}, {}
    for pname, port in mod["ports"].items():          # primary inputs
        if port["direction"] == "input":
            for b in port["bits"]:
                if isinstance(b, int):
                    arrival[b], slew[b], came[b] = 0.0, min_slew, (f"input {pname}", None)
    # flip-flop outputs start paths; their other pins end them
    pending = {}                                        # comb cell -> inputs not yet timed
    for inst, d in cells.items():
        conn = mod["cells"][inst]["connections"]
        if d["ff"]:
            for pin, out in d["outputs"].items():
                for b in conn.get(pin, []):
                    if not isinstance(b, int):
                        continue
                    best = (0.0, min_slew)
                    for arc in out["arcs"]:
                        if arc["type"] in ("rising_edge", "falling_edge"):
                            best = max(best, arc_delay(arc, min_slew, load[b]))
                    arrival[b], slew[b] = best
                    came[b] = (f"{inst} ({mod['cells'][inst]['type']}) {pin}", None)
        else:
            pending[inst] = sum(1 for p, bits in conn.items() if p in d["inputs"]
                                for x in bits if isinstance(x, int))
    ready = list(arrival)

    def fire(inst):                     # every input timed: time the outputs, pass them on
        conn = mod["cells"][inst]["connections"]
        _time_cell(inst, mod["cells"][inst]["type"], cells[inst], conn, arrival, slew, came,
                   load, min_slew)
        ready.extend(x for p in cells[inst]["outputs"] for x in conn.get(p, [])
                     if isinstance(x, int))

    for inst in [i for i, left in pending.items() if left == 0]:    # constant inputs only
        fire(inst)
    while ready:
        for inst, _ in sinks.get(ready.pop(), ()):
            if inst in pending:
                pending[inst] -= 1
                if pending[inst] == 0:
                    fire(inst)
    stuck = [i for i, left in pending.items() if left > 0]
    if stuck:
        raise UsageError(f"the mapped netlist has a combinational loop through {stuck[0]} "
                         f"({mod['cells'][stuck[0]]['type']}); static timing needs none")
    worst = None
    for inst, d in cells.items():                       # flip-flop data pins end paths
        if not d["ff"]:
            continue
        conn = mod["cells"][inst]["connections"]
        for pin in d["inputs"]:
            if pin == d["clock"]:
                continue
            for b in conn.get(pin, []):
                if isinstance(b, int) and b in arrival:
                    t = arrival[b] + d["setup"]
                    if worst is None or t > worst[0]:
                        worst = (t, b, f"{inst} ({mod['cells'][inst]['type']}) {pin}",
                                 d["setup"])
    for pname, port in mod["ports"].items():            # primary outputs
        if port["direction"] == "output":
            for b in port["bits"]:
                if isinstance(b, int) and b in arrival:
                    if worst is None or arrival[b] > worst[0]:
                        worst = (arrival[b], b, f"output {pname}", 0.0)
    if worst is None:
        return {"delay_s": 0.0, "start": None, "end": None, "cells": [], "setup_s": 0.0}
    delay, b, end, setup = worst
    path = []
    while b is not None and b in came:
        what, prev = came[b]
        path.append(what)
        b = prev
    path.reverse()
    return {"delay_s": delay, "start": path[0] if path else None, "end": end,
            "cells": path[1:], "setup_s": setup, "net": names.get(worst[1])}


def _time_cell(inst, ctype, d, conn, arrival, slew, came, load, min_slew) -> None:
    for pin_o, out in d["outputs"].items():
        for b_out in conn.get(pin_o, []):
            if not isinstance(b_out, int):
                continue
            best, best_slew, via = 0.0, min_slew, None
            for arc in out["arcs"]:
                for b_in in conn.get(arc["from"], []):
                    if not isinstance(b_in, int) or b_in not in arrival:
                        continue
                    dly, s = arc_delay(arc, slew[b_in], load[b_out])
                    if arrival[b_in] + dly > best or via is None:
                        best, via = arrival[b_in] + dly, b_in
                    best_slew = max(best_slew, s)
            arrival[b_out], slew[b_out] = best, best_slew
            came[b_out] = (f"{inst} ({ctype}) {pin_o}", via)
