"""Platform v2: one import namespace, layering, the result schema, the breakdown, traces,
capacity and physical limits, calibrations."""
import ast
import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import tokenfab
from tokenfab.arch_models.workloads import Attention, load_model
from tokenfab.cli import main
from tokenfab.errors import UsageError
from tokenfab.registry import DESIGNS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


# ---------------------------------------------------------------- one import namespace
@pytest.fixture(scope="module")
def fpga_project(tmp_path_factory):
    """A folder laid out like an ordinary FPGA project, with its own hw/ sim/ rtl/."""
    d = tmp_path_factory.mktemp("fpga_project")
    for pkg in ("hw", "sim", "rtl"):
        (d / pkg).mkdir()
        (d / pkg / "__init__.py").write_text("MINE = True\n")
    return d


def _run(args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=300)


def test_api_works_beside_a_users_hw_and_sim_packages(fpga_project):
    code = ("import tokenfab, hw, sim; assert hw.MINE and sim.MINE; "
            "print(tokenfab.design('mac-array', n=4).verilog('out'))")
    r = _run([sys.executable, "-c", code], fpga_project)
    assert r.returncode == 0, r.stderr
    assert (fpga_project / "out" / "mac_array_n4.v").exists()


def test_python_m_and_console_script_beside_a_users_packages(fpga_project):
    r = _run([sys.executable, "-m", "tokenfab", "--version"], fpga_project)
    assert r.returncode == 0 and r.stdout.strip() == f"tokenfab {tokenfab.__version__}"
    r = _run([str(BIN / "tokenfab"), "list", "--json"], fpga_project)
    assert r.returncode == 0, r.stderr
    assert {d["name"] for d in json.loads(r.stdout)} == set(DESIGNS)
    r = _run([sys.executable, "-m", "tokenfab", "rtl", "mac-array", "-p", "n=4", "-o",
              "cli_out", "--json"], fpga_project)
    assert r.returncode == 0, r.stderr


@pytest.mark.slow
def test_wheel_adds_exactly_one_top_level_name(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                        str(tmp_path), str(ROOT)], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = tmp_path.glob("tokenfab-*.whl")
    names = zipfile.ZipFile(whl).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"tokenfab"}
    for level in ("hw", "sim", "rtl", "fpga", "arch_models", "cost_models"):
        assert f"tokenfab/{level}/__init__.py" in names
    assert "tokenfab/arch_models/workloads/configs/llama-2-7b.json" in names
    assert "tokenfab/cost_models/data/tech.json" in names


# ---------------------------------------------------------------- layering
def _imports(path: Path, pkg: str):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else []))
            elif node.module:
                yield node.module


FACE = ("cli", "api", "registry", "demo", "sweep", "sweeps")


def _broken(level: str):
    bad = []
    for path in (ROOT / level).rglob("*.py"):
        pkg = ".".join(path.parent.relative_to(ROOT).parts)
        for mod in _imports(path, pkg):
            parts = mod.split(".")
            if parts[0] == "tokenfab" and len(parts) > 1:
                parts = parts[1:]
            elif parts[0] in ("hw", "sim", "rtl", "fpga", "arch_models", "cost_models"):
                bad.append(f"{path.relative_to(ROOT)}: bare import {mod}")
                continue
            else:
                continue
            top = parts[0]
            if top in FACE:
                bad.append(f"{path.relative_to(ROOT)} -> {mod}")
            elif level == "hw" and top in ("arch_models", "cost_models", "sim"):
                bad.append(f"{path.relative_to(ROOT)} -> {mod}")
            elif level == "arch_models" and (top == "cost_models" or (
                    top == "hw" and parts[-1] != "params")):
                bad.append(f"{path.relative_to(ROOT)} -> {mod}")
    return bad


@pytest.mark.parametrize("level", ["hw", "arch_models", "cost_models", "sim", "rtl", "fpga"])
def test_levels_import_only_downward(level):
    assert _broken(level) == []


