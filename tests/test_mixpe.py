"""MixPE: the floating-point units against IEEE arithmetic, the golden model against the
quantised GEMM it stands for, SCALE-Sim's cycles for the integer inner loop, the paper
checks (mixpe-paper preset) and the dequantise-then-multiply baseline."""
import json
from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

import tokenfab
from tokenfab.arch_models.mixpe import golden, timing
from tokenfab.cli import main
from tokenfab.cost_models import mixpe as mixpe_cost
from tokenfab.cost_models import systolic_array as systolic_cost
from tokenfab.errors import UsageError
from tokenfab.hw.common import fp
from tokenfab.hw.mixpe.params import Params
from tokenfab.hw.systolic_array.params import Params as SystolicParams

SCALESIM = json.loads((Path(__file__).parent / "data" / "scalesim_v3.json").read_text())


def _f32(x) -> int:
    return int(np.float32(x).view(np.uint32))


# ---------------------------------------------------------------- the FP units
def test_fp_units_are_ieee_round_to_nearest_even():
    """fp32_add and scaled_int_to_fp32 in amaranth.sim against numpy's IEEE float32 on
    random operands, exact and near cancellations, far-apart exponents and rounding ties
    (RNE ties are built by adding half an ulp)."""
    m = Module()
    a, b = Signal(32), Signal(32)
    v, sig, off = Signal(signed(24)), Signal(11), Signal(signed(8))
    add = fp.fp32_add(m, a, b, "add")
    cvt = fp.scaled_int_to_fp32(m, v, sig, off, "cvt")
    rng = np.random.default_rng(11)
    bad = []

    def operands(i):
        x = np.float32(rng.standard_normal() * 2.0 ** int(rng.integers(-40, 40)))
        kind = i % 5
        if kind == 0:
            y = -x                                                   # exact cancellation
        elif kind == 1:
            y = np.float32(-x * (1 + int(rng.integers(-4, 5)) * 2.0 ** -23))
        elif kind == 2:                                              # a tie: half an ulp
            y = np.float32(np.spacing(x) / 2 * (1 if rng.random() < .5 else 3))
        elif kind == 3:
            y = np.float32(rng.standard_normal() * 2.0 ** int(rng.integers(-80, 80)))
        else:
            y = np.float32(0.0) if rng.random() < 0.5 else np.float32(x * 2.0 ** -30)
        return x, y

    async def bench(ctx):
        for i in range(1500):
            x, y = operands(i)
            ctx.set(a, _f32(x))
            ctx.set(b, _f32(y))
            vv, ss = int(rng.integers(-2 ** 23, 2 ** 23)), int(rng.integers(0, 2048))
            if i % 7 == 0:
                ss = 2047                                            # all ones: carries
            oo = int(rng.integers(-60, 8))
            ctx.set(v, vv)
            ctx.set(sig, ss)
            ctx.set(off, oo)
            want = _f32(np.float32(x) + np.float32(y))
            if ctx.get(add) != want:
                bad.append(("add", x, y, hex(ctx.get(add)), hex(want)))
            want = _f32(np.float32(np.ldexp(float(vv * ss), oo))) if vv * ss else 0
            if ctx.get(cvt) != want:
                bad.append(("cvt", vv, ss, oo, hex(ctx.get(cvt)), hex(want)))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert not bad, bad[:5]


# ---------------------------------------------------------------- golden model
GOLDEN_SETS = [dict(), dict(mode="w4a16"), dict(rows=3, cols=2, group=12, lanes=4),
               dict(rows=4, cols=3, group=8, lanes=1, pe="serial"),
               dict(rows=3, cols=5, group=10, lanes=2, mode="w4a16", dequant="edge"),
               dict(rows=2, cols=2, group=1, lanes=1)]


@pytest.mark.parametrize("kw", GOLDEN_SETS, ids=lambda kw: "-".join(
    f"{k}{v}" for k, v in kw.items()) or "default")
def test_golden_is_the_quantised_gemm(kw):
    """Beat by beat, fold by fold (``gemm``) equals the whole-matrix group-by-group
    formula (``reference``) bit for bit, and both are the dequantised GEMM up to FP32
    rounding (W4A8) or the 4 guard bits of the FP16 alignment (W4A16)."""
    p = Params(**kw)
    rng = np.random.default_rng(5)
    shapes = [(1, 1, 1), (p.R + 1, 2 * p.group + 3, p.C + 2), (2, p.group, 1)]
    if p.R * p.C > 64:                                    # the 64 x 64 default: one fold
        shapes = [(3, p.group * 2 + 5, 5)]
    for M, K, N in shapes:
        g = golden.random_gemm(p, M, K, N, rng)
        y = golden.gemm(p, g)
        assert (y.view(np.uint32) == golden.reference(p, g).view(np.uint32)).all()
        exact = golden.real_activations(p, g) @ golden.dequantised_weights(p, g)
        scale = np.abs(golden.real_activations(p, g)).max(initial=1) * K * 16 * 4
        tol = 1e-6 if p.mode == "w4a8" else 2.0 ** -(10 + 4) * 2
        assert np.abs(y - exact).max() <= tol * scale


