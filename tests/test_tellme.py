"""TeLLMe: the offline encoder, the TLMM arithmetic against the plain ternary product, the
RMS-MAX fixed point, and the unit timing."""
import numpy as np
import pytest

from arch_models.common.tile_timing import simulate_sequence
from arch_models.tellme import golden, timing
from hw.common.arith import ternary_table_coeffs
from hw.tellme.params import Params
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
