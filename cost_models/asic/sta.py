"""Static timing of a mapped netlist on its Liberty digest (NLDM, no wires).

Yosys's flattened JSON netlist of library cells is walked in topological order, rising and
falling transitions apart. Every net's load is the input capacitance of the pins it drives
plus the wire the library's default wire-load model gives its fanout (pre-layout, as
OpenSTA without parasitics). A path starts at a primary
input (arrival 0, an ideal slew) or at a flip-flop's clock-to-output arc on an ideal
clock; an arc's delay and output slew interpolate its ``cell_rise`` / ``cell_fall`` and
transition tables bilinearly in (input slew, output load), following its timing sense
(a negative-unate arc turns a falling input into a rising output; a non-unate one takes
the worse of both). A path ends at a flip-flop's data pin plus its setup time
(interpolated at the data pin's slew, the clock ideal) or at a primary output.
"""
from __future__ import annotations

import bisect
from collections import Counter, defaultdict

from tokenfab.errors import UsageError

RISE, FALL = 0, 1


def interpolate(table: dict | None, slew: float, load: float) -> float:
    """Bilinear lookup of ``table`` at (``slew``, ``load``) (the table's own variable order
    is honoured), linear beyond its edges from the last two points, never below 0 for a
    delay. Constraint tables take (related pin's slew, constrained pin's slew)."""
    if table is None:
        return 0.0
    x, y = slew, load
    first = table.get("vars", ["input_net_transition"])[0]
    if "capacitance" in first or first == "constrained_pin_transition":
        x, y = load, slew
    xs, ys, v = table["slew"], table["load"], table["values"]

    def bracket(axis, p):
        if len(axis) == 1:
            return 0, 0, 0.0
        i = min(max(bisect.bisect_right(axis, p) - 1, 0), len(axis) - 2)
        return i, i + 1, (p - axis[i]) / (axis[i + 1] - axis[i])

    i0, i1, fx = bracket(xs, x)
    j0, j1, fy = bracket(ys, y)
    top = v[i0][j0] + (v[i0][j1] - v[i0][j0]) * fy
    bot = v[i1][j0] + (v[i1][j1] - v[i1][j0]) * fy
    return top + (bot - top) * fx


def _delay(arc, edge_out, slew_in, load) -> tuple[float, float]:
    d = arc["cell_rise" if edge_out == RISE else "cell_fall"]
    t = arc["rise_transition" if edge_out == RISE else "fall_transition"]
    return max(0.0, interpolate(d, slew_in, load)), max(0.0, interpolate(t, slew_in, load))


def _inputs_for(sense: str, edge_out: int) -> tuple:
    """The input edges that cause ``edge_out`` through an arc of this timing sense."""
    if sense == "positive_unate":
        return (edge_out,)
    if sense == "negative_unate":
        return (1 - edge_out,)
    return (RISE, FALL)


