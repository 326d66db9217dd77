"""TeLLMe: the offline encoder, the TLMM arithmetic against the plain ternary product, the
RMS-MAX fixed point, and the unit timing."""
import json

import numpy as np
import pytest

import tokenfab
from tokenfab.arch_models.common.tile_timing import simulate_sequence
from tokenfab.arch_models.tellme import golden, timing
from tokenfab.arch_models.tellme.system import (Kv260System, run_phase, uram_blocks, uram_peak,
                                                weight_pieces)
from tokenfab.arch_models.workloads import load_model
from tokenfab.cost_models import tech
from tokenfab.cost_models import tellme as tc
from tokenfab.hw.common.arith import ternary_table_coeffs
from tokenfab.hw.tellme.params import Params
from tokenfab.errors import UsageError

SETS = [dict(), dict(g=2, t=5, q=3, table="half"), dict(g=4, t=3, q=2),
        dict(g=1, t=6, q=2), dict(g=5, t=2, q=1, table="half")]


@pytest.mark.parametrize("kw", SETS)
def test_tlmm_equals_the_ternary_product(kw):
    p = Params(**kw)
    rng = np.random.default_rng(p.g * 100 + p.t)
    for n, k in [(1, 1), (p.t * p.g, p.q), (97, 13), (p.t * p.g * 3 + 1, 2 * p.q + 1)]:
        x = rng.integers(-127, 128, n)
        w = rng.integers(-1, 2, (n, k))
        assert np.array_equal(golden.tlmm_matvec(p, x, w), golden.bitnet_linear(x, w))


def test_encoder_index_is_base3_of_weights_plus_one():
    w = np.array([[1, -1], [0, 1], [-1, 0]])
    idx = golden.encode_weights(w, 3)
    assert idx.tolist() == [[2 + 1 * 3 + 0 * 9, 0 + 2 * 3 + 1 * 9]]
    coeffs = ternary_table_coeffs(3)
    assert coeffs[idx[0, 0]].tolist() == [1, 0, -1]
    with pytest.raises(ValueError, match="ternary"):
        golden.encode_weights(np.array([[2]]), 3)


def test_paper_widths():
    p = Params()
    assert (p.n_tb, p.idx_bits, p.entry_bits) == (27, 5, 10)      # G = 3, B = 5, B_TB = 10
    assert Params(table="half").stored_entries == 13
    assert Params(g=4).idx_bits == 7


def test_half_table_reads_equal_full_table_reads():
    full, half = Params(g=3, table="full"), Params(g=3, table="half")
    rng = np.random.default_rng(2)
    for _ in range(20):
        a = rng.integers(-127, 128, 3)
        tab = golden.build_table(full, a)
        for i in range(27):
            assert golden.lookup(full, tab, i) == golden.lookup(half, tab, i) == tab[i]
    assert golden.lookup(full, tab, 31) == 0


def test_absmax_quantize():
    q, s = golden.absmax_quantize([0.5, -2.0, 1.0])
    assert q.tolist() == [32, -127, 64] and s == pytest.approx(2 / 127)


def test_rmsmax_fixed_point_tracks_the_float_definition():
    p = Params(unit="rmsmax", d=64)
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = rng.integers(-3000, 3000, 64)
        g = rng.integers(1, 4000, 64)
        out = golden.rmsmax(p, x, g)
        z = x * g
        ref_q, _ = golden.absmax_quantize(z)
        assert np.max(np.abs(np.array(out["q"]) - ref_q)) <= 1     # rounding ties only
        rms = np.sqrt((np.sum(x.astype(float) ** 2) + 64) / 64)
        assert out["inv_rms"] / 2 ** p.frac_bits == pytest.approx(1 / rms, rel=2e-3, abs=2e-5)
        assert out["max"] == np.abs(z).max()


@pytest.mark.parametrize("kw, cycles", [(dict(), 1), (dict(unit="rmsmax"), 33)])
def test_unit_cycles_and_simpy_agree(kw, cycles):
    p = Params(**kw)
    assert p.cycles_per_tile == cycles
    for n in (1, 5, 50):
        assert timing.unit_cycles(p, n) == simulate_sequence([True] * n, cycles)


@pytest.mark.parametrize("kw, fragment", [
    (dict(unit="gemm"), "unit must be one of"), (dict(table="quarter"), "table must be one of"),
    (dict(g=6), "g must be an integer from 1 to 5"), (dict(t=0), "t must be an integer")])
def test_bad_params(kw, fragment):
    with pytest.raises(UsageError, match=fragment):
        Params(**kw)


