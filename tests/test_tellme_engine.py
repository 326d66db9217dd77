"""The TeLLMe engine (TLMM units + double-buffered buffers + AXI4 DMA + AXI4-Lite
registers) running whole ternary layers against its simulation DRAM: every output word
against the golden model, and the cycles from start to done against the timing model's,
exactly at fixed latency and within 2% under random memory stalls."""
import numpy as np
import pytest

from tokenfab.arch_models.common import engine
from tokenfab.arch_models.tellme_engine import golden, timing
from tokenfab.hw.tellme_engine.params import Params

# a small engine: 2 TLMM units of T4 Q2 (G3), banks of 4 tokens x 8 column blocks x 4 chunks
P = Params(t=4, q=2, units=2, buf_m=4, buf_n=8, buf_k=4, data_bits=64)
SHAPES = [(3, 30, 9),        # ragged on every side: 3 x 3 x 5 unit tiles
          (9, 100, 40),      # larger than the buffers: 9 x 9 x 20 unit tiles
          (4, 48, 16)]       # one buffer tile exactly
MAPPINGS = [dict(mt=1, nt=2, kt=2, order=0), dict(mt=4, nt=8, kt=4, order=1)]
MEMORY = [dict(latency=8, interval=1), dict(latency=20, interval=2)]


def operands(shape, seed):
    from tokenfab.sim.tellme_engine.testbench import random_operands
    return random_operands(P, *shape, np.random.default_rng(seed))


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_layers_bit_exact_and_cycles_exact(shape, build_dir):
    """The four runs of a shape in one simulation, reset between them, the output region
    poisoned before each."""
    from tokenfab.sim import engine_run
    from tokenfab.sim.tellme_engine import testbench as tb
    a, w = operands(shape, sum(shape))
    cases = [dict(acts=a, w=w, mapping=mapping, **mem)
             for mapping in MAPPINGS for mem in MEMORY]
    runs = engine_run.run_layers(tb, P, cases, work_dir=build_dir / "tellme-engine",
                                 tag="-".join(map(str, shape)))
    for case, r in zip(cases, runs):
        mapping, mem = case["mapping"], {k: case[k] for k in ("latency", "interval")}
        assert r["mismatches"] == 0, (shape, mapping, mem)
        model = timing.engine_cycles(P, r["layer"], mapping, **mem)
        assert r["cycles"] == model, (shape, mapping, mem, r["cycles"], model)


def test_compute_is_on_the_critical_path_of_the_large_tile():
    """The exact matches above test the compute contract only where compute outlasts the
    loads: with the large tile at full bandwidth it does."""
    L = engine.layer(P, 9, 100, 40)
    full = timing.engine_cycles(P, L, MAPPINGS[1], latency=8, interval=1)
    no_compute = engine.engine_cycles(P, L, MAPPINGS[1], lambda *s: 0, latency=8,
                                      interval=1)
    assert no_compute < full


@pytest.mark.slow
def test_extreme_operands_and_random_stalls(build_dir):
    """All-(+-127) activations with all-(+-1) weights (the table's largest entries, the
    accumulators' largest sums) bit-exact; the memory spacing every beat by a
    pseudo-random 1 to 2 x interval - 1 cycles, the model within 2%."""
    from tokenfab.sim import engine_run
    from tokenfab.sim.tellme_engine import testbench as tb
    M, K, N = 9, 100, 40
    s = np.where(np.arange(K) % 3, 1, -1)
    a = np.outer(np.where(np.arange(M) % 2, -127, 127), s)
    w = np.outer(s, np.where(np.arange(N) % 2, -1, 1))
    ra, rw = operands((M, K, N), 7)
    stalls = ((MAPPINGS[0], 2), (MAPPINGS[1], 3))
    cases = [dict(acts=a, w=w, mapping=MAPPINGS[1])] + [
        dict(acts=ra, w=rw, mapping=mapping, latency=12, interval=interval,
             random_stalls=True) for mapping, interval in stalls]
    runs = engine_run.run_layers(tb, P, cases, work_dir=build_dir / "tellme-engine",
                                 tag="extreme-random")
    assert runs[0]["mismatches"] == 0 and np.abs(runs[0]["ref"]).min() == 127 * K
    for (mapping, interval), r in zip(stalls, runs[1:]):
        assert r["mismatches"] == 0
        model = timing.engine_cycles(P, r["layer"], mapping, latency=12, interval=interval,
                                     random_stalls=True)
        assert abs(model / r["cycles"] - 1) < 0.02, (mapping, interval, r["cycles"], model)


def test_weights_encode_as_the_tlmm_reads_them_and_padding_reads_zero():
    from tokenfab.arch_models.tellme import golden as unit_golden
    L = engine.layer(P, 3, 30, 9)                          # K padded 30 -> 36, N 9 -> 10
    w = np.random.default_rng(3).integers(-1, 2, (30, 9))
    idx = golden.weight_indices(P, L, w)
    assert idx.shape == (L.kb * P.t, L.nb * P.q)
    back = unit_golden.decode_index(idx, P.g)             # [K / g, N, g]
    assert (back.transpose(0, 2, 1).reshape(-1, L.nb * P.q)[:30, :9] == w).all()
    center = (3 ** P.g - 1) // 2
    assert (idx[10:, :] == center).all() and (idx[:, 9:] == center).all()


def test_mapper_and_cost_of_a_model_layer():
    """A BitNet-2B-sized layer (64 tokens, 2,560 x 2,560) on the default engine: the
    units are busy most cycles, and the DRAM bytes are the ones the tiling implies: K
    innermost, every step loads its operands, so activations come once per column tile
    and weights once per row tile."""
    import tokenfab
    e = tokenfab.engine("tellme-engine")
    p = e.params
    L = engine.layer(p, 64, 2560, 2560)
    mapping = timing.best_mapping(p, L, latency=8, interval=1)
    c = e.cost(64, 2560, 2560)
    assert c.cycles == timing.engine_cycles(p, L, mapping, latency=8, interval=1)
    peak = p.units * p.q * p.t * p.g
    assert 0.5 < c.macs / c.cycles / peak <= 1
    passes_w, passes_a = -(-L.mb // mapping["mt"]), -(-L.nb // mapping["nt"])
    assert c.dram_bytes["read"] == p.word_bytes * (passes_a * L.mb * L.kb * p.a_words
                                                   + passes_w * L.nb * L.kb * p.w_words)
    assert c.dram_bytes["written"] == p.word_bytes * L.mb * L.nb * p.o_words


@pytest.mark.slow
def test_cli_runs_a_layer(capsys, build_dir):
    import json
    from tokenfab.cli import main
    params = [x for k, v in P.to_dict().items() for x in ("-p", f"{k}={v}")]
    assert main(["engine", "tellme-engine", *params, "--shape", "3,30,9", "-o",
                 str(build_dir / "tellme-engine"), "--json"]) == 0      # the tests' build
    out = json.loads(capsys.readouterr().out)
    assert out["passed"] and out["mismatches"] == 0 and out["outputs"] == 27
    assert out["rtl_cycles"] == out["model_cycles"]
    assert main(["engine", "tellme-engine", "-p", "g=9"]) == 2
    assert "g must be an integer from 1 to 5" in capsys.readouterr().err
    assert main(["list"]) == 0
    assert "tellme-engine" in capsys.readouterr().out
