"""The silicon flow (``tokenfab asic``): synthesis onto sky130_fd_sc_hd, static timing on
its NLDM tables, and every bad input refused in one line. The library is read from
``../shared/pdk`` beside the clone (never copied into the repository); without it the
synthesis tests skip, saying why."""
from __future__ import annotations

import gzip
import shutil
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tokenfab
from tokenfab.cost_models.asic import liberty, parse_clock, sta
from tokenfab.errors import UsageError

SKY130 = Path(__file__).resolve().parents[2] / "shared" / "pdk" / \
    "sky130_fd_sc_hd__tt_025C_1v80.lib.gz"
needs_pdk = pytest.mark.skipif(not SKY130.exists(),
                               reason=f"the sky130 Liberty is not at {SKY130} (../shared/pdk "
                                      "beside the clone)")
TINY = dict(m=1, n=2, k=2)


@pytest.fixture(scope="module")
def lib():
    if not SKY130.exists():
        pytest.skip(f"the sky130 Liberty is not at {SKY130}")
    return liberty.load(SKY130)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    if not SKY130.exists():
        pytest.skip(f"the sky130 Liberty is not at {SKY130}")
    work = tmp_path_factory.mktemp("asic")
    return tokenfab.design("mac-array", **TINY).asic(SKY130, "5ns", work), work


# ---------------------------------------------------------------- the library
@needs_pdk
def test_the_library_digest(lib):
    """428 cells, the corner, SI units: a nand2_1 is 3.75 µm² with 2.3 fF inputs; the
    D flip-flop is clocked on CLK, its D pin has setup tables indexed by the clock's and
    the data's transitions, and a fast data edge on an ideal clock needs under 0.3 ns."""
    assert len(lib.cells) == 428 and lib.voltage == 1.8 and lib.temperature == 25
    nand = lib.cells["sky130_fd_sc_hd__nand2_1"]
    assert nand["area"] == pytest.approx(3.7536e-12, rel=1e-6, abs=0)
    # the pin's load: the largest of its capacitance and rise and fall capacitances
    assert nand["inputs"]["A"] == pytest.approx(2.375e-15, rel=1e-6, abs=0)
    assert nand["outputs"]["Y"]["function"].replace(" ", "") == "(!A)|(!B)"
    ff = lib.cells["sky130_fd_sc_hd__dfxtp_1"]
    assert ff["ff"] and ff["clock"] == "CLK"
    rise = ff["setup"]["D"]["rise_constraint"]
    assert rise["vars"] == ["related_pin_transition", "constrained_pin_transition"]
    assert 0 < sta.interpolate(rise, 0.0, 0.05e-9) < 0.3e-9


@needs_pdk
def test_interpolation_hits_the_table_and_is_linear_between(lib):
    arc = lib.cells["sky130_fd_sc_hd__inv_1"]["outputs"]["Y"]["arcs"][0]
    t = arc["cell_rise"]
    s, c = t["slew"], t["load"]
    assert sta.interpolate(t, s[1], c[2]) == pytest.approx(t["values"][1][2])
    mid = sta.interpolate(t, (s[1] + s[2]) / 2, c[2])
    assert mid == pytest.approx((t["values"][1][2] + t["values"][2][2]) / 2)
    # more load, more delay
    assert sta.interpolate(t, s[1], c[3]) > sta.interpolate(t, s[1], c[2])


def _chain(n_inv: int) -> dict:
    """A JSON netlist: flip-flop -> n inverters -> flip-flop."""
    cells = {"ff0": {"type": "sky130_fd_sc_hd__dfxtp_1",
                     "connections": {"CLK": [2], "D": [3], "Q": [10]}}}
    net = 10
    for i in range(n_inv):
        cells[f"inv{i}"] = {"type": "sky130_fd_sc_hd__inv_1",
                            "connections": {"A": [net], "Y": [net + 1]}}
        net += 1
    cells["ff1"] = {"type": "sky130_fd_sc_hd__dfxtp_1",
                    "connections": {"CLK": [2], "D": [net], "Q": [4]}}
    return {"modules": {"top": {"ports": {"clk": {"direction": "input", "bits": [2]},
                                          "d": {"direction": "input", "bits": [3]},
                                          "q": {"direction": "output", "bits": [4]}},
                                "cells": cells, "netnames": {}}}}


