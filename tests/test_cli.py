"""The CLI contract: JSON keys, help, suggestions for near misses (the one-line errors
with exit code 2, class by class: tests/test_bad_input.py)."""
import json
import subprocess
import sys

import pytest

from tokenfab.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json(capsys):
    code, out, _ = run(capsys, "list", "--json")
    data = json.loads(out)
    assert code == 0
    assert {d["name"] for d in data} >= {"lut-tensor-core", "mac-array"}
    ltc = [d for d in data if d["name"] == "lut-tensor-core"][0]
    assert ltc["params"]["m"] == 2 and ltc["params"]["n"] == 64 and ltc["params"]["k"] == 4


def test_list_models_json(capsys):
    code, out, _ = run(capsys, "list", "--models", "--json")
    assert "gpt-oss-120b" in json.loads(out)


def test_rtl_writes_verilog_and_manifest(capsys, build_dir):
    out_dir = build_dir / "cli-rtl"
    code, out, _ = run(capsys, "rtl", "mac-array", "-p", "n=4", "-o", str(out_dir), "--json")
    assert code == 0
    man = json.loads((out_dir / "mac_array_n4.manifest.json").read_text())
    assert set(man) >= {"design", "params", "top", "ports"} and man["params"]["n"] == 4
    assert (out_dir / "mac_array_n4.v").exists()


def test_simulate_json_keys(capsys):
    code, out, _ = run(capsys, "simulate", "lut-tensor-core", "--model", "bitnet-b1.58-large",
                       "--prompt", "16", "--gen", "2", "--json")
    r = json.loads(out)
    assert code == 0
    for k in ["design", "model", "system", "batch", "prompt", "gen", "ttft_s",
              "prefill_tokens_per_s", "decode_tokens_per_s", "decode_latency_s", "energy_j",
              "tokens_per_j", "chip_power_w", "system_power_w"]:
        assert k in r


def test_cost_json_keys(capsys):
    code, out, _ = run(capsys, "cost", "lut-tensor-core", "--node", "7nm", "--json")
    r = json.loads(out)
    assert code == 0 and r["node"] == "7nm" and r["area_mm2"] > 0
    assert r["system_power_w"] > r["chip_power_w"] > 0 and r["chip_peak_power_w"] > 0
    assert r["die_cost_usd"] > 0 and r["nre_usd"] > r["respin_usd"] > 0


def test_cost_with_model_reports_tokens_per_j_and_usd_per_mtoken(capsys):
    code, out, _ = run(capsys, "cost", "mac-array", "--model", "llama-2-7b", "--json")
    r = json.loads(out)
    assert code == 0 and r["tokens_per_j"] > 0 and r["usd_per_mtoken"] > 0


def test_die_json_keys(capsys):
    code, out, _ = run(capsys, "die", "--area", "827.08", "--node", "5nm", "--json")
    r = json.loads(out)
    assert code == 0
    assert set(r) >= {"gross_dies", "yield", "good_dies", "cost_per_good_die_usd"}
    assert r["gross_dies"] == 62


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "tokenfab.cli", "simulate", "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "--model" in out.stdout


