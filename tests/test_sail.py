"""SAIL: the block's golden model against plain arithmetic, its cycle model, its limits,
and the CPU system against the published figures it can be checked with."""
import json

import numpy as np
import pytest

import tokenfab
from tokenfab.arch_models.sail import golden, system, timing
from tokenfab.errors import UsageError
from tokenfab.hw.sail.params import Params
from tokenfab.sim.sail.testbench import TESTBENCH, fp16

PARAM_SETS = [dict(), dict(nbw=4, weight_bits=2, act_bits=6, acc_bits=16, arrays=2),
              dict(nbw=2, weight_bits=3, act_bits=4, prt_entries=0, arrays=1),
              dict(weight_bits=8, act_bits=12, slots=3, prt_entries=1, arrays=1)]


@pytest.mark.parametrize("kw", PARAM_SETS, ids=str)
def test_table_lookup_gemv_equals_plain_arithmetic(kw):
    """The block's instruction-level model (tables, bit-planes, reuse table, conversion)
    gives every word of ``q @ w`` dequantised, for edge and random operands."""
    p = Params(**kw)
    rng = np.random.default_rng(3)
    lo, hi = -(1 << (p.weight_bits - 1)), (1 << (p.weight_bits - 1)) - 1
    for dequant in (1, 0):
        for x in (fp16(rng.standard_normal((p.slots, 32)) * 50),
                  fp16(np.tile([65504.0, -65504.0], (p.slots, 16))),
                  np.zeros((1, 32), np.int64)):
            n = min(p.outputs, 40)
            w = rng.integers(lo, hi + 1, (32, n))
            w[:, 0] = lo                                     # worst-case column
            s = fp16(rng.uniform(0.01, 2, n))
            beats, d = golden.gemv_program(p, x, w, s, dequant=dequant)
            got = golden.results(p, golden.expected(p, beats), d)
            want = golden.reference(p, x, w, s, dequant=dequant)
            if dequant:
                assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
            else:
                assert np.array_equal(got, want)


def test_quantised_gemv_tracks_the_real_product():
    p = Params()
    rng = np.random.default_rng(5)
    x = fp16(rng.standard_normal((4, 64)))
    w = rng.integers(-8, 8, (64, 30))
    s = fp16(np.full(30, 0.05))
    y = golden.reference(p, x, w, s)
    real = x.astype(np.uint16).view(np.float16).astype(np.float64) @ (w * 0.05)
    assert np.abs(y - real).max() < 0.05 * np.abs(real).max()


def test_tables_hold_every_subset_sum():
    p = Params(nbw=4)
    w = np.random.default_rng(1).integers(-8, 8, (4, 6))
    t = golden.build_table(p, w)
    for pat in range(16):
        assert np.array_equal(t[pat], sum((w[j] for j in range(4) if pat >> j & 1),
                                          np.zeros(6, np.int64)))


def test_reuse_table_reads_each_distinct_pattern_once_when_it_is_large_enough():
    rng = np.random.default_rng(2)
    q = rng.integers(-3, 4, (6, 16))
    p = Params(nbw=8, act_bits=4, prt_entries=64)
    kinds = golden.lookup_kinds(p, q)
    for g in range(2):
        pats = golden.patterns(p, q[:, 8 * g:8 * g + 8]).ravel()
        assert (kinds[g] == 2).sum() == len(set(pats.tolist()) - {0})
        assert (kinds[g] == 0).sum() == (pats == 0).sum()
    assert (golden.lookup_kinds(p.replace(prt_entries=0), q) == 2).all()