# ---------------------------------------------------------------- KV260 system model
def within(x, ref, tol):
    return abs(x - ref) <= tol * abs(ref)


@pytest.fixture(scope="module")
def bitnet():
    return load_model("bitnet-b1.58-large")


@pytest.fixture(scope="module")
def runs(bitnet):
    return {n: tokenfab.design("tellme").simulate(model=bitnet.name, prompt=n, gen=128).to_dict()
            for n in (64, 128)}


@pytest.mark.calibration
def test_decode_rate_and_energy_are_the_calibration_points(runs):
    """CALIBRATED: LM-head bandwidth to 25 tokens/s, static power to 4.8 W."""
    assert within(runs[64]["decode_tokens_per_s"], 25, 0.02)
    assert within(runs[64]["system_power_w"], 4.8, 0.02)
    assert within(runs[64]["tokens_per_j"], 5.2, 0.02)


@pytest.mark.calibration
def test_ttft_at_64_tokens_is_the_clock_calibration(runs):
    """0.45 s at 64 tokens: the clock (333.7 MHz) is fitted to it at Q = 4."""
    assert within(runs[64]["ttft_s"], 0.45, 0.01)


@pytest.mark.prediction
def test_ttft_at_128_tokens_predicted(runs):
    """0.96 s at 128 tokens within the issue's 15% (observed -6.4%)."""
    assert within(runs[128]["ttft_s"], 0.96, 0.15)


@pytest.mark.calibration
def test_static_power_is_fitted_again_at_the_calibration_point(monkeypatch):
    """tellme_static_w records the fit at the data as shipped; static_w() fits it again
    from the data in force. With the Arm cores' power (a W datum) halved the decode still
    draws 4.8 W, and the static draw takes up the difference: the cores' share of the
    decode time (the LM head's) times the change."""
    assert tc.static_w() == pytest.approx(tc.STATIC_W, abs=5e-4)
    dec = tc._calibration_run().decode
    arm_share = sum(r.events.get("arm_core_s", 0.0) for r in dec.rows) / dec.seconds
    assert 0.5 < arm_share < 0.9
    arm = tech.leaf("fpga", "arm_cluster_active_power")
    monkeypatch.setitem(arm, "value", arm["value"] / 2)
    assert tc.static_w() == pytest.approx(tc.STATIC_W + arm["value"] * arm_share, abs=5e-4)
    r = tokenfab.design("tellme").simulate(model="bitnet-b1.58-large", prompt=64,
                                           gen=128).to_dict()
    assert r["system_power_w"] == pytest.approx(4.8, rel=1e-9)


def test_the_urams_and_brams_are_priced_as_the_system_file_says(tmp_path):
    """The TLMM reads every weight index from the URAMs once per token and the DMA writes
    it once; the attention's K and V pass the BRAMs. Their bytes are priced by the file's
    read_energy / write_energy (which the model ignored before) or by the SRAM model. A
    file's own URAM energy moves the static draw's fit by its bytes at the calibration
    point, so the decode still draws 4.8 W."""
    import yaml

    from tokenfab.arch_models.systems import schema
    kw = dict(model="bitnet-b1.58-large", prompt=64, gen=128)
    base = tokenfab.design("tellme").simulate(**kw)
    for row in base.run.prefill.rows:
        if row.engine == "tlmm":
            assert row.events["uram_write_bytes"] == row.dram_bytes > 0
            assert row.events["uram_read_bytes"] == 64 * row.events["uram_write_bytes"]
        if row.op == "attention":
            assert row.events["bram_write_bytes"] > 0 and row.events["bram_read_bytes"] > 0
    raw = schema.read_file(schema.HERE / "kv260.yaml")
    raw["levels"][0]["read_energy"] = {"value": "2pJ", "source": "test", "confidence": "W"}
    own = tmp_path / "kv260-uram.yaml"
    own.write_text(yaml.safe_dump(raw))
    mine = tokenfab.design("tellme").simulate(**kw, system=str(own))
    shipped = base.pricing.per_event["uram_read_bytes"].value
    assert mine.pricing.per_event["uram_read_bytes"].value == pytest.approx(2e-12)
    assert mine.to_dict()["system_power_w"] == pytest.approx(4.8, rel=1e-9)
    dec = tc._calibration_run().decode
    per_s = sum(r.events.get("uram_read_bytes", 0.0) for r in dec.rows) / dec.seconds
    assert (mine.pricing.power_w["board_static"].value
            == pytest.approx(base.pricing.power_w["board_static"].value
                             - (2e-12 - shipped) * per_s, rel=1e-9))
    read = sum(r.events.get("uram_read_bytes", 0.0) for ph in base.run.phases for r in ph.rows)
    uram = [x.to_dict()["energy_by_level_j"]["uram"] for x in (base, mine)]
    assert uram[1] - uram[0] == pytest.approx((2e-12 - shipped) * read, rel=1e-9)


