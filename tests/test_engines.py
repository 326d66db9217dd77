"""What both engines share: their Verilog with its manifest and integration files, the
RTL size limit, and the mapper's candidates."""
import json
import subprocess

import pytest

import tokenfab
from tokenfab.arch_models import systems
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


def test_a_sweep_runs_engine_points_at_their_levels(tmp_path):
    """Engines are designs of a sweep: a layer at two DRAM intervals through the RTL and
    the model's cost, and an axis at the cost level alone; a design-only level or a bad
    layer is refused."""
    tiny = dict(g=2, t=2, q=1, buf_m=1, buf_n=2, buf_k=2, data_bits=32)   # a quick build
    spec = {"sweep": {"levels": ["cost", "verify"]},
            "design": [{"name": "tellme-engine", "params": tiny}],
            "workload": [{"layer": "3,30,9", "interval": [1, 2]}]}
    df = tokenfab.sweep(spec, out=tmp_path / "s", workers=1)
    assert len(df) == 2 and (df["status"] == "ok").all(), df["message"].tolist()
    assert df["verify.passed"].all() and (df["verify.mismatches"] == 0).all()
    assert (df["verify.rtl_cycles"] == df["verify.model_cycles"]).all()
    cycles = df.set_index("interval")["verify.rtl_cycles"]
    assert cycles[2] > cycles[1]
    spec = {"sweep": {"levels": ["cost"]},
            "design": [{"name": "tellme-engine", "axes": {"q": [2, 4, 8]}}],
            "workload": [{"layer": "16,1008,512"}]}
    df = tokenfab.sweep(spec, out=tmp_path / "q", workers=1).set_index("p.q")
    assert (df["status"] == "ok").all()
    assert df["cost.cycles"][2] > df["cost.cycles"][4] > df["cost.cycles"][8]
    bad = {"sweep": {"levels": ["simulate"]}, "design": [{"name": "ltc-engine"}],
           "workload": [{"layer": "3,30,9"}]}
    df = tokenfab.sweep(bad, out=tmp_path / "b", workers=1)
    assert df["status"].tolist() == ["refused"]
    assert "its levels are verify, cost, fpga, not simulate" in df["message"][0]
    with pytest.raises(UsageError, match=r"workload\[0\].layer: must be 'M,K,N'"):
        tokenfab.sweep({"design": [{"name": "ltc-engine"}],
                        "workload": [{"layer": "3,30"}]}, out=tmp_path / "c")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_engines_hold_against_cocotbext_axis_ram(name, build_dir):
    """cocotbext-axi's AxiRam, an AXI4 subordinate written apart from ours, at full speed
    and with every channel paused in about a quarter of the cycles: three layers (ragged,
    larger than the buffers, one buffer tile) x two mappings x the two bandwidths, every
    output word equal (one simulation); the pauses slow every layer down."""
    import importlib
    import numpy as np
    e = tokenfab.engine(name, **SMALL[name])
    p = e.params
    from tokenfab.sim import engine_run
    tb = importlib.import_module(f"tokenfab.sim.{e.entry.package}.testbench")
    rng = np.random.default_rng(5)
    one_tile = (p.buf_m * p.tile_m, p.buf_k * p.tile_k, p.buf_n * p.tile_n)
    cases = []
    for shape in ((3, 30, 9), (5, 60, 20), one_tile):
        acts, w = tb.random_operands(p, *shape, rng)
        cases += [dict(acts=acts, w=w, mapping=mapping, pause_share=share)
                  for mapping in (dict(mt=1, nt=1, kt=2, order=0),
                                  dict(mt=2, nt=2, kt=4, order=1))
                  for share in (0.0, 0.25)]
    runs = engine_run.run_layers(tb, p, cases, work_dir=build_dir / "engine-axiram",
                                 tag=name, dram="axiram", pause_seed=3)
    assert [r["mismatches"] for r in runs] == [0] * 12
    assert all(r["out"].shape == r["ref"].shape for r in runs)
    assert all(paused["cycles"] > full["cycles"] for full, paused in zip(runs[::2], runs[1::2]))


