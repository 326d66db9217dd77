"""The generated Verilog under cocotb: bit-exact against the golden model, and the timing
model's cycles equal to the measured ones, over several parameter sets."""
import json
import os
import time

import numpy as np
import pytest

import tokenfab
from tokenfab.rtl import export
from tokenfab.sim import runner
from tests.conftest import icarus

PARAM_SETS = {
    "lut-tensor-core": [
        dict(),                                                   # paper default M2N64K4, W2
        dict(m=2, n=8, k=4, weight_bits=1),
        dict(m=3, n=5, k=3, weight_bits=3, act_bits=16),
        dict(m=1, n=4, k=6, weight_bits=4, acc_bits=14),          # narrow acc: wraps
        dict(m=2, n=4, k=2, weight_bits=2, act_bits=4, acc_bits=10),
        # the paper's boundary: tables from the vector unit, accumulators in the RF
        dict(precompute="external", accumulators="regfile"),
        dict(m=3, n=5, k=3, weight_bits=3, acc_bits=12, accumulators="regfile"),
        dict(k=5, n=16, act_bits=5, weight_bits=1, precompute="external"),   # 16-entry tables
    ],
    "mac-array": [
        dict(),
        dict(m=2, n=8, k=4, weight_bits=1),
        dict(m=3, n=5, k=3, weight_bits=6, act_bits=16, group=6),
        dict(m=1, n=4, k=6, weight_bits=4, acc_bits=14, group=6),
        dict(m=1, n=1, k=1, weight_bits=8, act_bits=2, acc_bits=8),   # extremes: wraps
        # the dequantizer saturates: s (q' - z) reaches 255 x 31 against a 6-bit format
        dict(m=2, n=4, k=4, weight_bits=4, scale_bits=8, act_bits=6, group=8),
    ],
    "systolic-array": [
        dict(),                                                   # 16 x 16 OS, int8
        dict(rows=4, cols=3, dataflow="ws"),
        dict(rows=3, cols=5, dataflow="is", dtype="int4", acc_bits=12),   # wraps
        dict(rows=1, cols=1, acc_bits=10),                        # one PE: no skew at all
        dict(rows=5, cols=2, dtype="int16"),
        dict(rows=2, cols=6, dataflow="ws", acc_bits=12),
    ],
    "mixpe": [
        # the default PE (W4A8, 4 lanes, G 128, a dequantiser in every PE) in a 2 x 2
        # array; the demo verifies it in 8 x 8, the default 64 x 64 is too big for CI
        dict(rows=2, cols=2),
        dict(mode="w4a16", rows=3, cols=3, group=8, lanes=2, dequant="edge"),
        dict(rows=2, cols=3, group=4, lanes=1, pe="serial", dequant="edge"),
        dict(mode="w4a16", rows=2, cols=4, group=6, lanes=3, pe="serial"),
        dict(rows=2, cols=1, lanes=4, fuse="mn", group=8),        # 4 x 2 one-product cells
    ],
    "sail": [
        dict(),                                                   # 8 arrays: 40 s to build
        dict(nbw=4, weight_bits=2, act_bits=6, slots=3, arrays=1, prt_entries=0,
             acc_bits=16, lines=128),                              # no table; acc wraps
        dict(nbw=2, weight_bits=3, act_bits=4, arrays=2, slots=1, prt_entries=2, lines=128),
        dict(nbw=2, weight_bits=2, act_bits=3, arrays=1, slots=2, prt_entries=1, lines=64,
             acc_bits=12),                                         # narrowest: wraps
        dict(nbw=4, weight_bits=4, act_bits=8, arrays=1, slots=1, prt_entries=4, lines=256),
    ],
    "hnlpu": [
        dict(),                                                   # 64 x 16 FP4, neuron
        dict(style="cell"),
        dict(rows=16, cols=4, weight_format="int4", input_bits=6),
        dict(rows=24, cols=3, weight_format="ternary", style="cell", input_bits=4),
        dict(rows=9, cols=5, weight_format="fp4", input_bits=12, density=0.5, seed=5),
        dict(rows=6, cols=3, density=0.0),                        # no weights at all
        dict(rows=1, cols=1, weight_format="int4", style="cell", input_bits=2),
    ],
    "tellme": [
        dict(),                                                   # paper G3 T28, full table
        dict(t=4, q=3, table="half"),
        dict(g=2, t=3, q=2),
        dict(g=4, t=3, q=2, table="half"),
        dict(g=1, t=5, q=1, acc_bits=12),                         # narrow acc: wraps
        dict(unit="rmsmax", d=8, x_bits=8, gamma_bits=6, frac_bits=10),
        dict(unit="rmsmax", d=32),
    ],
}
CASES = [(d, p) for d, ps in PARAM_SETS.items() for p in ps]