def test_sensitivity_holds_the_calibration_point_and_moves_the_prefill_prediction():
    """`cost tellme --sensitivity`: the Arm cores' power (W, tried at half and twice)
    leaves the decode's tokens/J, the calibration point, where it is and moves the
    prefill's, a prediction: less power on the cores at the decode means more static
    draw in the prefill."""
    r = tokenfab.design("tellme").sensitivity()
    rows = {row["datum"]: row for row in r["weak_data"]}
    arm = rows["tech.json:fpga.arm_cluster_active_power"]
    assert arm["tokens_per_j_move"] < 1e-9
    base = r["baseline"]["prefill_tokens_per_j"]
    assert arm["prefill_tokens_per_j_at_low"] < base < arm["prefill_tokens_per_j_at_high"]


# TeLLMe v2, Table 2 [P]: Intelligence/J = tokens/s / (PPL x W), WikiText-2 PPL 12.79;
# prefill 2.330 -> 29.8 tokens/J. At Table 1's 4.8 W that is 143 tokens/s, the rate of
# the 64-token TTFT (0.45 s), so the figure tests the board's power while prefilling.
PREFILL_TOKENS_PER_J = 2.330 * 12.79


@pytest.mark.prediction
@pytest.mark.xfail(strict=True, reason=(
    "41.1 tokens/J, +38%. The rate matches (142 tokens/s against the 143 the figure "
    "implies), the power does not: 3.46 W against the 4.8 W the paper gives the board. "
    "The static draw is fitted at the decode, where the Arm cores (1.2 W, a W datum) run "
    "the LM head 75% of the time; in the prefill they idle, and on the fabric only the "
    "TLMM's lookups and the URAM and BRAM arrays are priced (0.10 W and 0.02 W at full "
    "rate). The vector, attention and DMA units' and the routing's activity is not: "
    "per-resource FPGA energies for the XCK26 are not public (issue 27)"))
def test_prefill_tokens_per_j_predicted(runs):
    """Prefill tokens/J of BitNet 0.73B after a 64-token prompt against Table 2's 29.8,
    within the issue's 15%. Known miss (strict xfail)."""
    assert within(runs[64]["prefill_tokens_per_j"], PREFILL_TOKENS_PER_J, 0.15)


def test_decode_is_not_ddr_bound_on_weights_alone(bitnet):
    """The decoupled weight load hides the TLMM: per token the weights take 8.3 ms at
    17.1 GB/s, the TLMM less at Q=4; the rest is the LM head on the Arm cores."""
    d = run_phase(bitnet, Kv260System(), 1, 128, prefill=False)
    assert within(d.busy_s["dma"], 141.5e6 / 17.1e9, 0.02)
    assert d.busy_s["tlmm"] < d.busy_s["dma"] < d.busy_s["lm_head"]


def test_more_bandwidth_or_lookups_never_slower(bitnet):
    base = run_phase(bitnet, Kv260System(), 64, 0, prefill=True).seconds
    assert run_phase(bitnet, Kv260System(q=10), 64, 0, prefill=True).seconds < base
    dec = run_phase(bitnet, Kv260System(), 1, 64, prefill=False).seconds
    fast = run_phase(bitnet, Kv260System(ddr_bytes_per_s=34.2e9), 1, 64, prefill=False).seconds
    assert fast <= dec


def test_other_boards_and_models_run():
    r = tokenfab.design("tellme").simulate(model="llama-2-7b", prompt=32, gen=4).to_dict()
    assert r["decode_tokens_per_s"] > 0 and r["system"] == "kv260"
    with pytest.raises(UsageError, match="batch 1"):
        tokenfab.design("tellme").simulate(model="bitnet-b1.58-large", batch=2, prompt=8, gen=2)
    with pytest.raises(UsageError, match="dense models"):
        tokenfab.design("tellme").simulate(model="gpt-oss-120b", prompt=8, gen=2)


# ---------------------------------------------------------------- resources
@pytest.mark.parametrize("kw", [dict(t=4, q=2), dict(g=2, t=8, q=4),
                                dict(t=4, q=4, table="half")])
