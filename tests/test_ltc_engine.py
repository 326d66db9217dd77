"""The LUT Tensor Core engine (units + double-buffered buffers + AXI4 DMA + AXI4-Lite
registers) running whole GEMM layers against its simulation DRAM: every output word
against the golden model, and the engine's cycles from start to done against the timing
model's, exactly at fixed latency and within 2% under random memory stalls."""
import numpy as np
import pytest

from tokenfab.arch_models.common import engine
from tokenfab.arch_models.ltc_engine import timing
from tokenfab.errors import UsageError
from tokenfab.hw.ltc_engine.params import Params

# a small engine: 2 units of M2 N16 K4 (W2), banks of 4 x 4 x 4 unit tiles
P = Params(n=16, units=2, buf_m=4, buf_n=4, buf_k=4)
SHAPES = [(5, 20, 50),       # ragged on every side, 3 x 5 x 4 unit tiles
          (9, 40, 100),      # larger than the buffers: 5 x 7 x 10 unit tiles
          (2, 16, 32)]       # one buffer tile exactly
MAPPINGS = [dict(mt=2, nt=2, kt=2, order=0), dict(mt=4, nt=4, kt=4, order=1)]
MEMORY = [dict(latency=8, interval=1), dict(latency=20, interval=2)]


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_layers_bit_exact_and_cycles_exact(shape, build_dir):
    """The four runs of a shape in one simulation, reset between them, the output region
    poisoned before each."""
    from tokenfab.sim import engine_run
    from tokenfab.sim.ltc_engine import testbench as tb
    rng = np.random.default_rng(sum(shape))
    M, K, N = shape
    a = rng.integers(-128, 128, (M, K))
    q = rng.integers(0, 4, (N, K))
    cases = [dict(acts=a, w=q, mapping=mapping, **mem)
             for mapping in MAPPINGS for mem in MEMORY]
    runs = engine_run.run_layers(tb, P, cases, work_dir=build_dir / "ltc-engine",
                                 tag=f"{M}-{K}-{N}")
    for case, r in zip(cases, runs):
        mapping, mem = case["mapping"], {k: case[k] for k in ("latency", "interval")}
        assert r["mismatches"] == 0, (shape, mapping, mem)
        model = timing.engine_cycles(P, r["layer"], mapping, **mem)
        assert r["cycles"] == model, (shape, mapping, mem, r["cycles"], model)


@pytest.mark.slow
def test_random_stalls_within_two_percent(build_dir):
    """The memory spaces every beat by a pseudo-random 1 to 2 x interval - 1 cycles; the
    model takes the mean spacing."""
    from tokenfab.sim import engine_run
    from tokenfab.sim.ltc_engine import testbench as tb
    rng = np.random.default_rng(7)
    a = rng.integers(-128, 128, (9, 40))
    q = rng.integers(0, 4, (100, 40))
    stalls = ((MAPPINGS[0], 2), (MAPPINGS[1], 3))
    cases = [dict(acts=a, w=q, mapping=mapping, latency=12, interval=interval,
                  random_stalls=True) for mapping, interval in stalls]
    runs = engine_run.run_layers(tb, P, cases, work_dir=build_dir / "ltc-engine",
                                 tag="random")
    for (mapping, interval), r in zip(stalls, runs):
        assert r["mismatches"] == 0
        model = timing.engine_cycles(P, r["layer"], mapping, latency=12, interval=interval,
                                     random_stalls=True)
        assert abs(model / r["cycles"] - 1) < 0.02, (mapping, interval, r["cycles"], model)


def test_bursts_stop_at_4k_pages_and_burst_length():
    p = Params(data_bits=64, burst_beats=16)
    assert engine.bursts(p, 0, 40) == [16, 16, 8]
    assert engine.bursts(p, 4096 - 3 * 8, 10) == [3, 7]            # 3 words to the page
    assert sum(engine.bursts(p, 4000, 1000)) == 1000


def test_the_layout_pads_to_unit_tiles_and_pages():
    L = engine.layer(P, 5, 20, 50)
    assert (L.mb, L.nb, L.kb) == (3, 4, 5)
    assert L.a_base == 0 and L.w_base % 4096 == 0 and L.o_base % 4096 == 0
    assert L.o_base >= L.w_base + L.nb * L.kb * P.w_words * P.word_bytes


@pytest.mark.parametrize("mapping, fragment", [
    (dict(mt=5, nt=2, kt=2, order=0), "mt must be an integer from 1 to 4"),
    (dict(mt=2, nt=2, kt=0, order=0), "kt must be an integer from 1 to 4"),
    (dict(mt=2, nt=2, kt=2, order=2), "order must be 0"),
])
def test_mappings_past_the_buffers_are_refused(mapping, fragment):
    from tokenfab.sim.engine_run import check_mapping
    with pytest.raises(UsageError, match=fragment):
        check_mapping(P, mapping)


def test_buf_n_holds_whole_unit_groups():
    with pytest.raises(UsageError, match=r"buf_n must be a multiple of units \(3\)"):
        Params(units=3, buf_n=4)


@pytest.mark.slow
def test_cli_runs_a_layer_and_refuses_bad_input(capsys, build_dir):
    import json
    from tokenfab.cli import main
    assert main(["engine", "ltc-engine", "-p", "n=16", "-p", "buf_m=4", "-p", "buf_n=4",
                 "-p", "buf_k=4", "--shape", "3,9,20", "-o", str(build_dir / "ltc-engine"),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["passed"] and out["mismatches"] == 0 and out["outputs"] == 60
    assert out["rtl_cycles"] == out["model_cycles"] and out["sim_cycles_per_s"] > 0
    for argv, fragment in [
            (["engine", "nope"], "unknown engine 'nope'; engines: ltc-engine, tellme-engine"),
            (["engine", "ltc-engine", "--shape", "3,9"], "--shape takes 3 comma-separated"),
            (["engine", "ltc-engine", "--mapping", "9,1,1,0"], "mt must be an integer from "
                                                               "1 to 8"),
            (["engine", "ltc-engine", "--latency", "1"], "latency must be"),
            (["engine", "ltc-engine", "-p", "units=3"], "buf_n must be a multiple of units")]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert fragment in err and err.count("\n") == 1, err
    assert main(["list"]) == 0
    assert "ltc-engine" in capsys.readouterr().out


def test_cost_counts_the_traffic_the_loop_order_implies():
    """Rows outer with every column block in one buffer tile: activations come from DRAM
    once, weights once per pass of row blocks; outputs are written once. The layer's
    energy is the units', the buffers', DRAM's and leakage, and its area the blocks'."""
    import tokenfab
    e = tokenfab.engine("ltc-engine", n=16, buf_m=4, buf_n=4, buf_k=4)
    p = e.params
    L = engine.layer(p, 9, 40, 60)                        # 5 x 4 x 10 unit tiles
    mapping = dict(mt=2, nt=4, kt=4, order=0)
    c = e.cost(9, 40, 60, mapping)
    passes = -(-L.mb // 2)
    a = L.mb * L.kb * p.a_words * p.word_bytes
    w = passes * L.nb * L.kb * p.w_words * p.word_bytes
    assert c.dram_bytes == {"read": a + w, "written": L.mb * L.nb * p.o_words * p.word_bytes}
    assert c.cycles == timing.engine_cycles(p, L, mapping)
    assert c.area_mm2 == pytest.approx(sum(c.blocks_mm2.values()), rel=1e-12)
    assert all(v > 0 for v in c.energy_j.values())
    assert c.macs == L.mb * L.nb * L.kb * p.m * p.n * p.k
