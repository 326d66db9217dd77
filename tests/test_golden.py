"""Golden models: the LUT datapath equals the plain integer product for every width."""
import numpy as np
import pytest

from tokenfab.arch_models.common.tiles import offset_correct, reinterpret, wrap_signed
from tokenfab.arch_models.lut_tensor_core import golden as ltc
from tokenfab.arch_models.mac_array import golden as mac
from tokenfab.hw.lut_tensor_core.params import Params as LP, table_storage_bits
from tokenfab.hw.mac_array.params import Params as MP
from tokenfab.errors import UsageError


@pytest.mark.parametrize("weight_bits", [1, 2, 3, 4])
@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_lut_gemm_equals_integer_product(weight_bits, k):
    rng = np.random.default_rng(weight_bits * 10 + k)
    p = LP(m=3, n=5, k=k, weight_bits=weight_bits, act_bits=8)
    a = rng.integers(-128, 128, (7, 4 * k + 1))
    q = rng.integers(0, 1 << weight_bits, (11, 4 * k + 1))
    out = ltc.ref_gemm(p, a, q)
    assert (out == a @ reinterpret(q, weight_bits).T).all()
    # With the offset correction the unit gives the product with the unsigned codes ...
    assert (offset_correct(out, a, weight_bits) == a @ q.T).all()
    # ... and with signed two's-complement weights w = q - 2**(b-1) too.
    if weight_bits > 1:
        w = q - (1 << (weight_bits - 1))
        signed = offset_correct(out, a, weight_bits) - (1 << (weight_bits - 1)) * a.sum(1)[:, None]
        assert (signed == a @ w.T).all()


def test_one_bit_weights_are_plus_minus_one():
    assert list(reinterpret([0, 1], 1)) == [-1, 1]
    assert list(reinterpret([0, 15], 4)) == [-15, 15]


def test_symmetrized_table_has_2_pow_k_minus_1_entries():
    assert LP(k=4).table_entries == 8
    for k in range(2, 9):
        assert ltc.tables(np.ones((1, k), dtype=int), k).shape == (1, 2 ** (k - 1))


def test_table_odd_symmetry_covers_the_full_table():
    """LUT[w] = -LUT[~w]: the stored half plus negation gives all 2**K sign patterns."""
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, 4)
    half = ltc.tables(a[None, :], 4)[0]
    for pattern in range(16):
        signs = np.array([1 if (pattern >> j) & 1 else -1 for j in range(4)])
        want = int(a @ signs)
        if pattern >> 3:
            got = -half[~pattern & 7]
        else:
            got = half[pattern & 7]
        assert got == want


def test_table_storage_follows_eq7():
    # Eq. 7: M x 2**(K-1) x LUT_BIT; the paper's M2N64K4 tile with FP16 entries: 256 bits.
    assert table_storage_bits(2, 4, 16) == 256
    p = LP()
    assert p.lut_bits == 11          # 4 x (-128) = 512 needs 11 signed bits
    assert p.table_storage_bits == 2 * 8 * 11
    assert LP(act_bits=16).lut_bits == 19
    assert p.weight_storage_bits == 4 * 64 * 2      # Eq. 8


def test_extreme_activation_sum_fits_lut_bits():
    p = LP(k=4, act_bits=8)
    t = ltc.tables(np.full((1, 4), -128), 4)
    lo, hi = -(1 << (p.lut_bits - 1)), (1 << (p.lut_bits - 1)) - 1
    assert t.max() == 512                 # entry 0: all signs -1 on all -128
    assert lo <= t.min() and t.max() <= hi
    assert t.max() > (1 << (p.lut_bits - 2)) - 1     # one bit fewer would overflow


def test_pack_weights_inverts_low_bits_when_top_bit_set():
    # codes for K=4, 1 bit: pattern 1000b (w3=1) -> stored 1111b (sign + ~000)
    packed = ltc.pack_weights(np.array([[0, 0, 0, 1]]), 1, 4)
    assert packed[0, 0] == 0b1111
    packed = ltc.pack_weights(np.array([[1, 0, 1, 0]]), 1, 4)
    assert packed[0, 0] == 0b0101


def test_accumulator_wraps_like_twos_complement():
    assert list(wrap_signed(np.array([127, 128, -129]), 8)) == [127, -128, 127]
    p = LP(m=1, n=1, k=2, acc_bits=8, weight_bits=1)
    beats = [ltc.encode_beat(p, [[-128, -128]], [[0, 0]], i == 3) for i in range(4)]
    # each beat adds (-128)(-1) + (-128)(-1) = 256; four beats = 1024 -> wraps to 0
    assert int(ltc.ref_beats(p, beats)[0][0, 0]) == 0


def test_mac_dequantizer_scales_offsets_and_saturates():
    """Each weight: sat(s (q' - z)) in the activation format, one scale and offset per
    group of K and output column, written out element by element."""
    rng = np.random.default_rng(6)
    p = MP(m=2, n=4, k=4, weight_bits=4, scale_bits=5, act_bits=6, group=8)
    a = rng.integers(-32, 32, (3, 21))
    q = rng.integers(0, 16, (5, 21))
    s = rng.integers(0, 32, (5, 3))
    z = rng.integers(-16, 16, (5, 3))
    w = np.zeros((5, 21), np.int64)
    for n in range(5):
        for k in range(21):
            v = s[n, k // 8] * ((2 * q[n, k] - 15) - z[n, k // 8])
            w[n, k] = min(31, max(-32, v))
    assert (w == 31).any() and (w == -32).any()                 # both limits reached
    assert (mac.ref_gemm(p, a, q, s, z) == a @ w.T).all()
    beats = [mac.encode_beat(p, a[:2, :4], q[:4, :4], True, s[:4, 0], z[:4, 0])]
    assert (mac.ref_beats(p, beats)[0] == a[:2, :4] @ w[:4, :4].T).all()


def test_mac_group_must_hold_whole_beats():
    with pytest.raises(UsageError, match=r"group must be a multiple of k \(3\)"):
        MP(k=3)
    assert MP(k=3, group=6).group == 6


def test_mac_and_lut_compute_the_same_function():
    rng = np.random.default_rng(5)
    for b in (1, 2, 4):
        a = rng.integers(-128, 128, (5, 13))
        q = rng.integers(0, 1 << b, (9, 13))
        assert (ltc.ref_gemm(LP(m=2, n=4, weight_bits=b), a, q)
                == mac.ref_gemm(MP(m=2, n=4, weight_bits=b), a, q)).all()