def test_resource_model_against_yosys(kw, build_dir):
    """The paper-form resource model against Yosys synth_xilinx on the unit: LUTs within
    35%, FFs within 10% (measured: LUTs 0.82-1.30x; G=4 is the high end, where Yosys
    shares partial sums between table entries that the model prices separately;
    FFs 1.03-1.08x)."""
    d = tokenfab.design("tellme", **kw)
    y = tc.yosys_resources(d, build_dir / "tellme-res")
    m = tc.resource_model(d.params)
    assert within(m["luts"], y["luts"], 0.35), (m["luts"], y["luts"])
    assert within(m["ffs"], y["ffs"], 0.10), (m["ffs"], y["ffs"])


def test_board_parameters_from_the_cli(capsys):
    from tokenfab.cli import main
    assert main(["simulate", "tellme", "--model", "bitnet-b1.58-large", "--prompt", "64",
                 "-p", "ddr_gbps=4.275", "--json"]) == 0
    slow = json.loads(capsys.readouterr().out)["decode_tokens_per_s"]
    assert slow < 22                                   # a quarter of the DDR bandwidth
    assert main(["simulate", "tellme", "-p", "clock_mhz=-1"]) == 2


def test_ecp5_place_and_route_with_fmax(build_dir):
    r = tokenfab.design("tellme", t=2, q=2).fpga(target="ecp5-85k", work_dir=build_dir / "fpga")
    assert r.luts > 0 and r.fmax_mhz and r.fmax_mhz > 10


def test_kv260_target_reports_xilinx_resources(build_dir):
    r = tokenfab.design("tellme", t=4, q=2).fpga(target="kv260", work_dir=build_dir / "fpga")
    assert r.luts > 1000 and r.ffs > 1000 and r.fmax_mhz is None and r.target == "kv260"


def test_engine_resources_and_uram_equation(bitnet):
    """Eq. 9 per matrix (X inputs, Y outputs) at T=28, B=5: c_URAM = 2, ceil(Q / 2)
    dual-ported partitions. At Q = 4 up/gate (1536 -> 8192) takes ceil(2048 * 19 / 4096)
    = 10 x 2 x 2 = 40 URAMs and down (4096 -> 1536) ceil(384 * 49 / 4096) = 5 x 2 x 2 =
    20: the two in flight take the paper's 60 (Table 1); the calibration of Q."""
    sys = Kv260System()
    assert uram_blocks(sys, 1536, 8192) == 40 and uram_blocks(sys, 4096, 1536) == 20
    assert uram_peak(sys, bitnet) == tc.PAPER_TOTALS["urams"] == 60
    eng = tc.engine_resources(sys, bitnet)
    assert eng["total"]["luts"] < 117_120 and eng["total"]["urams"] == 60


def test_eq9_takes_the_files_uram_ports():
    """Eq. 9's ceil(Q / 2) partitions are the URAM's two ports: the file's ``ports``
    (read before, then ignored) gives ceil(Q / ports), so single-ported URAMs need twice
    the partitions at Q = 4 (up/gate 80 URAMs, more than the KV260's 64 at once)."""
    from tokenfab.arch_models import systems
    one = timing.system(Params(), overrides=systems.parse_overrides(["levels.uram.ports=1"]))
    assert one.uram_ports == 1 and timing.system(Params()).uram_ports == 2
    assert uram_blocks(one, 1536, 8192) == 2 * uram_blocks(Kv260System(), 1536, 8192) == 80


def test_a_single_buffered_weight_level_loads_each_matrix_after_the_last_computes(bitnet):
    """The file's double_buffered (read for nothing before): without it a matrix loads
    only once the previous one has computed, so the URAMs hold one matrix at a time (the
    largest, up/gate's 40, not a pair's 60) and a decode token takes longer, by at most
    the TLMM's compute the overlap hid; the work itself is the same."""
    from tokenfab.arch_models import systems
    single = timing.system(Params(), overrides=systems.parse_overrides(
        ["levels.uram.double_buffered=false"]))
    double = timing.system(Params())
    assert not single.double_buffered and double.double_buffered
    assert uram_peak(single, bitnet) == 40 and uram_peak(double, bitnet) == 60
    a = run_phase(bitnet, double, 1, 128, prefill=False)
    b = run_phase(bitnet, single, 1, 128, prefill=False)
    assert b.busy_s == pytest.approx(a.busy_s, rel=1e-12)
    assert a.seconds < b.seconds <= a.seconds + b.busy_s["tlmm"] * (1 + 1e-9)