def test_cycle_model_counts_every_state():
    """The expected-cycles formula with the measured miss fraction equals the exact count
    of a GEMV (both add the same fixed states)."""
    p = Params(arrays=2, slots=4)
    rng = np.random.default_rng(9)
    x = fp16(rng.standard_normal((3, 48)))
    beats, d = golden.gemv_program(p, x, rng.integers(-8, 8, (48, 20)), fp16(np.ones(20)))
    stats = golden.run(p, beats)[1][0]
    miss = (stats.lookups == 2).mean()
    assert timing.gemv_cycles(p, stats) == pytest.approx(
        timing.gemv_model_cycles(p, 3, 3, 20, miss))
    # writes and reads one cycle each, the GEMV its count, the last line one cycle after
    # the last read
    writes = sum(b["op"] == "write" for b in beats)
    reads = sum(b["op"] == "read" for b in beats)
    assert reads == 3 * 3                                  # 3 tokens x ceil(20 / 8) lines
    assert timing.beats_cycles(p, beats) == writes + timing.gemv_cycles(p, stats) + reads


def test_gemv_cycles_counted_by_hand():
    """One token of 16 zero activations, one output, no reuse table, nbw 2, one array:
    accept 1 + conversion 2 x (1 line + 1) + 8 groups x (load 2 x 1 + 1, build 4, fetch
    1) + 8 groups x 8 bits x 2 (every lookup reads the array) + dequant 1 line + 1."""
    p = Params(nbw=2, arrays=1, slots=1, prt_entries=0, lines=64)
    beats, _ = golden.gemv_program(p, np.zeros((1, 16), np.int64), np.ones((16, 1), np.int64),
                                   fp16(np.ones(1)))
    stats = golden.run(p, beats)[1][0]
    assert timing.gemv_cycles(p, stats) == 1 + 4 + 8 * (3 + 4 + 1) + 8 * 8 * 2 + 2 == 199


@pytest.mark.parametrize("kw, fragment", [
    (dict(nbw=3), "nbw must be one of"), (dict(lines=100), "power of two"),
    (dict(weight_bits=8, nbw=8), None)])
def test_params_at_the_boundary(kw, fragment):
    if fragment is None:
        Params(**kw)
        return
    with pytest.raises(UsageError, match=fragment):
        Params(**kw)


@pytest.mark.parametrize("change, fragment", [
    (dict(b=9), "1..8 tokens"), (dict(n=500), "outputs on this block"),
    (dict(y=0), "overlap"), (dict(x=1022), "outside the block")])
def test_descriptors_are_checked(change, fragment):
    import dataclasses
    p = Params()
    d = golden.Descriptor(x=0, q=100, w=200, s=600, y=610, n=30, k_lines=2, b=2)
    d.check(p)
    with pytest.raises(UsageError, match=fragment):
        dataclasses.replace(d, **change).check(p)


def test_testbench_programs_cover_the_edges():
    p = Params(arrays=1, slots=2, prt_entries=4, lines=128)
    cases = TESTBENCH.cases(p, 100, np.random.default_rng(1))
    names = [c for c, _ in cases]
    assert {"fp16_extremes_full_width", "sign_aligned_worst_case_raw",
            "repeated_tokens_hit_the_table", "all_zero_activations"} <= set(names)
    beats = [b for _, bs in cases for b in bs]
    stats = golden.run(p, beats)[1]
    kinds = np.concatenate([s.lookups.ravel() for s in stats])
    assert set(np.unique(kinds)) == {0, 1, 2}             # zero, hit and read all occur


# ---------------------------------------------------------------- the system
def _decode(model="llama-2-7b", batch=1, **kw):
    return tokenfab.design("sail", **kw).simulate(model=model, batch=batch, prompt=128,
                                                  gen=32).to_dict()


def test_baseline_sits_under_its_memory_roofline_and_matches_tmac():
    """Batch-1 Llama-2-7B W4 on the N1 baseline: under the DRAM roofline at peak
    bandwidth, and within the range of T-MAC's Arm figures scaled to 64 cores."""
    r = _decode()["baseline"]
    cfg = tokenfab.arch_models.workloads.load_model("llama-2-7b")
    roofline = 204.8e9 / (cfg.linear_params() * 0.5)
    assert r["decode_tokens_per_s"] < roofline
    assert r["bound"]["decode"] == "memory"
    assert 30 < r["decode_tokens_per_s"] < 64 * 2.42 * 2.5 / 2.4