@needs_pdk
def test_static_timing_follows_the_path(lib):
    """Each inverter adds its delay: a longer chain between two flip-flops is slower, the
    path starts at the first flip-flop's Q and ends at the second's D, plus its setup."""
    paths = [sta.critical_path(_chain(n), "top", lib) for n in (1, 2, 6)]
    assert paths[0]["delay_s"] < paths[1]["delay_s"] < paths[2]["delay_s"]
    p = paths[2]
    assert p["start"].startswith("ff0") and p["end"].startswith("ff1") and "D" in p["end"]
    assert len(p["cells"]) == 6 and 0 < p["setup_s"] < 0.3e-9
    loop = _chain(2)
    loop["modules"]["top"]["cells"]["inv0"]["connections"]["A"] = [11]    # inv0 <- inv1
    loop["modules"]["top"]["cells"]["inv1"]["connections"]["A"] = [11]
    loop["modules"]["top"]["cells"]["inv0"]["connections"]["Y"] = [11]
    with pytest.raises(UsageError, match="combinational loop"):
        sta.critical_path(loop, "top", lib)


# ---------------------------------------------------------------- the flow
@needs_pdk
def test_asic_reports_area_timing_and_files(tiny):
    r, work = tiny
    assert r.library == "sky130_fd_sc_hd__tt_025C_1v80" and "1.8 V" in r.corner
    assert r.area_um2 > 0 and r.cells > 0 and r.flip_flops > 0
    assert sum(r.area_by_module_um2.values()) == pytest.approx(r.area_um2)
    assert sum(r.area_by_cell_um2.values()) == pytest.approx(r.area_um2, rel=1e-6)
    cp = r.critical_path
    assert 0.1 < cp["delay_ns"] < 50 and cp["start"] and cp["end"]
    assert r.fmax_mhz == pytest.approx(1e3 / cp["delay_ns"])
    assert r.slack_ns == pytest.approx(5 - cp["delay_ns"])
    assert 0 < r.leakage_w < 1e-3
    for key in ("script", "yosys_log", "netlist", "sdc"):
        assert Path(r.files[key]).stat().st_size > 0, key
    assert "create_clock" in Path(r.files["sdc"]).read_text()
    assert not list(Path(r.files["script"]).parent.glob("lib.lib"))   # the library stays theirs


@needs_pdk
def test_asic_is_cached_by_content(tiny):
    r, work = tiny
    again = tokenfab.design("mac-array", **TINY).asic(SKY130, "5ns", work)
    assert again.cached and again.area_um2 == r.area_um2
    assert again.critical_path == r.critical_path


@needs_pdk
def test_more_hardware_more_area(tiny, tmp_path):
    r, _ = tiny
    big = tokenfab.design("mac-array", m=1, n=4, k=2).asic(SKY130, "200MHz", tmp_path)
    assert big.area_um2 > 1.5 * r.area_um2 and big.clock_ns == pytest.approx(5.0)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("clock,ok", [("5ns", 5e-9), ("200MHz", 5e-9), (2.5, 2.5e-9),
                                      ("fast", None), ("5GB", None), (True, None)])
def test_clock_must_be_a_time_or_a_frequency(clock, ok):
    if ok is None:
        with pytest.raises(UsageError, match="clock must be a period such as 5ns"):
            parse_clock(clock)
    else:
        assert parse_clock(clock) == pytest.approx(ok)