def test_golden_w4a8_is_exact_when_the_scales_are_powers_of_two():
    """With scales 2**e the only rounding left is FP32's, and small sums are exact."""
    p = Params(rows=4, cols=4, group=16, lanes=4)
    rng = np.random.default_rng(2)
    g = golden.random_gemm(p, 4, 48, 4, rng)
    S = (2.0 ** rng.integers(-3, 3, g.S.shape)).astype(np.float16)
    g = golden.QuantGemm(g.A, g.Q, S.view(np.uint16).astype(np.int64), g.Z)
    exact = golden.real_activations(p, g) @ golden.dequantised_weights(p, g)
    assert (golden.gemm(p, g) == exact).all()


def test_zero_difference_gives_positive_zero():
    p = Params(rows=2, cols=2, group=4, lanes=1)
    g = golden.QuantGemm(np.full((2, 4), 5), np.full((4, 2), 3), np.full((1, 2), 0xBC00),
                         np.full((1, 2), 3))
    assert (golden.gemm(p, g).view(np.uint32) == 0).all()


def test_operands_are_checked():
    p = Params(rows=2, cols=2, group=4, lanes=1)
    with pytest.raises(UsageError, match="Q values must be from 0 to 15"):
        golden.gemm(p, golden.QuantGemm(np.zeros((1, 4)), np.full((4, 1), 16),
                                        np.zeros((1, 1)), np.zeros((1, 1))))
    with pytest.raises(UsageError, match="scales and zero points must be 2 x 1"):
        golden.gemm(p, golden.QuantGemm(np.zeros((1, 5)), np.zeros((5, 1)),
                                        np.zeros((1, 1)), np.zeros((1, 1))))


@pytest.mark.parametrize("kw, fragment", [
    (dict(dequant="edge"), "group / lanes x 1 \\(beats per step\\) = 32"),
    (dict(group=130), "group must be a multiple of lanes \\(4\\), not 130"),
    (dict(mode="w4a4"), "mode must be one of 'w4a8', 'w4a16', not 'w4a4'"),
    (dict(lanes=0), "lanes must be an integer from 1 to 16, not 0"),
    (dict(lanes=2, fuse="mn"), "lanes must be 1, 4, 9 or 16, not 2"),
])
def test_params_are_validated(kw, fragment):
    with pytest.raises(UsageError, match=fragment):
        Params(**kw)


# ---------------------------------------------------------------- cycles
@pytest.mark.parametrize("run", [r for r in SCALESIM["runs"] if r["dataflow"] == "os"],
                         ids=lambda r: f"{r['rows']}x{r['cols']}-{r['M']}x{r['K']}x{r['N']}")
def test_integer_inner_loop_takes_scalesims_os_cycles(run):
    """A bit-parallel one-lane MixPE array streams K exactly as SCALE-Sim's OS array
    (recorded SCALE-Sim 3.0 runs); with L lanes it streams ceil(K / L) steps."""
    R, C, M, K, N = (run[k] for k in ("rows", "cols", "M", "K", "N"))
    p = Params(rows=R, cols=C, lanes=1, group=4096)
    assert timing.gemm(p, M, K, N)["cycles"] == run["total_cycles"]
    q = Params(rows=R, cols=C, lanes=4, group=4096)
    assert timing.gemm(q, M, 4 * K, N)["cycles"] == run["total_cycles"]


@pytest.mark.parametrize("kw", GOLDEN_SETS[2:], ids=str)
def test_rtl_cycles_of_a_gemm(kw):
    """The beats of a GEMM take what ``gemm`` says: SCALE-Sim's count + R + 2."""
    p = Params(**kw)
    rng = np.random.default_rng(1)
    for M, K, N in [(1, 1, 1), (2 * p.R + 1, 3 * p.group + 1, p.C + 1)]:
        g = timing.gemm(p, M, K, N)
        assert g["rtl_cycles"] == g["cycles"] + 1 + p.R + 2
        beats = golden.gemm_beats(p, golden.random_gemm(p, M, K, N, rng))
        assert timing.beats_cycles(p, beats) == g["rtl_cycles"]
        assert len(beats) == g["folds"] * g["streamed_beats_per_fold"]