@pytest.mark.prediction
def test_tmac_rate_predicts_the_two_bit_figure():
    """Calibrated on T-MAC's one-core W4 2.42 tokens/s (Raspberry Pi 5, 2.4 GHz); the
    model's bit-serial scaling predicts the W2 figure, 4.40 tokens/s, within 15%."""
    import dataclasses
    from tokenfab.arch_models.workloads import Linear, decode_ops, load_model
    one_core = dataclasses.replace(system.GRAVITON2, cores=1, core_hz=2.4e9, sail=False)
    ops = [o for o in decode_ops(load_model("llama-2-7b"), 1, 1) if isinstance(o, Linear)]

    def tokens_per_s(bits):
        return 1 / sum(system.tmac_seconds(Params(weight_bits=bits), one_core, o)
                       for o in ops)

    assert tokens_per_s(4) == pytest.approx(2.42, rel=1e-3)      # the calibration
    assert tokens_per_s(2) == pytest.approx(4.40, rel=0.15)      # the prediction


def test_result_carries_the_baseline_and_the_paper_ratios(capsys):
    from tokenfab.cli import main
    main(["simulate", "sail", "--model", "llama-2-7b", "-p", "weight_bits=2", "--batch",
          "4", "--prompt", "64", "--gen", "8", "--json"])
    d = json.loads(capsys.readouterr().out)
    base = d["baseline"]
    for key in ("decode_tokens_per_s", "tokens_per_j", "energy_by_category_j", "bound"):
        assert key in base
    assert d["speedup"] == pytest.approx(d["decode_tokens_per_s"]
                                         / base["decode_tokens_per_s"])
    assert d["tokens_per_usd_ratio"] == pytest.approx(
        d["speedup"] / (1 + d["area_overhead"]))
    assert d["cost_efficiency_vs_v100"] > 0


def test_lut_construction_amortises_over_the_batch():
    """Tokens per dollar rise with the batch while token slots last, and a block with
    more slots keeps them rising (sail_mixpe.md A.6 trend)."""
    r = [_decode(batch=b)["tokens_per_usd_ratio"] for b in (1, 8)]
    assert r[0] < r[1]
    wide = [_decode(batch=b, slots=64)["tokens_per_usd_ratio"] for b in (8, 64)]
    assert wide[0] < wide[1]


def test_memory_that_does_not_fit_is_refused():
    with pytest.raises(UsageError, match="has 137 GB of DRAM"):
        tokenfab.design("sail").simulate(model="llama-2-13b", batch=64, prompt=4000, gen=96)


def test_reuse_table_cuts_lookup_cycles():
    """The reuse table's share of cycles saved, on the stated activation distribution,
    is a prediction (paper: 13.8% of compute cycles)."""
    p = Params()
    on = timing.gemv_model_cycles(p, 256, 8, 288, system.lookup_mix(8, 8, 32, 8)[2])
    off = timing.gemv_model_cycles(p, 256, 8, 288, system.lookup_mix(8, 8, 0, 8)[2])
    assert 0.03 < 1 - on / off < 0.3


def test_area_overhead_is_a_few_percent_of_the_die():
    from tokenfab.cost_models import sail as cost
    ovh = cost.overhead(Params(), 64)
    assert 0.005 < ovh < 0.05
    # more token slots cost SRAM rows only; more arrays every column's logic too
    slots = cost.overhead(Params(slots=64), 64) - ovh
    arrays = cost.overhead(Params(arrays=16), 64) - ovh
    assert 0 < slots < arrays


