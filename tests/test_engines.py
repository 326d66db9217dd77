"""What both engines share: their Verilog with its manifest and integration files, the
RTL size limit, and the mapper's candidates."""
import json
import subprocess

import pytest

import tokenfab
from tokenfab.arch_models.common import engine
from tokenfab.errors import UsageError

SMALL = {"ltc-engine": dict(n=8, units=1, buf_m=2, buf_n=2, buf_k=4, data_bits=32),
         "tellme-engine": dict(t=4, q=2, buf_m=2, buf_n=2, buf_k=4, data_bits=32)}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_rtl_files_lint_clean_and_the_manifest_names_the_interfaces(name, build_dir):
    from tokenfab.sim.runner import expose_tools
    expose_tools()
    out = build_dir / "engine-rtl" / name
    v = tokenfab.engine(name, **SMALL[name]).rtl(out)
    stem = v.stem
    man = json.loads((out / f"{stem}.manifest.json").read_text())
    assert man["design"] == name and man["params"]["data_bits"] == 32
    assert man["registers"]["ctrl"] == 0 and man["registers"]["o_base"] == 48
    assert {p["name"] for p in man["ports"]} >= {"m_axi__araddr", "m_axi__rdata",
                                                 "s_axil__awaddr", "done"}
    assert "testbench" not in man["files"] and "sim:" not in (out / f"{stem}.core").read_text()
    r = subprocess.run(["verilator", "--lint-only", "-Wall", f"{stem}.v", f"{stem}.vlt"],
                       cwd=out, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


def test_engines_past_the_units_rtl_limit_are_refused_before_elaboration(tmp_path):
    e = tokenfab.engine("tellme-engine", t=64, q=32, units=2)
    for call in (lambda: e.rtl(tmp_path), lambda: e.run_layer(1, 8, 8),
                 lambda: e.fpga("ecp5-85k")):
        with pytest.raises(UsageError, match="past its RTL limit of 4,096"):
            call()
    assert not any(tmp_path.iterdir())
    assert e.cost(16, 4096, 4096).cycles > 0            # the model has no such limit


@pytest.mark.parametrize("bank, blocks, expected", [
    (8, 64, [4, 8]), (8, 12, [4, 6, 8]), (16, 3, [1, 3]), (1, 5, [1])])
def test_mapper_candidates_fill_the_bank_half_of_it_or_split_evenly(bank, blocks, expected):
    assert engine.candidates(bank, blocks) == expected