def test_the_quick_sweep_takes_an_engine_and_its_layer(tmp_path, capsys):
    from tokenfab.cli import main
    assert main(["sweep", "tellme-engine", "-p", "q=2,4", "--layer", "16,1008,512",
                 "--levels", "cost", "--out", str(tmp_path / "s"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["points"], out["ok"]) == (2, 2)
    assert main(["sweep", "nope", "-p", "q=2"]) == 2
    assert "or an engine: ltc-engine, tellme-engine" in capsys.readouterr().err


def _small_system(tmp_path, **memory):
    """A YAML system with three small levels, one per operand, and a 32-bit memory."""
    import yaml
    raw = yaml.safe_load((systems.HERE / "asic.yaml").read_text())
    raw["name"] = "small"
    raw["memory"].update({"bus_bits": 32, **memory})
    raw["levels"] = [
        {"name": "abuf", "kind": "sram", "capacity": "768B", "holds": ["activations"]},
        {"name": "wbuf", "kind": "sram", "capacity": "2KiB", "holds": ["weights"]},
        {"name": "obuf", "kind": "sram", "capacity": "1KiB", "holds": ["outputs"]}]
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_an_engine_sized_from_a_system_fits_its_levels_and_fills_them(tmp_path):
    """Buffers from the level holding each operand (two banks each), the AXI port from the
    memory's bus, latency and interval from its memory; no bank could take another K
    chunk, and the user's parameters win."""
    path = _small_system(tmp_path, latency="30ns", bandwidth="2GB/s")
    e = tokenfab.engine("tellme-engine", system=str(path), t=4, q=2)
    p, z = e.params, e.sizing
    assert p.data_bits == 32 and (z.latency, z.interval) == (30, 2)   # 4 B at 2 B/cycle
    row = {"activations": p.a_words * 4, "weights": p.w_words * 4, "outputs": p.o_words * 4}
    used = {"activations": 2 * p.buf_m * p.buf_k * row["activations"],
            "weights": 2 * p.buf_n * p.buf_k * row["weights"],
            "outputs": 2 * p.buf_m * p.buf_n * row["outputs"]}
    assert used == z.used
    rooms = {"activations": 768, "weights": 2048, "outputs": 1024}
    assert all(used[op] <= rooms[op] for op in rooms)
    assert (2 * p.buf_m * (p.buf_k + 1) * row["activations"] > rooms["activations"]
            or 2 * p.buf_n * (p.buf_k + 1) * row["weights"] > rooms["weights"])
    mine = tokenfab.engine("tellme-engine", system=str(path), t=4, q=2, buf_m=1,
                           data_bits=64)
    assert mine.params.buf_m == 1 and mine.params.data_bits == 64
    assert mine.memory_timing() == (30, 4)                # 8 B at 2 B/cycle
    assert mine.memory_timing(latency=9) == (9, 4)


def test_a_system_that_cannot_hold_the_engine_is_refused(tmp_path, capsys):
    from tokenfab.cli import main
    path = _small_system(tmp_path)
    with pytest.raises(UsageError, match=r"smallest buffers do not fit.*abuf gives 16"):
        tokenfab.engine("tellme-engine", system=str(path), t=4, q=2,
                        overrides=["levels.abuf.capacity=16B"])
    with pytest.raises(UsageError, match="narrower than every AXI port"):
        tokenfab.engine("ltc-engine", system=str(path), overrides=["memory.bus_bits=16"])
    with pytest.raises(UsageError, match="no on-chip level holds activations"):
        tokenfab.engine("ltc-engine", system="hnlpu")
    assert main(["engine", "ltc-engine", "--system", "a100", "--cost"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "engines.count" in err and "432" in err


@pytest.mark.slow
def test_an_engine_sized_from_a_system_runs_bit_exact_at_the_models_cycles(tmp_path,
                                                                            build_dir):
    path = _small_system(tmp_path, latency="12ns", bandwidth="2GB/s")
    e = tokenfab.engine("tellme-engine", system=str(path), t=4, q=2)
    r = e.run_layer(3, 30, 9, work_dir=build_dir / "engine-system")
    assert (r.latency, r.interval) == (12, 2)
    assert r.mismatches == 0 and r.rtl_cycles == r.model_cycles, r.to_dict()