def test_serial_pe_takes_four_beats_per_step():
    par, ser = Params(lanes=1), Params(lanes=1, pe="serial")
    assert (timing.gemm(ser, 64, 4096, 64)["streamed_beats_per_fold"]
            == 4 * timing.gemm(par, 64, 4096, 64)["streamed_beats_per_fold"])


@pytest.mark.slow
def test_fpga_flow_takes_one_pe(build_dir):
    """A 1 x 1 array with its own dequantiser: the FP16-scale multiply maps to DSPs; the
    dequantisation is one combinational cycle (integer difference, multiply, normalise,
    round, FP32 add), which sets Fmax."""
    r = tokenfab.design("mixpe", rows=1, cols=1, lanes=1, group=2).fpga(
        target="ecp5-25k", work_dir=build_dir / "fpga")
    assert r.dsps >= 1 and r.luts > 500 and r.fmax_mhz > 5


def test_gemm_command(capsys):
    assert main(["gemm", "mixpe", "--shape", "64,4096,4096", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["folds"] == 64 and r["cycles"] == 64 * (1024 + 126) - 1
    assert r["dequant_ops"] == 64 * 4096 * 32 and 0.8 < r["utilization"] < 1


# ---------------------------------------------------------------- paper checks
def _ttft(design, model, **kw):
    return tokenfab.design(design, **kw).simulate(model=model, batch=64, prompt=1, gen=0,
                                                  system="mixpe-paper").ttft_s


@pytest.mark.prediction
@pytest.mark.parametrize("model", ["opt-6.7b", "llama-2-13b"])
def test_mixpe_paper_time_normalised_to_fp16(model):
    """PREDICTED (nothing fitted): the authors' simulator gives W4A8 0.10, W4A16 0.19 and
    INT8 0.86 of FP16's time (mixpe_res.csv); the issue's tolerance is 20%.

    With the simulator's PE geometry (fuse=mn: a PE's 4 products are 2 tokens x 2
    outputs, so a batch of 64 fills half of a 64-row W4A8 array) we predict 0.109 and
    0.213 on OPT-6.7B (0.110, 0.215 on Llama-2-13B), each GEMM mapped onto the
    simulator's 128/256/128 KiB weight, input and output SRAMs. Our own PE (4 products
    along K) is not starved by the batch: W4A8 0.067 on OPT-6.7B; 0.079 on Llama-2-13B,
    whose 64 x 13,824 down-projection input does not fit the 256 KiB input SRAM and
    streams once per column block (before the mapper both were below 0.07)."""
    fp16 = _ttft("systolic-array", model, dtype="fp16")
    assert _ttft("systolic-array", model, dtype="int8") / fp16 == pytest.approx(0.86, rel=0.2)
    geometry = {}
    for mode, paper in (("w4a8", 0.10), ("w4a16", 0.19)):
        geometry[mode] = _ttft("mixpe", model, mode=mode, fuse="mn") / fp16
        assert geometry[mode] == pytest.approx(paper, rel=0.20)
    ours = {m: _ttft("mixpe", model, mode=m) / fp16 for m in ("w4a8", "w4a16")}
    assert ours["w4a16"] == pytest.approx(0.19, rel=0.20)
    assert ours["w4a8"] < 0.8 * geometry["w4a8"]   # K-lanes fill the array at batch 64


F_PE = 500e6


def _pe_power_w(c, n):
    return (c.energy_per_step_j(28) * F_PE + c.leakage_w(28, F_PE)) / n


@pytest.mark.prediction
def test_fp16_pe_power_against_the_authors_synthesis():
    """PREDICTED from component counts (the activity is fitted on sky130 units, not on
    this): the FP16 PE at 500 MHz and 28 nm (the simulator's CACTI node; the paper does
    not name its synthesis node) against the authors' 1,032.9 uW
    (systolic_array_synth.csv), within 30%. Observed 1,279 uW (+24%); the model before
    the clock and activity came from synthesis gave 551 uW (-47%)."""
    p = SystolicParams(dtype="fp16", rows=32, cols=28)
    ours = _pe_power_w(systolic_cost.unit_components(p), 32 * 28)
    assert ours == pytest.approx(1032.9e-6, rel=0.30, abs=0)


@pytest.mark.xfail(strict=True, reason=(
    "our MixPE PEs hold 326 (W4A8) and 430 (W4A16) flip-flops each: per-lane bit-plane "
    "accumulators, the skewed operands and the group's dequantisation state, clocked every "
    "cycle as the synthesised units show; the authors' (8,4) and (16,8) PEs are BitFusion "
    "PEs, whose 344.3 and 673.4 uW leave room for well under a third of that. Observed "
    "ratios to the FP16 PE: 0.68 and 0.97 against 0.33 and 0.65 (0.39 and 0.59 before, "
    "when flip-flops were priced at a quarter of one toggle)"))
def test_pe_power_ratios_against_the_authors_synthesis():
    """The W4A8 (8,4) and W4A16 (16,8) MixPE PEs relative to the FP16 PE against the
    authors' 344.3 : 673.4 : 1,032.9 uW, within 30%."""
    fp16 = _pe_power_w(systolic_cost.unit_components(
        SystolicParams(dtype="fp16", rows=32, cols=28)), 32 * 28)
    for mode, paper in (("w4a8", 344.3), ("w4a16", 673.4)):
        p = Params(mode=mode)
        ratio = _pe_power_w(mixpe_cost.unit_components(p), p.R * p.C) / fp16
        assert ratio == pytest.approx(paper / 1032.9, rel=0.30)


# ---------------------------------------------------------------- baselines
def test_dequantise_then_multiply_baseline():
    """INT4 weights dequantised to FP16 at the array edge: 4.16 bits per weight in DRAM
    (decode gets faster than FP16 weights) but FP16 PEs plus the column dequantisers cost
    more energy per MAC than FP16 alone, and far more than MixPE's shift-and-add PEs."""
    fp16 = tokenfab.design("systolic-array", dtype="fp16")
    deq = tokenfab.design("systolic-array", dtype="fp16", weights="int4")
    a = fp16.simulate(model="llama-2-7b", prompt=16, gen=4)
    b = deq.simulate(model="llama-2-7b", prompt=16, gen=4)
    assert b.decode_tokens_per_s > 3 * a.decode_tokens_per_s
    ea = fp16.cost().energy_per_mac_j
    eb = deq.cost().energy_per_mac_j
    em = tokenfab.design("mixpe", mode="w4a16").cost().energy_per_mac_j
    assert eb > ea > 2 * em
    with pytest.raises(UsageError, match="dtype must be 'fp16', not 'int8'"):
        SystolicParams(weights="int4")


def test_output_stationary_decode_fills_one_row_in_64():
    """At batch 1 an output-stationary array holds one token: one row of 64 is busy, so
    decode is compute-bound even with 4-bit weights; batch 64 fills every row and
    decodes ~64 times as many tokens per second until memory bounds it."""
    d = tokenfab.design("mixpe")
    one = d.simulate(model="llama-2-7b", prompt=16, gen=4).to_dict()
    many = d.simulate(model="llama-2-7b", prompt=16, gen=4, batch=64).to_dict()
    assert one["bound"]["decode"] == "compute"
    assert many["decode_tokens_per_s"] > 30 * one["decode_tokens_per_s"]
    weights = 6.5e9 * (4 + 20 / 128) / 8
    assert many["decode_tokens_per_s"] < 64 * many["memory_bytes_per_s"] / weights * 1.05


def test_the_authors_simulator_run_here():
    """Their simulator, run here (tests/data/mixpe_simulator_opt.json): OPT-6.7B's QKV
    layer (64 x 4096 x 12288) on W4A8 takes 394,304 cycles, 1,088 of them waiting for
    memory. Its compute part is ours on the same geometry (fuse=mn: a 128 x 128 array of
    one-product cells at batch 64) without the fill and drain of each fold, which its
    formula leaves out: exactly, not approximately. Over the whole model its W4A8 / FP16
    is 0.0965; ours 0.109 (0.114 before the mapper)."""
    ref = json.loads((Path(__file__).parent / "data" / "mixpe_simulator_opt.json")
                     .read_text())["runs"]
    first = ref["mix_int"]["first_layer"]
    g = timing.gemm(Params(mode="w4a8", fuse="mn"), 64, 4096, 12288)
    p = Params(mode="w4a8", fuse="mn")
    assert (g["cycles"] + 1 - g["folds"] * (p.R + p.C - 2)
            == int(first["Cycles"]) - int(first["Memory wait cycles"]))
    theirs = ref["mix_int"]["total_cycles"] / ref["float"]["total_cycles"]
    ours = _ttft("mixpe", "opt-6.7b", fuse="mn") / _ttft("systolic-array", "opt-6.7b",
                                                          dtype="fp16")
    assert ours == pytest.approx(theirs, rel=0.20)