# Verification at volume: every CI run drives at least VOLUME random beats per design
# through the generated Verilog (every word compared, cycles counted), spread over its
# parameter sets; the large default configurations take HEAVY beats, the small and odd
# ones share the rest. The seed rotates per run; a failure names it, and
# TOKENFAB_VERIFY_SEED=<seed> replays it. The fixed-seed run (seed 7, 150 beats) stays.
VOLUME = 100_000


def _key(design, params):
    return design, tuple(sorted(params.items()))


# Default-size configurations (slow per beat) take a fixed share; the RMS-MAX unit is
# TeLLMe's second unit (33 cycles a beat), verified beside the TLMM's volume. SAIL's beats
# are instructions (line writes and reads, GEMVs of a few to ~1,000 cycles).
HEAVY = {_key(d, p): n for d, p, n in [
    ("lut-tensor-core", {}, 3000), ("mac-array", {}, 3000), ("systolic-array", {}, 1000),
    ("hnlpu", {}, 2000), ("tellme", {}, 1500),
    ("lut-tensor-core", dict(precompute="external", accumulators="regfile"), 3000),
    ("tellme", dict(unit="rmsmax", d=8, x_bits=8, gamma_bits=6, frac_bits=10), 1500),
    ("tellme", dict(unit="rmsmax", d=32), 1000), ("sail", {}, 10000)]}
SEED = int(os.environ.get("TOKENFAB_VERIFY_SEED") or time.time_ns() % 2**32)