def test_the_layering_check_catches_a_violation(tmp_path, monkeypatch):
    """The check itself can fail: a cost import planted in an arch_models module."""
    fake = tmp_path / "arch_models" / "x"
    fake.mkdir(parents=True)
    (fake / "timing.py").write_text("from tokenfab.cost_models import tech\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _broken("arch_models") == ["arch_models/x/timing.py -> tokenfab.cost_models"]


# ---------------------------------------------------------------- one result schema
SCHEMA = {"design", "params", "model", "system", "batch", "prompt", "gen", "ttft_s",
          "prefill_tokens_per_s", "decode_tokens_per_s", "decode_latency_s",
          "prefill_energy_j", "decode_energy_j", "energy_j", "tokens_per_j",
          "prefill_tokens_per_j", "energy_by_category_j", "chip_power_w", "system_power_w",
          "peak_ops_per_s", "memory_bytes_per_s", "memory_capacity_bytes", "area_mm2",
          "fpga_resources", "utilization", "bound", "assumptions", "calibrations", "extra"}

RUNS = {
    "lut-tensor-core": dict(model="llama-2-7b", batch=2, prompt=64, gen=5),
    "mac-array": dict(model="llama-2-7b", batch=1, prompt=32, gen=3),
    "systolic-array": dict(model="llama-2-7b", batch=3, prompt=40, gen=3),
    "hnlpu": dict(model="gpt-oss-120b", batch=16, prompt=128, gen=4),
    "tellme": dict(model="bitnet-b1.58-large", batch=1, prompt=32, gen=8),
    "sail": dict(model="llama-2-7b", batch=3, prompt=32, gen=4),
}


@pytest.fixture(scope="module", params=sorted(RUNS))
def result(request):
    return request.param, tokenfab.design(request.param).simulate(trace=True,
                                                                  **RUNS[request.param])


def test_every_design_returns_the_same_keys(result):
    name, r = result
    d = r.to_dict()
    assert SCHEMA <= set(d)
    assert set(d["energy_by_category_j"]) >= {"dram", "compute", "sram", "interconnect",
                                             "static"}
    assert set(d["bound"]) == {"prefill", "decode"}
    assert set(d["bound"].values()) <= {"compute", "memory", "interconnect", "vector", "host"}
    assert (d["area_mm2"] is None) != (d["fpga_resources"] is None)
    assert d["assumptions"] and all(isinstance(a, str) for a in d["assumptions"])
    for c in d["calibrations"]:
        assert set(c) == {"name", "value", "fitted_to"} and c["fitted_to"]
    json.dumps(d, allow_nan=False)                    # strict JSON
    assert d["system_power_w"] >= d["chip_power_w"] * d["chips"] * (1 - 1e-9)


def test_breakdown_sums_equal_the_totals(result):
    name, r = result
    d, b = r.to_dict(), r.breakdown
    assert set(b.columns) >= {"phase", "layer", "op", "engine", "macs", "compute_s",
                              "dram_bytes", "time_s", "dram_j", "compute_j", "sram_j",
                              "interconnect_j", "static_j", "bound"}
    pre, dec = b[b.phase == "prefill"], b[b.phase == "decode"]
    assert math.isclose(pre.time_s.sum(), d["ttft_s"], rel_tol=1e-9)
    assert math.isclose(dec.time_s.sum(), d["decode_latency_s"] * d["gen"], rel_tol=1e-9)
    assert math.isclose(pre.energy_j.sum(), d["prefill_energy_j"], rel_tol=1e-9)
    assert math.isclose(dec.energy_j.sum(), d["decode_energy_j"], rel_tol=1e-9)
    for cat, total in d["energy_by_category_j"].items():
        assert math.isclose(b[f"{cat}_j"].sum(), total, rel_tol=1e-9, abs_tol=1e-15)
    # every category a reader needs sees energy where the design spends it
    assert d["energy_by_category_j"]["dram"] > 0 and d["energy_by_category_j"]["compute"] > 0


def test_tile_breakdown_has_one_row_per_layer_and_operation(result):
    name, r = result
    if name not in ("lut-tensor-core", "mac-array", "systolic-array"):
        pytest.skip("tile designs list every layer")
    b = r.breakdown
    cfg = load_model("llama-2-7b")
    per_phase = b.groupby("phase").size()
    assert per_phase["prefill"] == per_phase["decode"]
    assert set(b.layer) == set(range(cfg.layers + 1))
    assert (b[b.op == "down"].macs > 0).all()


def test_trace_opens_as_chrome_trace(result, tmp_path):
    name, r = result
    path = r.write_trace(tmp_path / "t.json")
    events = json.loads(path.read_text())["traceEvents"]
    spans = [e for e in events if e["ph"] == "X"]
    assert spans and all(e["dur"] >= 0 and e["ts"] >= 0 for e in spans)
    procs = {e["args"]["name"] for e in events if e["name"] == "process_name"}
    assert procs == {"prefill", "decode"}
    assert all(e["args"]["op"] == e["name"] for e in spans)
    if name in ("lut-tensor-core", "mac-array", "systolic-array"):
        # 32 layers' q slices tell themselves apart, with the op's bound and energy
        q = [e["args"] for e in spans if e["name"] == "q"]
        assert len({a["layer"] for a in q}) > 1 and all("bound" in a and "op_energy_j" in a
                                                        for a in q)
        dram = [e for e in events if e["ph"] == "C" and e["name"] == "DRAM bandwidth"]
        assert dram and max(e["args"]["GB/s"] for e in dram) > 0
        # the prefill's DMA slices move the prefill rows' DRAM bytes
        prefill = next(e["pid"] for e in events if e["name"] == "process_name"
                       and e["args"]["name"] == "prefill")
        moved = sum(e["args"].get("bytes", 0) for e in spans if e["pid"] == prefill)
        assert moved == pytest.approx(sum(row.dram_bytes for row in r.run.prefill.rows),
                                      rel=1e-9)


def test_result_frames():
    r = tokenfab.design("mac-array").simulate(prompt=16, gen=2)
    f = r.to_frame()
    assert len(f) == 1 and f["decode_tokens_per_s"][0] == r.decode_tokens_per_s
    assert "energy_by_category_j.dram" in f.columns


def test_cli_breakdown_csv_parquet_trace(capsys, tmp_path):
    import pandas as pd
    csv, pq, tr = tmp_path / "ops.csv", tmp_path / "ops.parquet", tmp_path / "trace.json"
    code = main(["simulate", "mac-array", "--prompt", "16", "--gen", "2", "--breakdown",
                 "--csv", str(csv), "--parquet", str(pq), "--trace", str(tr), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["files"] == {"csv": str(csv), "parquet": str(pq),
                                          "trace": str(tr)}
    a, b = pd.read_csv(csv), pd.read_parquet(pq)
    assert len(a) == len(b) == len(out["breakdown"])
    assert math.isclose(a.energy_j.sum(), out["energy_j"], rel_tol=1e-9)
    assert json.loads(tr.read_text())["traceEvents"]


def test_cost_and_simulate_share_names():
    sim = tokenfab.design("mac-array").simulate(prompt=512, gen=128).to_dict()
    cost = tokenfab.design("mac-array").cost().to_dict()
    assert "power_w" not in sim and "power_w" not in cost
    for key in ("chip_power_w", "system_power_w", "tokens_per_j", "decode_tokens_per_s"):
        assert math.isclose(cost[key], sim[key], rel_tol=1e-9), key


# ---------------------------------------------------------------- capacity and limits
@pytest.mark.parametrize("design, kw, fragment", [
    ("tellme", dict(model="llama-2-70b", prompt=64, gen=4),
     "but the kv260 system has 4.29 GB of DDR"),
    ("lut-tensor-core", dict(batch=512, prompt=8192), "exceeds llama-2-7b's "
     "max_position_embeddings 4096"),
    ("lut-tensor-core", dict(batch=512, prompt=8192, extend_context=True),
     "KV cache 1.12 TB for batch 512 x 8320 tokens"),
    ("hnlpu", dict(model="gpt-oss-120b", batch=216, prompt=524_288, gen=2,
                   extend_context=True), "needs 522 GB per chip"),
    ("hnlpu", dict(model="gpt-oss-120b", batch=216, prompt=524_288, gen=2),
     "max_position_embeddings 131072"),
    ("mac-array", dict(model="llama-2-70b", prompt=64, gen=2), "pass allow_spill=True"),
    ("tellme", dict(model="bitnet-b1.58-large", prompt=64, gen=2, allow_spill=True),
     "its DDR4 is its only memory"),
])
def test_what_does_not_fit_is_refused(design, kw, fragment):
    with pytest.raises(UsageError) as exc:
        tokenfab.design(design).simulate(**kw)
    assert fragment in str(exc.value)


def test_refusals_are_one_line_exit_2(capsys):
    code = main(["simulate", "tellme", "--model", "llama-2-70b"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_spill_is_modelled_as_host_traffic_never_ignored():
    d = tokenfab.design("mac-array")
    r = d.simulate(model="llama-2-70b", prompt=64, gen=2, allow_spill=True)
    out = r.to_dict()
    assert any("stream from the host" in a for a in out["assumptions"])
    assert out["utilization"]["decode"]["host_link"] > 0.2
    # the spilled bytes cross the host link each pass: slower than all-in-DRAM bandwidth
    weights = load_model("llama-2-70b").linear_params() * d.params.weight_bits / 8
    assert out["decode_latency_s"] > weights / out["memory_bytes_per_s"]
    assert out["energy_by_category_j"]["interconnect"] > 0


def test_extended_context_is_recorded():
    r = tokenfab.design("mac-array").simulate(prompt=4096, gen=8, extend_context=True)
    assert any("extended past the model's limit" in a for a in r.assumptions)


def test_sliding_window_caps_the_kv_cache():
    cfg = load_model("gpt-oss-120b")
    assert sum(cfg.sliding_layers) == 18 and cfg.window(0) == 128 and cfg.window(1) == 0
    full = cfg.layers * 10_000 * cfg.kv_elems_per_token
    assert cfg.kv_cache_elems(1, 10_000) == full // 2 + 18 * 128 * cfg.kv_elems_per_token


@pytest.mark.parametrize("q_len, kv_len, window", [(8, 8, 3), (5, 12, 4), (7, 7, 100),
                                                   (1, 50, 16), (6, 20, 6)])
def test_windowed_attention_scores_match_a_count(q_len, kv_len, window):
    a = Attention("a", 0, 1, 1, 1, q_len, kv_len, 1, 1, 2, window=window)
    start = kv_len - q_len
    count = sum(min(start + i + 1, window) for i in range(q_len)) if q_len > 1 else \
        q_len * min(kv_len, window)
    assert a.scores == count


def test_reticle_and_link_budget():
    from tokenfab.arch_models.hnlpu import system as hs
    from tokenfab.cost_models import die
    with pytest.raises(UsageError, match="reticle limit of 858 mm2"):
        die.die_cost(900, "5nm")
    assert die.die_cost(850, "5nm").gross_dies > 0
    cfg = load_model("gpt-oss-120b")
    with pytest.raises(UsageError, match="9 CXL x16 links per chip"):
        hs.check_links(cfg, hs.HnlpuSystem(rows=4, cols=7))


# ---------------------------------------------------------------- calibrations
def test_every_calibration_is_listed_once(capsys):
    assert main(["list", "--calibrations", "--json"]) == 0
    cals = json.loads(capsys.readouterr().out)
    names = [c["name"] for c in cals]
    assert len(names) == len(set(names))
    assert set(names) >= {"a100_efficiency", "hnlpu_link_efficiency",
                          "hnlpu_weights_per_chip", "hnlpu_logic_static_w_per_m2",
                          "hnlpu_cxl_energy_per_bit", "tellme_lm_head_bytes_per_s", "tellme_q", "tellme_static_w",
                          "tellme_clock_hz", "sail_tmac_macs_per_cycle_w4", "gate_activity"}
    assert all(c["fitted_to"] and c["drives"] for c in cals)


def test_results_name_the_calibrations_they_used(result):
    name, r = result
    used = {c["name"] for c in r.to_dict()["calibrations"]}
    gates = {"gate_activity"}          # every unit priced from its component counts
    expected = {"lut-tensor-core": gates, "mac-array": gates, "systolic-array": gates,
                "hnlpu": {"hnlpu_link_efficiency", "hnlpu_weights_per_chip",
                          "hnlpu_logic_static_w_per_m2", "hnlpu_cxl_energy_per_bit"} | gates,
                "tellme": {"tellme_lm_head_bytes_per_s", "tellme_q", "tellme_static_w",
                           "tellme_clock_hz"} | gates,
                "sail": {"sail_tmac_macs_per_cycle_w4"} | gates}
    assert used == expected[name]


def test_weights_per_chip_is_gpt_oss_over_sixteen():
    from tokenfab.arch_models.hnlpu.system import WEIGHTS_PER_CHIP
    assert WEIGHTS_PER_CHIP == load_model("gpt-oss-120b").linear_params() / 16


def test_the_demo_note_names_every_reduced_rtl():
    """The demo verifies some designs at reduced sizes: its note names each one (it once
    assumed every reduced design had rows and cols)."""
    from tokenfab.demo import DEMO_RTL_PARAMS, demo_note
    note = demo_note("lut-tensor-core runs 41 units")
    for name, params in DEMO_RTL_PARAMS.items():
        assert name in note
        for key, value in params.items():
            assert f"{key}={value}" in note
