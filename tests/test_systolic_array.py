"""The systolic array: SCALE-Sim's cycles exactly, the RTL's schedule and its relation to
them, the golden model against A @ B, the gemm command, the system model and the cost."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

import tokenfab
from tokenfab.arch_models.systolic_array import golden, timing
from tokenfab.cli import main
from tokenfab.errors import UsageError
from tokenfab.hw.systolic_array.params import Params

DATA = json.loads((Path(__file__).parent / "data" / "scalesim_v3.json").read_text())


# ---------------------------------------------------------------- SCALE-Sim agreement
@pytest.mark.parametrize("run", DATA["runs"],
                         ids=[f"{r['dataflow']}-{r['rows']}x{r['cols']}-"
                              f"{r['M']}x{r['K']}x{r['N']}" for r in DATA["runs"]])
def test_scalesim_compute_report_reproduced(run):
    """Every figure of SCALE-Sim 3.0's COMPUTE_REPORT for 72 (array, dataflow, shape)
    points of our choosing, odd and non-square ones included (recorded test data)."""
    r = timing.scalesim(run["rows"], run["cols"], run["dataflow"], run["M"], run["K"],
                        run["N"])
    assert r["cycles"] == run["total_cycles"]
    assert run["stall_cycles"] == 0
    assert math.isclose(100 * r["utilization"], run["overall_util_pct"], rel_tol=1e-9)
    assert math.isclose(100 * r["mapping_efficiency"], run["mapping_efficiency_pct"],
                        rel_tol=1e-9)
    assert math.isclose(100 * r["compute_utilization"], run["compute_util_pct"],
                        rel_tol=1e-9)


@pytest.mark.parametrize("ref", DATA["issue_reference"],
                         ids=[f"{r['dataflow']}-{r['M']}x{r['K']}x{r['N']}"
                              for r in DATA["issue_reference"]])
def test_scalesim_128x128_reference_points(ref):
    p = Params(rows=128, cols=128, dataflow=ref["dataflow"])
    assert tokenfab.design("systolic-array", rows=128, cols=128,
                           dataflow=ref["dataflow"]).gemm(
        ref["M"], ref["K"], ref["N"])["cycles"] == ref["total_cycles"]
    assert timing.gemm(p, ref["M"], ref["K"], ref["N"])["cycles"] == ref["total_cycles"]


@pytest.mark.parametrize("df, offset", [("os", None), ("ws", 3), ("is", 3)])
@pytest.mark.parametrize("R, C", [(1, 1), (4, 3), (3, 7), (16, 16)])
def test_rtl_cycles_relation_to_scalesim(df, offset, R, C):
    """The RTL runs SCALE-Sim's fold schedule; counted from first input to last output
    handshake it adds R + 2 (os: the R result rows drain after the last fold) or 3
    (ws/is). The fold-level formula the cocotb bench checks agrees with the GEMM-level
    one for the beats of the same GEMM."""
    p = Params(rows=R, cols=C, dataflow=df)
    rng = np.random.default_rng(R * 100 + C)
    for M, K, N in [(1, 1, 1), (5, 9, 4), (2 * R + 1, 3, C + 2), (7, 2 * R + 3, 1)]:
        g = timing.gemm(p, M, K, N)
        assert g["rtl_cycles"] - g["cycles"] == (R + 2 if df == "os" else offset)
        beats = golden.gemm_beats(p, rng.integers(-3, 4, (M, K)), rng.integers(-3, 4, (K, N)))
        assert timing.beats_cycles(p, beats) == g["rtl_cycles"]


# ---------------------------------------------------------------- golden model
@pytest.mark.parametrize("kw", [dict(), dict(rows=3, cols=5, dataflow="ws"),
                                dict(rows=4, cols=2, dataflow="is", dtype="int4"),
                                dict(rows=1, cols=1), dict(rows=2, cols=7, dtype="int16",
                                                           dataflow="ws")])
def test_golden_gemm_is_a_times_b(kw):
    p = Params(**kw)
    lo, hi = p.operand_range
    rng = np.random.default_rng(3)
    for M, K, N in [(1, 1, 1), (p.rows, p.rows, p.cols), (2 * p.rows + 1, 5, p.cols + 3),
                    (3, 2 * p.rows + 1, 2 * p.cols + 1)]:
        A = rng.integers(lo, hi + 1, (M, K))
        B = rng.integers(lo, hi + 1, (K, N))
        assert (golden.gemm(p, A, B) == golden.wrap(A @ B, p.acc_bits)).all()
        if p.operand_bits <= 8:
            assert (golden.gemm(p, A, B) == A @ B).all()        # no wrap at int8
    extreme = np.full((p.rows, 9), lo)
    assert (golden.gemm(p, extreme, np.full((9, p.cols), lo))
            == golden.wrap(9 * lo * lo, p.acc_bits)).all()


def test_golden_wraps_like_the_accumulator():
    p = Params(rows=2, cols=2, acc_bits=10)
    A, B = np.full((2, 40), -128), np.full((40, 2), -128)
    out = golden.gemm(p, A, B)
    assert (out == golden.wrap(40 * 128 * 128, 10)).all() and (out != 40 * 128 * 128).all()


def test_params_are_validated():
    with pytest.raises(UsageError, match="dataflow must be one of 'os', 'ws', 'is', not 'rs'"):
        Params(dataflow="rs")
    with pytest.raises(UsageError, match="rows must be an integer from 1 to 1024, not 0"):
        Params(rows=0)
    with pytest.raises(UsageError, match="fp16' is modelled in the timing and cost levels"):
        tokenfab.design("systolic-array", dtype="fp16", rows=2, cols=2).verilog("build/x")


# ---------------------------------------------------------------- the gemm command
@pytest.mark.parametrize("design, params", [("systolic-array", []),
                                            ("lut-tensor-core", []), ("mac-array", []),
                                            ("tellme", []), ("hnlpu", [])])
def test_gemm_command_keys(capsys, design, params):
    shape = "3,64,16" if design == "hnlpu" else "3,100,70"
    assert main(["gemm", design, "--shape", shape, "--json", *params]) == 0
    r = json.loads(capsys.readouterr().out)
    assert {"cycles", "rtl_cycles", "utilization", "mapping_efficiency", "folds"} <= set(r)
    assert 0 < r["utilization"] <= r["mapping_efficiency"] <= 1
    assert r["cycles"] > 0 and r["rtl_cycles"] >= r["cycles"]


@pytest.mark.parametrize("argv, fragment", [
    (["gemm", "systolic-array", "--shape", "1,2"], "shape must be three integers M,K,N"),
    (["gemm", "systolic-array", "--shape", "0,2,3"], "GEMM dimension M must be a positive"),
    (["gemm", "tellme", "-p", "unit=rmsmax", "--shape", "1,2,3"], "gemm runs on the TLMM"),
    (["gemm", "systolic-array", "-p", "dataflow=rs", "--shape", "1,2,3"],
     "dataflow must be one of"),
])
def test_gemm_errors(capsys, argv, fragment):
    assert main(argv) == 2
    assert fragment in capsys.readouterr().err


def test_bigger_arrays_take_fewer_cycles_on_big_gemms():
    small = timing.gemm(Params(rows=32, cols=32), 512, 4096, 4096)
    big = timing.gemm(Params(rows=128, cols=128), 512, 4096, 4096)
    assert big["cycles"] < small["cycles"] / 4
    # decode (M = 1): weight-stationary reloads B for every token and is far slower
    os_ = timing.gemm(Params(rows=128, cols=128, dataflow="os"), 1, 4096, 4096)
    ws = timing.gemm(Params(rows=128, cols=128, dataflow="ws"), 1, 4096, 4096)
    assert ws["cycles"] > 2 * os_["cycles"]


# ---------------------------------------------------------------- system and cost
def test_decode_is_memory_bound_at_int8_weights():
    r = tokenfab.design("systolic-array").simulate(model="llama-2-7b", prompt=64,
                                                   gen=4).to_dict()
    assert r["bound"]["decode"] == "memory"
    weights = 6.6e9          # llama-2-7b linear weights at one byte each, roughly
    assert r["decode_tokens_per_s"] < r["memory_bytes_per_s"] / weights * 1.05


def test_cost_grows_with_operand_width():
    """The arrays grow with the operand width; the die (the buffer, vector unit and
    memory interface beside them) grows by the same amount."""
    costs = [tokenfab.design("systolic-array", dtype=d).cost()
             for d in ("int4", "int8", "int16", "fp16")]
    areas = [c.blocks["units"]["area_mm2"] for c in costs]
    assert areas == sorted(areas) and areas[3] > 2 * areas[1]
    rest = [c.area_mm2 - a for c, a in zip(costs, areas)]
    assert rest == pytest.approx([rest[0]] * 4, rel=1e-9)


@pytest.mark.slow
def test_fpga_flow_takes_the_array(build_dir):
    r = tokenfab.design("systolic-array", rows=2, cols=3).fpga(
        target="ecp5-25k", work_dir=build_dir / "fpga")
    assert r.dsps == 6 and r.luts > 100 and r.fmax_mhz > 20
    for kind in ("verilog", "yosys_log", "nextpnr_log", "report"):
        assert Path(r.files[kind]).exists() and r.files[kind].startswith(str(build_dir))


# ---------------------------------------------------------------- the MixPE paper's baselines
@pytest.mark.prediction
@pytest.mark.parametrize("model", ["opt-6.7b", "llama-2-13b"])
def test_mixpe_paper_int8_over_fp16_is_predicted(model):
    """PREDICTED (nothing fitted): the authors' simulator gives INT8 0.86 of FP16 time on
    both models (mixpe_res.csv); our fold model on their arrays (32x32 INT8, 32x28 FP16,
    500 MHz, 1,024 bits/cycle) gives 0.859 and 0.866. Tolerance 5% (the issue's goal is
    20%)."""
    t = {dt: tokenfab.design("systolic-array", dtype=dt).simulate(
        model=model, batch=64, prompt=1, gen=0, system="mixpe-paper").ttft_s
        for dt in ("int8", "fp16")}
    assert t["int8"] / t["fp16"] == pytest.approx(0.86, rel=0.05)


@pytest.mark.parametrize("kw, fragment", [
    (dict(dtype="int4"), "int8 and fp16 baselines"),
    (dict(rows=64, cols=64), "fixes the int8 array at 32x32"),
])
def test_mixpe_paper_preset_is_the_authors_configuration(kw, fragment):
    with pytest.raises(UsageError, match=fragment):
        tokenfab.design("systolic-array", **kw).simulate(system="mixpe-paper", gen=0)


def test_gemm_labels_rtl_cycles_only_where_the_rtl_exists():
    """rtl_cycles is the RTL's schedule; past the RTL limit no RTL of those parameters can
    be generated, so the count is not labelled as the RTL's and the result says why."""
    small = tokenfab.design("systolic-array", rows=16, cols=16).gemm(1, 64, 64)
    big = tokenfab.design("systolic-array", rows=128, cols=128).gemm(1, 4096, 4096)
    assert small["rtl_cycles"] > small["cycles"] and "rtl" not in small.keys()
    assert "rtl_cycles" not in big.keys() and big.cycles > 0
    assert big["rtl"].startswith("none: systolic-array with rows=128, cols=128 has 16,384")