def _bad_files(tmp_path):
    corrupt = tmp_path / "corrupt.lib.gz"
    corrupt.write_bytes(gzip.compress(b"library (x) {}")[:12])
    text = tmp_path / "notes.lib"
    text.write_text("this is not a library\n")
    broken = tmp_path / "broken.lib"
    broken.write_text("library (x) { cell (a) { area : 1 ; \n")
    noff = tmp_path / "noff.lib"
    noff.write_text('library (noff) { time_unit : "1ns" ; capacitive_load_unit (1, pf) ; '
                    'cell (inv) { area : 1 ; pin (A) { direction : input ; capacitance : '
                    '0.001 ; } pin (Y) { direction : output ; function : "!A" ; } } }\n')
    return [(tmp_path / "missing.lib", "does not exist"), (tmp_path, "is not a file"),
            (corrupt, "corrupt gzip"), (text, "is not a Liberty library"),
            (broken, "cannot be parsed"), (noff, "no flip-flop cells")]


def test_bad_libraries_are_refused(tmp_path):
    for path, fragment in _bad_files(tmp_path):
        with pytest.raises(UsageError, match=fragment):
            liberty.load(path, cache_dir=tmp_path / "cache")


def test_cli_refuses_in_one_line_and_leaves_nothing(tmp_path):
    for path, fragment in _bad_files(tmp_path):
        work = tmp_path / f"work-{path.name}"
        r = subprocess.run([sys.executable, "-m", "tokenfab", "asic", "mac-array", "--liberty",
                            str(path), "-o", str(work)], capture_output=True, text=True)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert fragment in r.stderr and not work.exists()
    r = subprocess.run([sys.executable, "-m", "tokenfab", "asic", "mac-array", "--liberty",
                        str(tmp_path / "x.lib"), "--clock", "fast"], capture_output=True,
                       text=True)
    assert r.returncode == 2 and "clock must be a period" in r.stderr
    r = subprocess.run([sys.executable, "-m", "tokenfab", "asic", "mac-array", "-p", "n=256",
                        "-p", "m=64", "-p", "k=8", "--liberty", str(tmp_path / "x.lib")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "RTL limit" in r.stderr


@needs_pdk
def test_cli_json(tmp_path):
    r = subprocess.run([sys.executable, "-m", "tokenfab", "asic", "mac-array", "-p", "m=1",
                        "-p", "n=2", "-p", "k=2", "--liberty", str(SKY130), "-o",
                        str(tmp_path), "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["design"] == "mac-array" and out["fmax_mhz"] > 0


needs_sta = pytest.mark.skipif(shutil.which("sta") is None,
                               reason="OpenSTA (optional: apt opensta) is not installed")


@pytest.fixture(scope="module")
def checked_unit(tmp_path_factory, build_dir):
    """The unit both OpenSTA checks read: LUT Tensor Core N16 W4, synthesised once for
    them and for test_component_model's reproduction (the flow's cache, keyed by the
    Verilog, the library, the clock and the flow's version)."""
    if not SKY130.exists():
        pytest.skip(f"the sky130 Liberty is not at {SKY130}")
    work = tmp_path_factory.mktemp("opensta")
    d = tokenfab.design("lut-tensor-core", n=16, weight_bits=4)
    return d, d.asic(SKY130, "5ns", build_dir / "asic-ltc-n16-w4"), work


@needs_pdk
@needs_sta
def test_timing_agrees_with_opensta(checked_unit):
    """OpenSTA (report_checks, no parasitics, the library's wire-load model) on our mapped
    netlist and SDC: the critical path, arrival plus setup, within 10% of ours
    (measured: 7.78 against 7.87 ns on this unit; 10.98 against 11.01 ns on mac-array
    m2 n4 k4)."""
    _, r, tmp_path = checked_unit
    lib = tmp_path / "lib.lib"
    lib.write_bytes(gzip.decompress(SKY130.read_bytes()))
    top = Path(r.files["netlist"]).read_text().split("module ", 1)[1].split("(", 1)[0].strip()
    script = tmp_path / "sta.tcl"
    script.write_text(f"read_liberty {lib}\nread_verilog {r.files['netlist']}\n"
                      f"link_design {top}\nread_sdc {r.files['sdc']}\n"
                      "report_checks -path_delay max -digits 4\nexit\n")
    out = subprocess.run(["sta", "-no_splash", str(script)], capture_output=True, text=True,
                         timeout=600).stdout
    arrival = float(next(x for x in out.splitlines() if "data arrival time" in x).split()[0])
    setup = -float(next(x for x in out.splitlines() if "library setup time" in x).split()[0])
    assert r.critical_path["delay_ns"] == pytest.approx(arrival + setup, rel=0.10)


@needs_pdk
def test_asic_is_a_sweep_level(tmp_path):
    """A notebook sweeps area and Fmax on real cells: more outputs, more area."""
    df = tokenfab.sweep({"sweep": {"levels": ["asic"], "asic_liberty": str(SKY130),
                                   "asic_clock": "5ns"},
                         "design": [{"name": "mac-array", "params": {"m": 1, "k": 2},
                                     "axes": {"n": [2, 4]}}]},
                        out=tmp_path / "sw", workers=None)
    assert list(df["status"]) == ["ok", "ok"], df["message"].tolist()
    area = df.sort_values("p.n")["asic.area_um2"].tolist()
    assert area[1] > area[0] and (df["asic.fmax_mhz"] > 0).all()
    with pytest.raises(UsageError, match="sweep.asic_liberty"):
        tokenfab.sweep({"sweep": {"levels": ["asic"]},
                        "design": [{"name": "mac-array", "axes": {"n": [2]}}]},
                       out=tmp_path / "bad", workers=None)


# ---------------------------------------------------------------- power
def test_liberty_functions_become_truth_tables():
    from tokenfab.cost_models.asic.gatesim import truth_table
    assert truth_table("(!A) | (!B)", ["A", "B"]).tolist() == [1, 1, 1, 0]
    assert truth_table("A^B", ["A", "B"]).tolist() == [0, 1, 1, 0]
    assert truth_table("A B + C'", ["A", "B", "C"]).tolist() == [1, 1, 1, 1, 0, 0, 0, 1]
    assert truth_table("(D&DE) | (IQ&!DE)", ["D", "DE", "IQ"]).tolist() == \
        [0, 0, 0, 1, 1, 1, 0, 1]
    with pytest.raises(UsageError, match="cannot be read"):
        truth_table("A & (B", ["A", "B"])


def _divider() -> dict:
    """A flip-flop whose D is its own Q inverted: Q toggles every cycle."""
    return {"modules": {"top": {"ports": {"clk": {"direction": "input", "bits": [2]},
                                          "q": {"direction": "output", "bits": [4]}},
                                "cells": {
        "ff": {"type": "sky130_fd_sc_hd__dfxtp_1",
               "connections": {"CLK": [2], "D": [5], "Q": [4]}},
        "inv": {"type": "sky130_fd_sc_hd__inv_1", "connections": {"A": [4], "Y": [5]}}},
        "netnames": {}}}}


@needs_pdk
def test_gate_level_simulation_counts_toggles(lib):
    """Q and its inverse each change once a cycle; the power is the library's: the clock
    pin's and the two outputs' internal energy plus ½CV² on the two nets."""
    from tokenfab.cost_models.asic import gatesim, power
    sim = gatesim.GateSim(_divider(), "top", lib)
    sim.settle()
    sim.start()
    seen = []
    for _ in range(10):
        sim.settle()
        seen.append(sim.get("q"))
        sim.step()
    assert seen == [0, 1] * 5
    q, qn = sim.index[4], sim.index[5]
    assert sim.toggles[q] == 9 and sim.toggles[qn] == 9 and sim.cycles == 10
    e = power.energy(sim, lib, np.zeros(len(sim.values)), sim.index[2])
    cap = power.loads(sim, lib)
    assert cap[qn] == pytest.approx(lib.cells["sky130_fd_sc_hd__dfxtp_1"]["inputs"]["D"]
                                    + lib.wire_cap(1))
    assert e["switching_j"] == pytest.approx(0.5 * 1.8 ** 2 * 9 * (cap[q] + cap[qn]), rel=1e-6, abs=0)
    assert 0 < e["internal_j"] < 10 * 1e-13


@needs_pdk
def test_asic_power_from_the_benchs_stimulus(tiny):
    """The random beats ran on the mapped netlist, every output word as the golden model's;
    dynamic power and energy per MAC come out, leakage apart."""
    r, _ = tiny
    pw = r.power
    assert pw["gate_level_mismatches"] == 0 and pw["outputs"] > 0
    assert pw["beats"] >= 64 and pw["cycles"] >= pw["beats"]
    assert r.op == "MAC" and pw["ops"]["MAC"] == pw["beats"] * 4     # m1 n2 k2
    assert r.dynamic_w == pytest.approx(pw["internal_w"] + pw["switching_w"])
    assert r.total_w == pytest.approx(r.dynamic_w + r.leakage_w)
    e = (r.dynamic_w + r.leakage_w) * pw["cycles"] * r.clock_ns * 1e-9
    assert r.energy_per_op_pj == pytest.approx(e / pw["ops"]["MAC"] * 1e12)
    assert 0.05 < r.energy_per_op_pj < 100
    assert Path(r.files["activity"]).read_text().count("set_power_pin_activity") > 100


@needs_pdk
def test_idle_cycles_cost_energy_per_op(tiny, tmp_path):
    """Offered half the cycles the unit still clocks its flip-flops every cycle: more
    cycles for the same work, more energy per MAC, less power."""
    r, work = tiny
    half = tokenfab.design("mac-array", **TINY).asic(SKY130, "5ns", work, utilisation=0.5)
    assert half.power["cycles"] > 1.5 * r.power["cycles"]
    assert half.energy_per_op_pj > r.energy_per_op_pj and half.dynamic_w < r.dynamic_w


@needs_pdk
def test_a_wrong_word_is_caught(lib, tiny):
    """The power run checks the netlist's outputs: a wrong expected word is a mismatch."""
    from tokenfab.cost_models.asic import gatesim, power, stimulus
    r, _ = tiny
    netlist = json.loads((Path(r.files["netlist"]).parent / "netlist.json").read_text())
    top = next(iter(netlist["modules"]))
    d = tokenfab.design("mac-array", **TINY)
    beats, words, _, _ = stimulus(d, 8, 1)
    words[3] ^= 1
    run = power.drive(gatesim.GateSim(netlist, top, lib), beats, words)
    assert run["mismatches"] == 1 and run["first_mismatches"][0]["index"] == 3


@pytest.mark.parametrize("kw,fragment", [({"utilisation": 0}, "utilisation must be"),
                                         ({"utilisation": 1.5}, "utilisation must be"),
                                         ({"utilisation": "x"}, "utilisation must be"),
                                         ({"beats": 0}, "beats")])
def test_bad_stimulus_is_refused(kw, fragment, tmp_path):
    with pytest.raises(UsageError, match=fragment):
        tokenfab.design("mac-array", **TINY).asic(tmp_path / "x.lib", "5ns", tmp_path, **kw)
    assert not list(tmp_path.iterdir())


def _opensta_power(r, lib, sim, top, work) -> tuple[dict, dict]:
    """OpenSTA's report_power on our mapped netlist and SDC, given the run's activity on
    the unit's inputs, with its per-pin debug: (its totals, each output pin's activity in
    transitions per second). OpenSTA 2.0.17 (Debian's) keeps user activities only on
    primary inputs and propagates the rest; and it takes an output's (or a clock pin's)
    internal energy per transition as the sum of the rise and fall tables, which upstream
    OpenSTA averages since 77d507d0 (2020-04-28, 'internal power'), as we do: those
    lines are halved here."""
    import re
    plain = work / "lib.lib"
    plain.write_bytes(gzip.decompress(SKY130.read_bytes()))
    n = sim.cycles
    lines = [f"read_liberty {plain}", f"read_verilog {r.files['netlist']}",
             f"link_design {top}", f"read_sdc {r.files['sdc']}"]
    for name, nets in sim.ports.items():
        if sim.directions[name] == "input" and name != "clk":
            for j, net in enumerate(nets):
                pin = name if len(nets) == 1 else f"{name}[{j}]"
                lines.append(f"sta::set_power_pin_activity [sta::find_pin {{{pin}}}] "
                             f"{sim.toggles[net] / n:.6g} {sim.ones[net] / n:.6g}")
    lines += ["sta::set_debug power 2", "report_power -digits 8", "exit"]
    (work / "power.tcl").write_text("\n".join(lines) + "\n")
    p = subprocess.run(["sta", "-no_splash", str(work / "power.tcl")], capture_output=True,
                       text=True, timeout=900)
    out = p.stdout + p.stderr
    activity, internal, pending, cell = {}, 0.0, None, None
    for line in out.splitlines():
        m = re.match(r"power: switching \S+ activity = (\S+)", line)
        if m:
            pending = float(m.group(1))
            continue
        m = re.match(r"power: internal (\S+)/(\S+) \((\S+)\)", line)
        if m:
            if pending is not None:
                activity[(m.group(1), m.group(2))] = pending
            pending, cell = None, m.group(3)
            continue
        m = re.match(r"power:\s+(\S+) -> (\S+) .*?\s(-?[\d.]+e[-+]\d+)\s+"
                     r"(-?[\d.]+e[-+]\d+)\s+(?:no pg_pin|\S+)$", line)
        if m:
            halve = m.group(1) != m.group(2) or lib.cells[cell]["clock"] == m.group(2)
            internal += float(m.group(4)) / (2 if halve else 1)
    total = re.search(r"^Total\s+(\S+)\s+(\S+)\s+(\S+)", out, re.M)
    return ({"internal_w": internal, "switching_w": float(total.group(2)),
             "leakage_w": float(total.group(3))}, activity)


@needs_pdk
@needs_sta
def test_power_agrees_with_opensta(lib, checked_unit):
    """OpenSTA's report_power and ours on the same mapped netlist and the same per-pin
    activities (OpenSTA's, propagated from the run's input activities, since its 2019
    build will not take ours on internal pins): switching within 2% (one formula, one
    load model: pin capacitances and the library's wire-load model), the total within
    15%. Measured on this unit: switching 41.78 against 41.78 mW, internal 60.8 against
    72.4 mW, total -10%. By cell type, flip-flops and two-input cells agree within 1%;
    the rest is three-input cells (xnor3, xor3, maj3, a21oi), where OpenSTA 2.0.17
    weights each related input by its activity over the output's, and with its
    probabilistic output activity those weights sum past 1."""
    from tokenfab.cost_models.asic import gatesim, power, sta, stimulus
    d, r, tmp_path = checked_unit
    netlist = json.loads((Path(r.files["netlist"]).parent / "netlist.json").read_text())
    top = next(iter(netlist["modules"]))
    sim = gatesim.GateSim(netlist, top, lib)
    beats, words, _, _ = stimulus(d, 64, 1)
    assert power.drive(sim, beats, words)["mismatches"] == 0
    theirs, activity = _opensta_power(r, lib, sim, top, tmp_path)
    period = r.clock_ns * 1e-9
    toggles = np.zeros(len(sim.values))
    for name, nets in sim.ports.items():
        if sim.directions[name] == "input":
            toggles[nets] = sim.toggles[nets] / sim.cycles
    for inst, _, pins in sim.cells:
        for pin, net in pins.items():
            if (inst, pin) in activity:
                toggles[net] = activity[(inst, pin)] * period
    sim.toggles, sim.cycles = toggles, 1
    keep = {}
    sta.critical_path(netlist, top, lib, keep)
    ours = power.energy(sim, lib, power.net_slews(sim, keep), sim.index[netlist["modules"][top]["ports"]["clk"]
                                                   ["bits"][0]])
    assert ours["switching_j"] / period == pytest.approx(theirs["switching_w"], rel=0.02)
    total = (ours["internal_j"] + ours["switching_j"]) / period
    assert total == pytest.approx(theirs["internal_w"] + theirs["switching_w"], rel=0.15)


def test_cli_refuses_a_bad_utilisation(tmp_path):
    for flag, value, fragment in (("--utilisation", "0", "utilisation must be"),
                                  ("--utilisation", "2", "utilisation must be"),
                                  ("--beats", "0", "beats")):
        r = subprocess.run([sys.executable, "-m", "tokenfab", "asic", "mac-array", "--liberty",
                            str(tmp_path / "x.lib"), flag, value, "-o", str(tmp_path / "w")],
                           capture_output=True, text=True)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert fragment in r.stderr and not (tmp_path / "w").exists()


# ---------------------------------------------------------------- cost --liberty
@needs_pdk
def test_cost_prices_the_units_from_the_synthesised_circuit(tmp_path):
    """``cost --liberty``: the unit's area is the synthesised area, its energy per MAC the
    power run's (clock pins each cycle, the rest per busy step), and the system's
    tokens/J follow; the component-count cost of the same system differs."""
    d = tokenfab.design("lut-tensor-core", **TINY)
    kw = dict(overrides=["clock=50MHz"], model="llama-2-7b")
    c = d.cost(liberty=SKY130, work_dir=tmp_path, **kw)
    a = d.asic(SKY130, "20000ps", tmp_path)
    assert a.cached and c.unit_area_mm2 == pytest.approx(a.area_um2 / 1e6, rel=1e-9)
    # every cycle of the bench is busy here: the step's energy is the run's per cycle
    busy = a.power["ops"]["MAC"] * d.params.cycles_per_tile / d.params.macs_per_tile
    assert 0.98 * a.power["cycles"] <= busy <= a.power["cycles"]
    assert c.energy_per_mac_j == pytest.approx(a.energy_per_op_pj * 1e-12, rel=0.02, abs=0)
    assert "synthesised on sky130_fd_sc_hd" in c.unit_source
    modelled = d.cost(**kw)
    assert "component counts" in modelled.unit_source
    assert c.tokens_per_j != pytest.approx(modelled.tokens_per_j, rel=0.01)


@needs_pdk
def test_cost_refuses_a_clock_the_library_cannot_meet(tmp_path):
    with pytest.raises(UsageError, match=r"Fmax .* MHz\), longer than the system's 0.5 ns "
                                         r"clock \(2000 MHz\); lower the system's clock"):
        tokenfab.design("lut-tensor-core", **TINY).cost(
            liberty=SKY130, work_dir=tmp_path, overrides=["clock=2GHz"])


def test_cost_liberty_is_for_the_tile_designs(tmp_path):
    r = subprocess.run([sys.executable, "-m", "tokenfab", "cost", "hnlpu", "--liberty",
                        str(tmp_path / "x.lib")], capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "(lut-tensor-core, mac-array, systolic-array, mixpe); hnlpu has its own" in r.stderr
    r = subprocess.run([sys.executable, "-m", "tokenfab", "cost", "mac-array", "--liberty",
                        str(tmp_path / "x.lib")], capture_output=True, text=True)
    assert r.returncode == 2 and "liberty" in r.stderr and "does not exist" in r.stderr
    assert not list(tmp_path.iterdir())
