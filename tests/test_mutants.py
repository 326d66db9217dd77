"""Mutants that must fail: deliberately broken variants of every design's RTL (and of the
cycle model) go through the same verification as the real ones, and each must be
reported, by mismatching words or by cycle count. A bench that passes them would not be
checking anything.

Each mutant patches one name the elaboration (or the timing model) looks up, for the
duration of one verification, into its own work folder (the mutated Verilog must never
reach the real designs' builds). The configurations are ones tests/test_rtl_verify.py
verifies unmutated, so each failure here is the mutant's own.
"""
from contextlib import contextmanager
import importlib

import numpy as np
import pytest

import tokenfab
from tokenfab.hw.common import sequencer
from tests.test_rtl_verify import PARAM_SETS


def _no_backpressure(self, m, *, cycles_per_tile, last):
    """StreamUnit.add_sequencer with the sink's ready ignored: the unit overwrites its
    output register while the sink is still holding it off."""
    m.submodules.seq = seq = sequencer.TileSequencer(cycles_per_tile=cycles_per_tile)
    m.d.comb += [seq.in_valid.eq(self.i_stream.valid), seq.in_last.eq(last),
                 self.i_stream.ready.eq(seq.in_ready),
                 self.o_stream.valid.eq(seq.out_valid), seq.out_ready.eq(1)]
    return seq


def _drop_last_term(values):
    values = list(values)
    return _ADDER_TREE(values[:-1] or values)


def _rolled(fn):
    """A table-coefficient function whose rows are off by one (the mirror misaligned)."""
    return lambda *a, **k: np.roll(fn(*a, **k), 1, axis=0)


def _delay_one_short(m, en, value, depth, name):
    return _DELAY(m, en, value, max(0, depth - 1), name)


from tokenfab.hw.common.arith import adder_tree as _ADDER_TREE  # noqa: E402
from tokenfab.hw.common.skew import delay as _DELAY  # noqa: E402

# Configurations that tests/test_rtl_verify.py verifies unmutated (so each failure here is
# the mutant's own): one of each design's parameter sets.
LTC = PARAM_SETS["lut-tensor-core"][4]
# (id, design, params, module, attribute, replacement(original) -> mutant, detected by)
MUTANTS = [
    ("ltc-sign-plane-flipped", "lut-tensor-core", LTC, "tokenfab.hw.lut_tensor_core.top",
     "Mux", lambda orig: (lambda s, a, b: orig(s, b, a)), "mismatch"),
    ("ltc-half-table-mirror-off-by-one", "lut-tensor-core", LTC,
     "tokenfab.hw.lut_tensor_core.top", "symmetric_table_coeffs", _rolled, "mismatch"),
    ("ltc-no-backpressure-stall", "lut-tensor-core", LTC,
     "tokenfab.hw.common.sequencer", "StreamUnit.add_sequencer",
     lambda orig: _no_backpressure, "mismatch"),
    ("ltc-cycle-model-off-by-one", "lut-tensor-core", LTC,
     "tokenfab.arch_models.lut_tensor_core.timing", "unit_cycles",
     lambda orig: (lambda p, n: orig(p, n) + 1), "cycles"),
    ("mac-adder-tree-drops-a-product", "mac-array", PARAM_SETS["mac-array"][1],
     "tokenfab.hw.mac_array.top", "adder_tree", lambda orig: _drop_last_term, "mismatch"),
    ("systolic-skew-one-short", "systolic-array", PARAM_SETS["systolic-array"][1],
     "tokenfab.hw.systolic_array.top", "delay", lambda orig: _delay_one_short, "mismatch"),
    ("mixpe-skew-one-short", "mixpe", PARAM_SETS["mixpe"][2],
     "tokenfab.hw.mixpe.top", "delay", lambda orig: _delay_one_short, "mismatch"),
    ("hnlpu-adder-tree-drops-a-term", "hnlpu", PARAM_SETS["hnlpu"][3],
     "tokenfab.hw.hnlpu.top", "adder_tree", lambda orig: _drop_last_term, "mismatch"),
    ("tellme-table-off-by-one", "tellme", PARAM_SETS["tellme"][2],
     "tokenfab.hw.tellme.top", "ternary_table_coeffs", _rolled, "mismatch"),
    ("sail-exponent-max-ignores-one-side", "sail", PARAM_SETS["sail"][2],
     "tokenfab.hw.sail.top", "_max", lambda orig: (lambda a, b: a), "mismatch"),
]


@contextmanager
def patched(module: str, attribute: str, make):
    obj = importlib.import_module(module)
    *owner, name = attribute.split(".")
    for part in owner:
        obj = getattr(obj, part)
    original = getattr(obj, name)
    setattr(obj, name, make(original))
    try:
        yield
    finally:
        setattr(obj, name, original)


@pytest.mark.slow
@pytest.mark.parametrize("mid, design, params, module, attribute, make, kind", MUTANTS,
                         ids=[m[0] for m in MUTANTS])
def test_mutant_is_reported(mid, design, params, module, attribute, make, kind, build_dir):
    d = tokenfab.design(design, **params)
    # A mutant's Verilog goes to its own folder, never where the real design is verified;
    # the cycle-model mutant changes no Verilog and reuses the real design's build.
    work = build_dir / ("verify" if kind == "cycles" else f"mutants/{mid}")
    with patched(module, attribute, make):
        r = d.verify(vectors=60, seed=3, work_dir=work)
    assert not r.passed, f"mutant {mid} passed verification"
    if kind == "mismatch":
        assert r.mismatches > 0 or r.timeouts
    else:
        assert r.mismatches == 0 and r.rtl_cycles != r.model_cycles