def test_the_llc_holds_weights_in_bytes():
    """Weights stream into the 64 x 1 MiB of LLC slices piece by piece, as far as its
    free bytes allow: Llama-2-13B W4's gate and up layers (2 x 35.4 MB) never sit in it
    together, a 70B layer larger than the whole LLC streams through it, and a small LLC
    that cannot run ahead of the GEMVs costs time. At Graviton2's 1 MiB a slice, decode
    is DRAM-bound and the size does not move it."""
    import dataclasses
    from tokenfab.arch_models.workloads import Linear, decode_ops, load_model
    cfg = load_model("llama-2-13b")
    p = Params(weight_bits=4)
    gate = next(o for o in decode_ops(cfg, 8, 200) if isinstance(o, Linear)
                and o.name == "gate")
    assert 2 * system.weight_bytes(p, gate) > system.GRAVITON2.llc_bytes
    assert system.weight_bytes(p, gate) / system.weight_pieces(
        system.GRAVITON2, system.weight_bytes(p, gate)) <= system.GRAVITON2.llc_bytes / 4

    def step(mib, model="llama-2-13b"):
        c = load_model(model)
        sys_ = dataclasses.replace(system.GRAVITON2, llc_slice_bytes=mib * 2**20)
        return system.run_phase(p, c, sys_, decode_ops(c, 8, 200), "decode", 8).seconds

    assert step(0.25) > 1.05 * step(1)
    assert step(1) == pytest.approx(step(16), rel=1e-9, abs=0)
    big = load_model("llama-2-70b")
    down = next(o for o in decode_ops(big, 1, 1) if isinstance(o, Linear) and o.name == "down")
    assert system.weight_bytes(p, down) > system.GRAVITON2.llc_bytes
    # every layer, too large or not, still streams through: the step takes at least its
    # weights over the sustained DRAM bandwidth
    streamed = sum(system.weight_bytes(p, o) for o in decode_ops(big, 8, 200)
                   if isinstance(o, Linear))
    assert step(1, "llama-2-70b") >= streamed / system.GRAVITON2.dram_sustained


def test_the_graviton2_file_is_the_cpu_the_model_reads():
    """The graviton2 system file gives the CPU the model's constants describe, and its
    fields take --set: decode streams every weight from DRAM each step, so half the
    DRAM bandwidth takes it from 0.75 x 204.8 to 0.75 x 102.4 GB/s."""
    from tokenfab.arch_models.sail import timing as st
    p = tokenfab.design("sail").params
    assert st.system(p) == system.GRAVITON2
    d = tokenfab.design("sail")
    base = d.simulate(model="llama-2-13b", batch=1, prompt=16, gen=2).to_dict()
    slow = d.simulate(model="llama-2-13b", batch=1, prompt=16, gen=2,
                      overrides={"memory.bandwidth": "102.4GB/s"}).to_dict()
    assert 1.6 < base["decode_tokens_per_s"] / slow["decode_tokens_per_s"] <= 2.0
    with pytest.raises(UsageError, match="one LLC slice per core"):
        d.simulate(model="llama-2-7b", prompt=8, gen=1, overrides={"engines.count": 32})


def test_cost_reports_the_whole_die_and_its_peak():
    """area_mm2 is the CPU die with a block beside every LLC slice; the peak (every core
    busy, every block at full rate) is at least what decoding draws."""
    from tokenfab.cost_models import sail as cost
    c = tokenfab.design("sail").cost()
    blocks = c.slices * c.block_area_mm2["total"]
    assert c.area_mm2 == pytest.approx(c.die_area_mm2 + blocks, rel=1e-12)
    assert c.area_overhead == pytest.approx(blocks / c.die_area_mm2, rel=1e-12)
    assert c.chip_peak_power_w > c.chip_power_w > 0
    assert c.chip_peak_power_w > cost.tech.value("graviton2", "power", file="platforms")
    # the same die as a block table, as every design's cost gives it
    assert set(c.blocks) == {"cpu", "sail_blocks"}
    assert c.area_mm2 == pytest.approx(sum(b["area_mm2"] for b in c.blocks.values()),
                                       rel=1e-12)
    assert c.chip_peak_power_w == pytest.approx(
        sum(b["peak_power_w"] for b in c.blocks.values()), rel=1e-12)
    assert c.area_mm2 >= c.package_floor["area_mm2"] > 0     # its power bumps (DDR4's unsourced)