def volume(design: str, params: dict) -> int:
    """Random beats for one parameter set (see VOLUME)."""
    if _key(design, params) in HEAVY:
        return HEAVY[_key(design, params)]
    sets = PARAM_SETS[design]
    heavy = sum(HEAVY.get(_key(design, p), 0) for p in sets
                if p.get("unit", "tlmm") == "tlmm")
    light = sum(1 for p in sets if _key(design, p) not in HEAVY)
    return -(-(VOLUME - heavy) // light)


def test_volume_reaches_the_goal_with_five_sets_per_design():
    for design, sets in PARAM_SETS.items():
        main = [p for p in sets if p.get("unit", "tlmm") == "tlmm"]
        assert len(main) >= 5, design
        assert sum(volume(design, p) for p in main) >= VOLUME, design


@pytest.fixture
def one_conversion(monkeypatch):
    """A test's runs of one configuration share its Verilog conversion (Amaranth takes
    3-5 s for a default-size design); within this test only, so that no other test (the
    mutants) can be handed a text converted before it patched the elaboration."""
    texts = {}
    convert = export.verilog_text

    def once(component, module):
        if module not in texts:
            texts[module] = convert(component, module)
        else:           # elaborated already, as this text: not Amaranth's unused warning
            component._MustUse__used = True
        return texts[module]
    monkeypatch.setattr(export, "verilog_text", once)


@pytest.mark.slow
@pytest.mark.parametrize("design,params", CASES,
                         ids=[f"{d}-{'-'.join(f'{k}{v}' for k, v in p.items()) or 'default'}"
                              for d, p in CASES])
def test_rtl_bit_exact_and_cycles_match(design, params, build_dir, one_conversion):
    d = tokenfab.design(design, **params)
    r = d.verify(vectors=150, seed=7, work_dir=build_dir / "verify")
    assert r.mismatches == 0, r.first_mismatches
    assert not r.timeouts
    assert r.rtl_cycles == r.model_cycles
    n = volume(design, params)
    r = d.verify(vectors=n, seed=SEED, work_dir=build_dir / "verify")
    replay = f"seed {SEED} ({n} beats): replay with TOKENFAB_VERIFY_SEED={SEED}"
    assert r.vectors >= n
    assert r.mismatches == 0 and not r.timeouts, f"{replay}: {r.first_mismatches}"
    assert r.rtl_cycles == r.model_cycles, f"{replay}: {r.rtl_cycles} != {r.model_cycles}"
    assert r.outputs >= 9 and r.passed


@pytest.mark.slow
@pytest.mark.parametrize("design", ["lut-tensor-core", "mac-array"])
def test_cycles_match_for_several_sequence_lengths(design, build_dir, one_conversion):
    d = tokenfab.design(design, m=2, n=4, weight_bits=3 if design == "lut-tensor-core" else 2)
    seen = set()
    for n in (41, 52, 64):           # past every design's corner cases (MAC: 39 beats)
        r = d.verify(vectors=n, seed=n, work_dir=build_dir / "verify")
        assert r.rtl_cycles == r.model_cycles and r.mismatches == 0
        seen.add(r.rtl_cycles)
    assert len(seen) == 3


@pytest.mark.slow
@pytest.mark.parametrize("design,params", [("lut-tensor-core", dict(m=2, n=4)),
                                           ("hnlpu", dict(rows=8, cols=3))])
def test_bench_detects_a_wrong_output_word(design, params, build_dir):
    """The bench is not vacuous: one flipped bit in one expected word is reported."""
    d = tokenfab.design(design, **params)
    entry, p = d.entry, d.params
    tb = entry.testbench
    cases = tb.cases(p, 20, np.random.default_rng(1))
    beats = [b for _, bs in cases for b in bs]
    expected = [tb.pack_out(p, o) for o in tb.expected(p, beats)]
    expected[3] ^= 1 << 5
    v = export.write(entry, p, build_dir / f"mutant-{design}" / "rtl")
    bdir = runner.build(v, v.stem, build_dir / f"mutant-{design}")
    res = runner.run_vectors(bdir, v.stem, {
        "beats": [hex(tb.pack_in(p, b)) for b in beats], "expected": [hex(e) for e in expected],
        "max_cycles": 1000, "backpressure": True, "seed": 3}, tag="mutant")
    assert res["back_to_back"]["mismatches"] == 1
    assert res["backpressure"]["mismatches"] == 1
    assert res["back_to_back"]["first_mismatches"][0]["index"] == 3


@pytest.mark.slow
@pytest.mark.icarus
@icarus
@pytest.mark.parametrize("design,params", [("lut-tensor-core", dict(m=2, n=4)),
                                           ("mac-array", dict(m=2, n=4)),
                                           ("hnlpu", dict(rows=8, cols=3)),
                                           ("tellme", dict(t=4, q=2, table="half")),
                                           ("tellme", dict(unit="rmsmax", d=8))])
def test_icarus_agrees(design, params, build_dir):
    r = tokenfab.design(design, **params).verify(vectors=40, simulator="icarus",
                                                 work_dir=build_dir / "verify")
    assert r.passed


def test_manifest_describes_the_ports(build_dir):
    d = tokenfab.design("lut-tensor-core", n=8)
    v = d.verilog(build_dir / "rtl-manifest")
    man = json.loads((v.parent / "lut_tensor_core_n8.manifest.json").read_text())
    assert man["design"] == "lut-tensor-core" and man["top"] == "lut_tensor_core_n8"
    assert man["params"]["n"] == 8
    widths = {p["name"]: p["width"] for p in man["ports"]}
    # act 2x4x8 + weights 8 cols x 2 planes x 4 bits + last
    assert widths["i_stream__payload"] == 64 + 64 + 1
    assert widths["o_stream__payload"] == 2 * 8 * 32
    assert "module lut_tensor_core_n8" in v.read_text()


@pytest.mark.slow
def test_an_array_of_many_identical_modules_builds_them_once(build_dir):
    """MixPE at 16 x 16 instantiates its row module 16 times and the PE 16 times a row:
    Verilator builds each once (hierarchical Verilation; flat, the default 64 x 64 never
    finished its front end), bit-exact and cycle-exact like any other build."""
    from pathlib import Path
    from tokenfab.sim.runner import hier_blocks
    r = tokenfab.design("mixpe", rows=16, cols=16).verify(vectors=150, seed=5,
                                                          work_dir=build_dir / "verify")
    assert r.mismatches == 0 and not r.timeouts and r.rtl_cycles == r.model_cycles
    build = Path(r.files["build"])
    vlt = (build / "ports.vlt").read_text()
    assert 'hier_block -module "mixpe_rows16_cols16_pe"' in vlt
    assert 'hier_block -module "mixpe_rows16_cols16_row"' in vlt
    assert (build / "Vmixpe_rows16_cols16_pe").is_dir()
    small = tokenfab.design("mixpe", rows=2, cols=2).verilog()
    assert hier_blocks(Path(small).read_text(), "mixpe_rows2_cols2") == []