def critical_path(netlist: dict, top: str, lib, keep: dict | None = None) -> dict:
    """The slowest path of ``top`` in Yosys's JSON ``netlist`` (flattened, library cells):
    {"delay_s" (setup included), "start", "end", "cells" (on the path), "setup_s"}.
    ``keep``: a dict that receives every net's slew (``"slew"``: net -> the slower of
    its rising and falling transition, s), which the power model reads its tables at."""
    mod = netlist["modules"].get(top)
    if mod is None:
        raise UsageError(f"no module {top!r} in the mapped netlist")
    cells, sinks = {}, defaultdict(list)
    for inst, c in mod["cells"].items():
        digest = lib.cells.get(c["type"])
        if digest is None:
            raise UsageError(f"cell {c['type']} of the mapped netlist is not in the library")
        cells[inst] = digest
        for pin, bits in c["connections"].items():
            if pin in digest["inputs"]:
                for b in bits:
                    if isinstance(b, int):
                        sinks[b].append((inst, pin))
    fanout = Counter({b: len(ss) for b, ss in sinks.items()})
    for port in mod["ports"].values():
        if port["direction"] == "output":
            fanout.update(b for b in port["bits"] if isinstance(b, int))
    load = {b: sum(cells[i]["inputs"][p] for i, p in sinks.get(b, ())) + lib.wire_cap(f)
            for b, f in fanout.items()}
    arr, slw, came = {}, {}, {}        # net -> [rise, fall]; came: net -> [(what, net, edge)]

    def start(b, what, times, slews):
        arr[b], slw[b] = list(times), list(slews)
        came[b] = [(what, None, None), (what, None, None)]

    for pname, port in mod["ports"].items():
        if port["direction"] == "input":
            for b in port["bits"]:
                if isinstance(b, int):
                    start(b, f"input {pname}", (0.0, 0.0), (0.0, 0.0))
    pending = {}
    for inst, d in cells.items():
        conn = mod["cells"][inst]["connections"]
        if d["ff"]:
            for pin, out in d["outputs"].items():
                for b in conn.get(pin, []):
                    if isinstance(b, int):
                        times, slews = [0.0, 0.0], [0.0, 0.0]
                        for arc in out["arcs"]:
                            if arc["type"] in ("rising_edge", "falling_edge"):
                                for e in (RISE, FALL):
                                    t, s = _delay(arc, e, 0.0, load.get(b, 0.0))
                                    times[e], slews[e] = max(times[e], t), max(slews[e], s)
                        start(b, f"{inst} ({mod['cells'][inst]['type']}) {pin}", times, slews)
        else:
            pending[inst] = sum(1 for p, bits in conn.items() if p in d["inputs"]
                                for x in bits if isinstance(x, int))
    ready = list(arr)

    def fire(inst):                     # every input timed: time the outputs, pass them on
        conn = mod["cells"][inst]["connections"]
        ctype, d = mod["cells"][inst]["type"], cells[inst]
        for pin_o, out in d["outputs"].items():
            for b in conn.get(pin_o, []):
                if not isinstance(b, int):
                    continue
                times, slews = [0.0, 0.0], [0.0, 0.0]
                via = [(f"{inst} ({ctype}) {pin_o}", None, None)] * 2
                for arc in out["arcs"]:
                    for b_in in conn.get(arc["from"], []):
                        if not isinstance(b_in, int) or b_in not in arr:
                            continue
                        for e in (RISE, FALL):
                            for e_in in _inputs_for(arc["sense"], e):
                                t, s = _delay(arc, e, slw[b_in][e_in], load.get(b, 0.0))
                                if arr[b_in][e_in] + t > times[e] or via[e][1] is None:
                                    times[e] = arr[b_in][e_in] + t
                                    via[e] = (via[e][0], b_in, e_in)
                                slews[e] = max(slews[e], s)
                arr[b], slw[b], came[b] = times, slews, via
                ready.append(b)

    for inst in [i for i, left in pending.items() if left == 0]:    # constant inputs only
        fire(inst)
    while ready:
        for inst, _ in sinks.get(ready.pop(), ()):
            if inst in pending:
                pending[inst] -= 1
                if pending[inst] == 0:
                    fire(inst)
    if keep is not None:
        keep["slew"] = {b: max(s) for b, s in slw.items()}
    stuck = [i for i, left in pending.items() if left > 0]
    if stuck:
        raise UsageError(f"the mapped netlist has a combinational loop through {stuck[0]} "
                         f"({mod['cells'][stuck[0]]['type']}); static timing needs none")
    worst = None
    for inst, d in cells.items():                       # flip-flop data pins end paths
        if not d["ff"]:
            continue
        conn = mod["cells"][inst]["connections"]
        for pin, tables in d["setup"].items():
            for b in conn.get(pin, []):
                if not isinstance(b, int) or b not in arr:
                    continue
                for e, key in ((RISE, "rise_constraint"), (FALL, "fall_constraint")):
                    setup = interpolate(tables.get(key), 0.0, slw[b][e])
                    t = arr[b][e] + setup
                    if worst is None or t > worst[0]:
                        worst = (t, b, e, f"{inst} ({mod['cells'][inst]['type']}) {pin}",
                                 setup)
    for pname, port in mod["ports"].items():            # primary outputs
        if port["direction"] == "output":
            for b in port["bits"]:
                if isinstance(b, int) and b in arr:
                    for e in (RISE, FALL):
                        if worst is None or arr[b][e] > worst[0]:
                            worst = (arr[b][e], b, e, f"output {pname}", 0.0)
    if worst is None:
        return {"delay_s": 0.0, "start": None, "end": None, "cells": [], "setup_s": 0.0}
    delay, b, e, end, setup = worst
    path = []
    while b is not None:
        what, prev, prev_e = came[b][e]
        path.append(what)
        b, e = prev, prev_e
    path.reverse()
    return {"delay_s": delay, "start": path[0], "end": end, "cells": path[1:],
            "setup_s": setup}