@pytest.mark.parametrize("q,pair", [(2, 38 + 20), (4, 40 + 20), (5, 48 + 24), (8, 40 + 24),
                                    (10, 40 + 20)])
def test_eq9_up_gate_and_down_together(q, pair):
    """Eq. 9 by hand for up/gate + down, e.g. Q = 10: ceil(819.2 * 19 / 4096) = 4 x 2 x 5
    = 40 and ceil(153.6 * 49 / 4096) = 2 x 2 x 5 = 20. Only Q = 4 and 10 give Table 1's
    60; Q = 5 needs more than the KV260's 64."""
    sys = Kv260System(q=q)
    assert uram_blocks(sys, 1536, 8192) + uram_blocks(sys, 4096, 1536) == pair


def test_urams_that_cannot_hold_two_matrices_serialise_their_loads(bitnet):
    """At Q = 5 up/gate (48 URAMs) and down (24) do not fit 64 together: down loads only
    once up/gate has computed. Decode, which the weight stream bounds, is slower than
    with twice the URAMs, where the loads overlap; at Q = 4 (60) it is not."""
    def step(**kw):
        return run_phase(bitnet, Kv260System(**kw), 1, 128, prefill=False).seconds
    assert step(q=5) > 1.01 * step(q=5, urams=128)
    assert step(q=4) == pytest.approx(step(q=4, urams=128), rel=1e-9, abs=0)


def test_a_matrix_larger_than_the_urams_loads_in_slices():
    """Llama-2-7B's up/gate (4096 -> 22016) needs 264 URAMs: it loads in slices of at
    most 32 (two in flight), and the run says so."""
    sys = Kv260System()
    parts = weight_pieces(sys, 4096, 22016)
    assert len(parts) > 1 and all(u <= 32 for _, u in parts)
    assert sum(k for k, _ in parts) == 22016
    r = tokenfab.design("tellme").simulate(model="llama-2-7b", prompt=16, gen=2)
    assert any("up_gate in" in a and "slices" in a for a in r.run.assumptions)


def test_the_board_is_a_file_and_takes_set():
    slow = tokenfab.design("tellme").simulate(model="bitnet-b1.58-large", prompt=64, gen=8,
                                              overrides={"clock": "250MHz"}).to_dict()
    base = tokenfab.design("tellme").simulate(model="bitnet-b1.58-large", prompt=64,
                                              gen=8).to_dict()
    assert slow["ttft_s"] > 1.2 * base["ttft_s"]
    names = {c["name"] for c in slow["calibrations"]}
    assert "tellme_clock_hz" not in names and "tellme_q" in names
    with pytest.raises(UsageError, match="cannot double-buffer even 4 outputs"):
        tokenfab.design("tellme").simulate(model="bitnet-b1.58-large", prompt=8, gen=2,
                                           overrides={"levels.uram.instances": 1})
    with pytest.raises(UsageError, match="do not fit the kv260 system's BRAM"):
        tokenfab.design("tellme").simulate(model="bitnet-b1.58-large", prompt=8, gen=2,
                                           overrides={"levels.bram.instances": 1})
    with pytest.raises(UsageError, match="template 'accelerator' is not one"):
        tokenfab.design("tellme").simulate(model="bitnet-b1.58-large", prompt=8, gen=2,
                                           system="asic")


def test_cost_cli(capsys):
    from tokenfab.cli import main
    assert main(["cost", "tellme", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert within(out["tokens_per_j"], 5.2, 0.02) and out["engine_resources"]["total"]["luts"] > 0
    assert main(["cost", "tellme", "--node", "5nm"]) == 2
    assert "must be 16nm" in capsys.readouterr().err


def test_cost_peaks_above_its_run_block_by_block():
    """The chip's peak: the calibrated static draw, the TLMM doing T x Q lookups every
    fabric cycle, the Arm cores busy, the URAMs and BRAMs read every cycle and filled at
    the DDR's rate; at least what the run draws. No die area: the FPGA's is not the
    design's (AMD publishes none for the XCK26); utilisation stands for it."""
    c = tokenfab.design("tellme").cost()
    assert set(c.blocks) == {"static", "tlmm", "arm_cores", "uram", "bram"}
    assert c.chip_peak_power_w == pytest.approx(
        sum(b["peak_power_w"] for b in c.blocks.values()), rel=1e-12)
    assert c.chip_peak_power_w >= c.chip_power_w > c.blocks["static"]["peak_power_w"]
    assert c.area_mm2 is None and 0 < c.kv260_utilization["luts"] < 1
