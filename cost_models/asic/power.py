"""Power of a mapped netlist from the switching activity of the design's own stimulus.

The stimulus is the verification bench's (``tokenfab.sim.stream_tb``) replayed on the
gate-level simulation (``gatesim``): reset, then the beats offered on the input stream
(every cycle, or with a stated utilisation: each cycle with that probability) and the
output stream always ready. Every output word is compared with the golden model's, so
the netlist whose power is reported is checked to compute the design's function.

From the toggles per net over the run (OpenSTA's ``report_power`` model, zero-delay
activity, pre-layout):

- internal energy: each output pin's transitions times its ``internal_power`` energy at
  its load and its related input's slew (rise and fall averaged), the related inputs
  weighted by their own transitions; each input pin's transitions (the clock pin: two
  per cycle) times its own ``internal_power`` energy at its slew;
- switching energy: ½ C V² per transition of each net a cell drives, C the input
  capacitance of the pins on it plus the library's wire-load model for its fanout;
- leakage: the cells' ``cell_leakage_power``.

The clock is ideal: its pins' internal energy is counted, a clock tree is not.
"""
from __future__ import annotations

import numpy as np

from tokenfab.cost_models.asic.sta import interpolate


def drive(sim, beats: list[int], expected: list[int], *, utilisation: float = 1.0,
          seed: int = 1, max_cycles: int | None = None) -> dict:
    """Replay the stream bench on ``sim``; count toggles from the first cycle after reset
    until the last output. Returns cycles, beats, outputs, mismatches, first mismatches."""
    rng = np.random.default_rng(seed)
    max_cycles = max_cycles or 20 * len(beats) + 1000
    sim.set("i_stream__valid", 0)
    sim.set("o_stream__ready", 0)
    sim.set("rst", 1)
    for _ in range(3):
        sim.settle()
        sim.step(count=False)
    sim.set("rst", 0)
    sim.settle()
    sim.step(count=False)
    sim.start()
    sim.set("o_stream__ready", 1)
    outputs, i, offered, cycle = [], 0, None, 0
    while len(outputs) < len(expected) and cycle < max_cycles:
        if offered is None and i < len(beats) and rng.random() < utilisation:
            offered = i
            sim.set("i_stream__payload", beats[i])
            sim.set("i_stream__valid", 1)
        sim.settle()
        if sim.get("o_stream__valid"):
            outputs.append(sim.get("o_stream__payload"))
        if offered is not None and sim.get("i_stream__ready"):
            i += 1
            offered = None
            sim.set("i_stream__valid", 0)
        sim.step()
        cycle += 1
    bad = [k for k, (o, e) in enumerate(zip(outputs, expected)) if o != e]
    return {"cycles": sim.cycles, "beats": i, "outputs": len(outputs),
            "mismatches": len(bad) + max(0, len(expected) - len(outputs)),
            "first_mismatches": [{"index": k, "expected": hex(expected[k]),
                                  "got": hex(outputs[k])} for k in bad[:5]]}


def _mean_energy(groups, slew, load) -> float:
    """Rise and fall energies averaged, then the groups (``when`` states) averaged."""
    vals = [(interpolate(g["rise_power"], slew, load) + interpolate(g["fall_power"], slew, load))
            / (int(g["rise_power"] is not None) + int(g["fall_power"] is not None) or 1)
            for g in groups if g["rise_power"] is not None or g["fall_power"] is not None]
    return sum(vals) / len(vals) if vals else 0.0


def net_slews(sim, keep: dict) -> np.ndarray:
    """Static timing's slews (``sta.critical_path(..., keep)``) on the simulation's nets."""
    slews = np.zeros(len(sim.values))
    for b, s in keep["slew"].items():
        if b in sim.index:
            slews[sim.index[b]] = s
    return slews


def loads(sim, lib) -> np.ndarray:
    """Each net's load: the input capacitance of the cell pins on it and the wire the
    library's wire-load model gives its fanout (the unit's outputs count one each) (F)."""
    cap = np.zeros(len(sim.values))
    fanout = np.zeros(len(sim.values), np.int64)
    for _, ctype, pins in sim.cells:
        d = lib.cells[ctype]
        for p, c in d["inputs"].items():
            if p in pins:
                cap[pins[p]] += c
                fanout[pins[p]] += 1
    for name, nets in sim.ports.items():
        if sim.directions[name] == "output":
            np.add.at(fanout, nets, 1)
    wire = {f: lib.wire_cap(int(f)) for f in np.unique(fanout)}
    return cap + np.array([wire[f] for f in fanout])


def energy(sim, lib, slews: np.ndarray, clock_net: int, per_instance: dict | None = None
           ) -> dict:
    """Energy (J) over the counted cycles: internal (of which ``clock_pins_j`` on the
    clock net's pins), switching and per cell type.
    ``per_instance``: a dict that receives each instance's (internal, switching)."""
    cap = loads(sim, lib)
    toggles = sim.toggles.astype(float)
    toggles[clock_net] = 2.0 * sim.cycles                # an ideal clock: two edges a cycle
    v2 = lib.voltage ** 2
    internal, switching, clock_pins, by_type = 0.0, 0.0, 0.0, {}
    for inst, ctype, pins in sim.cells:
        d = lib.cells[ctype]
        e, sw_cell = 0.0, 0.0
        for p, groups in d["input_power"].items():
            if p in pins and groups and toggles[pins[p]]:
                pin = toggles[pins[p]] * _mean_energy(groups, slews[pins[p]], 0.0)
                e += pin
                if pins[p] == clock_net:
                    clock_pins += pin
        for o, out in d["outputs"].items():
            if o not in pins or not toggles[pins[o]]:
                continue
            n_out = pins[o]
            related = {}
            for g in out["power"]:
                related.setdefault(g["from"], []).append(g)
            weights = {r: toggles[pins[r]] if r in pins else 0.0 for r in related}
            total = sum(weights.values())
            per = sum((weights[r] / total if total else 1 / len(related))
                      * _mean_energy(gs, slews[pins[r]] if r in pins else 0.0, cap[n_out])
                      for r, gs in related.items())
            e += toggles[n_out] * per
            sw_cell += 0.5 * cap[n_out] * v2 * toggles[n_out]
        internal += e
        switching += sw_cell
        by_type[ctype] = by_type.get(ctype, 0.0) + e + sw_cell
        if per_instance is not None:
            per_instance[inst] = (e, sw_cell)
    return {"internal_j": internal, "switching_j": switching, "clock_pins_j": clock_pins,
            "by_cell_j": by_type, "cycles": sim.cycles}


def write_activity(sim, path, clock_net: int) -> None:
    """The run's activity per cell pin as OpenSTA Tcl (``sta::set_power_pin_activity``,
    transitions per clock cycle and the fraction of cycles at 1), for ``mapped.v``."""
    n = max(sim.cycles, 1)
    lines = []
    for inst, _, pins in sim.cells:
        for p, net in pins.items():
            if net == clock_net or net in (0, 1):
                continue
            lines.append(f"sta::set_power_pin_activity [get_pins {{{inst}/{p}}}] "
                         f"{sim.toggles[net] / n:.6g} {sim.ones[net] / n:.6g}")
    path.write_text("\n".join(lines) + "\n")