def test_list_one_design_explains_each_parameter(capsys):
    assert main(["list", "systolic-array"]) == 0
    out = capsys.readouterr().out
    assert "dataflow" in out and "os, ws, is" in out and "1 – 1024" in out
    assert main(["list", "tellme", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["params"]}
    assert rows["q"]["default"] == 4 and rows["q"]["allowed"] == "1 – 32"
    assert "calibrated" in rows["q"]["help"]


def test_list_models_shows_sizes(capsys):
    assert main(["list", "--models"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("llama-2-7b"))
    assert "6.61B" in line and "32" in line and "4096" in line


@pytest.mark.parametrize("command", ["verify", "simulate", "fpga", "cost", "die", "rtl"])
def test_help_shows_defaults(command):
    out = subprocess.run([sys.executable, "-m", "tokenfab", command, "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "(default:" in out.stdout


@pytest.mark.parametrize("argv, hint", [
    (["simulate", "ltc"], "did you mean 'lut-tensor-core'?"),
    (["simulate", "mac-array", "--model", "llama2-7b"], "did you mean 'llama-2-7b'?"),
    (["fpga", "mac-array", "--target", "ecp5-2k"], "did you mean 'ecp5-25k'?"),
    (["simulate", "mac-array", "--system", "a10"], "did you mean 'a100'?"),
])
def test_near_misses_get_a_suggestion(capsys, argv, hint):
    assert main(argv) == 2
    assert hint in capsys.readouterr().err


@pytest.mark.slow
def test_verify_writes_where_asked_and_prints_the_waveform(capsys, tmp_path, build_dir):
    work = build_dir / "verify-here"
    code = main(["verify", "mac-array", "-p", "m=1", "-p", "n=2", "--vectors", "12",
                 "--waves", "-o", str(work), "--json"])
    r = json.loads(capsys.readouterr().out)
    assert code == 0 and r["passed"]
    wave = r["files"]["waveform"]
    assert wave.startswith(str(work.resolve())) and wave.endswith((".fst", ".vcd"))
    assert "acc" in open(wave, "rb").read(200_000).decode(errors="ignore")   # internals kept
    assert r["files"]["verilog"].endswith("mac_array_m1_n2.v")


def test_progress_is_quiet_when_not_a_terminal(capfd):
    assert main(["simulate", "mac-array", "--prompt", "8", "--gen", "1"]) == 0
    assert capfd.readouterr().err == ""


def test_breakdown_shows_compute_energy_to_compare(capsys):
    """A decode step's matrix rows carry their compute energy: the LUT unit's is below
    the MAC array's for the same GEMMs (and DRAM energy is its own column)."""
    compute = {}
    for design in ("lut-tensor-core", "mac-array"):
        code, out, _ = run(capsys, "simulate", design, "--prompt", "16", "--gen", "2",
                           "--breakdown", "--json")
        rows = [r for r in json.loads(out)["breakdown"]
                if r["phase"] == "decode" and r["op"] == "down"]
        compute[design] = sum(r["compute_j"] for r in rows)
        code, out, _ = run(capsys, "simulate", design, "--prompt", "16", "--gen", "2",
                           "--breakdown")
        assert "compute_j" in out and "dram_j" in out
    assert 0 < compute["lut-tensor-core"] < compute["mac-array"]


def _strict(text):
    def refuse(name):
        raise ValueError(f"non-strict JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("argv", [
    ["list", "--json"], ["list", "--models", "--json"], ["list", "--calibrations", "--json"],
    ["list", "sail", "--json"],
    ["simulate", "lut-tensor-core", "--prompt", "8", "--gen", "2", "--json"],
    ["simulate", "mac-array", "--system", "a100", "--prompt", "8", "--gen", "2", "--json"],
    ["simulate", "systolic-array", "--prompt", "8", "--gen", "2", "--json"],
    ["simulate", "mixpe", "--prompt", "8", "--gen", "2", "--json"],
    ["simulate", "tellme", "--model", "bitnet-b1.58-large", "--prompt", "8", "--gen", "2",
     "--json"],
    ["simulate", "sail", "--prompt", "8", "--gen", "2", "--json"],
    ["simulate", "hnlpu", "--model", "gpt-oss-120b", "--prompt", "8", "--gen", "2", "--json"],
    ["cost", "mac-array", "--json"], ["cost", "hnlpu", "--json"],
    ["die", "--area", "100", "--node", "7nm", "--json"],
    ["gemm", "lut-tensor-core", "--shape", "4,64,32", "--json"],
])
def test_every_json_output_is_strict_json(capsys, argv):
    """--json prints one strict JSON document (no NaN or Infinity) on every command."""
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert isinstance(_strict(out), (dict, list))


def test_readable_help_and_suggestions(capsys):
    assert main([]) == 0 and "positional arguments" in capsys.readouterr().out
    assert main(["simulat", "mac-array"]) == 2
    assert "did you mean 'simulate'?" in capsys.readouterr().err
    assert main(["simulate", "mac-array", "-p", "weight_bit=3"]) == 2
    assert "did you mean 'weight_bits'?" in capsys.readouterr().err
    assert main(["simulate", "mac-array", "-p", "n=16", "-p", "n=32"]) == 2
    assert "parameter n is given twice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cost", "--help"])
    text = capsys.readouterr().out
    assert "(default: None)" not in text and "(default: False)" not in text
    assert all(line.count("default") <= 1 for line in text.split("  --"))


def test_quiet_prints_nothing_and_a_phase_that_did_not_run_is_na(capsys):
    assert main(["simulate", "mac-array", "--prompt", "16", "--gen", "2", "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["simulate", "mac-array", "--prompt", "16", "--gen", "0"]) == 0
    out = capsys.readouterr().out
    assert "decode_tokens_per_s    n/a (gen 0: no decode)" in out
    assert "tokens_per_j           " in out and "mtok" not in out


def test_text_output_shows_nested_tables_with_units(capsys):
    """cost hnlpu's block-by-block comparison, its area and power breakdowns and the TCO
    show without --json, each value with its unit."""
    assert main(["cost", "hnlpu"]) == 0
    out = capsys.readouterr().out
    assert "\nblocks:\n  hn_array:\n    area_mm2        573.2 mm2" in out
    assert "    paper_power_w   76.92 W" in out
    assert "power_breakdown_w:\n  hn_array_w" in out and "\ntco:\n" in out
    import re
    assert re.search(r"\nusd_per_mtoken     \d\.\d{3} USD/Mtok – \d\.\d{3} USD/Mtok\n", out)


def test_nested_costs_carry_their_unit(capsys):
    """The NRE by component shows in dollars with a prefix (a bare 2.58e+06 hides a factor
    of 10^6), as its keys say: every component ends in _usd."""
    import re
    assert main(["cost", "mac-array", "-p", "n=4"]) == 0
    out = capsys.readouterr().out
    import itertools
    rows = list(itertools.takewhile(lambda line: line.startswith("  "),
                                    out.split("\nnre:\n")[1].splitlines()))
    assert len(rows) == 7, rows
    for line in rows:
        assert re.fullmatch(r"  \w+_usd +\$[\d.,]+[kM]?", line), line


def test_compare_scales_the_second_design_to_the_firsts_area_or_throughput(capsys):
    """iso-area: B's units take A's units' silicon within one of B's units; iso-throughput:
    B's peak operations per second within one unit's of A's; every headline of B over A;
    a design that is a system of its own is refused by name."""
    import tokenfab
    from tokenfab.compare import compare
    a, b = tokenfab.design("lut-tensor-core"), tokenfab.design("mac-array")
    small = "bitnet-b1.58-large"
    r = compare(a, b, iso="area", model=small)
    per_unit = r["b"]["units_area_mm2"] / r["b"]["units"]
    assert abs(r["b"]["units_area_mm2"] - r["a"]["units_area_mm2"]) <= per_unit / 2 + 1e-12
    assert r["b_over_a"]["tokens_per_j"] == pytest.approx(
        r["b"]["tokens_per_j"] / r["a"]["tokens_per_j"], rel=1e-12)
    t = compare(a, b, iso="throughput", model=small)
    per_unit = t["b"]["peak_ops_per_s"] / t["b"]["units"]
    assert abs(t["b"]["peak_ops_per_s"] - t["a"]["peak_ops_per_s"]) <= per_unit / 2 + 1e-6
    assert "engines.count" in t["scaling"]
    with pytest.raises(tokenfab.UsageError, match="hnlpu is a system of its own"):
        compare(a, tokenfab.design("hnlpu"))
    assert main(["compare", "lut-tensor-core", "mac-array", "-B", "weight_bits=1",
                 "--iso", "throughput", "--model", small, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["b"]["params"]["weight_bits"] == 1 and set(out["b_over_a"]) >= {
        "area_mm2", "tokens_per_j", "usd_per_mtoken"}
    assert main(["compare", "lut-tensor-core", "hnlpu"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
