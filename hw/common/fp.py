"""Floating-point pieces for dequantisation units: FP16 operands, an integer times an FP16
scale rounded once to FP32, and an FP32 adder, all IEEE 754 round-to-nearest-even.

The values these units see are restricted in a way that keeps them small: operands are
finite, and every product and sum is zero or a normal FP32 number (the dequant units'
values are multiples of 2**-60 below 2**60, far inside FP32's normal range), so there is
no subnormal, infinite or NaN *result* path. An exact cancellation gives +0. The numpy
models (``tokenfab.arch_models.common.fp``) compute the same values with ``np.float32``.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned

FP32_BIAS = 127
FP16_BIAS = 15


def fp16_fields(m: Module, bits, name: str):
    """(sign, effective exponent 1..31, 11-bit significand) of an FP16 bit pattern;
    subnormals get exponent 1 and no implicit bit."""
    sign = bits[15]
    exp = bits[10:15]
    eff = Signal(unsigned(5), name=f"{name}_e")
    sig = Signal(unsigned(11), name=f"{name}_m")
    m.d.comb += [eff.eq(Mux(exp == 0, 1, exp)), sig.eq(Cat(bits[0:10], exp != 0))]
    return sign, eff, sig


def leading_one(m: Module, x, name: str):
    """Index of the highest set bit of ``x`` (0 when ``x`` is 0)."""
    pos = Signal(range(max(len(x), 2)), name=f"{name}_msb")
    m.d.comb += pos.eq(0)
    for i in range(len(x)):
        with m.If(x[i]):
            m.d.comb += pos.eq(i)
    return pos


def _round_pack(m: Module, sign, mag, exp, width: int, name: str):
    """Pack ``mag`` (leading one at bit ``width - 1``, the bits below the 24 kept ones
    being guard, round and sticky) with biased exponent ``exp`` into FP32, RNE."""
    keep = mag[width - 24:width]
    guard = mag[width - 25]
    rest = mag[:width - 25].any() if width > 25 else Const(0)
    up = guard & (rest | keep[0])
    rounded = Signal(unsigned(25), name=f"{name}_rnd")
    m.d.comb += rounded.eq(keep + up)
    frac = Signal(unsigned(23), name=f"{name}_frac")
    e = Signal(signed(12), name=f"{name}_exp")
    # A carry out of the significand (all ones rounded up) moves the point by one.
    m.d.comb += [frac.eq(Mux(rounded[24], rounded[1:24], rounded[0:23])),
                 e.eq(exp + rounded[24])]
    return Cat(frac, e[0:8], sign)


def scaled_int_to_fp32(m: Module, value, sig, exp_offset, name: str):
    """``value * sig * 2**exp_offset`` rounded once to FP32 (RNE): ``value`` a signed
    integer, ``sig`` an unsigned significand, ``exp_offset`` a signed integer. A zero
    ``value`` gives +0."""
    vw = len(value)
    mag_w = vw + len(sig)
    sign = value[vw - 1]
    absval = Signal(unsigned(vw), name=f"{name}_abs")
    m.d.comb += absval.eq(Mux(sign, -value, value))
    prod = Signal(unsigned(mag_w), name=f"{name}_prod")
    m.d.comb += prod.eq(absval * sig)
    msb = leading_one(m, prod, name)
    width = max(mag_w, 26)
    lz = Signal(range(width), name=f"{name}_lz")
    m.d.comb += lz.eq(width - 1 - msb)
    norm = Signal(unsigned(width), name=f"{name}_norm")
    m.d.comb += norm.eq(prod << lz)
    exp = Signal(signed(12), name=f"{name}_bexp")
    m.d.comb += exp.eq(msb + exp_offset + FP32_BIAS)
    packed = _round_pack(m, sign, norm, exp, width, name)
    out = Signal(unsigned(32), name=name)
    m.d.comb += out.eq(Mux(prod == 0, 0, packed))
    return out


def fp32_add(m: Module, a, b, name: str):
    """``a + b`` for FP32 bit patterns that are zero or normal, rounded RNE (an exact
    cancellation gives +0)."""
    def fields(x, tag):
        e = x[23:31]
        return x[31], e, Cat(x[0:23], e != 0)

    sa, ea, ma = fields(a, "a")
    sb, eb, mb = fields(b, "b")
    swap = Signal(name=f"{name}_swap")
    m.d.comb += swap.eq(Cat(b[0:23], eb) > Cat(a[0:23], ea))
    # big >= small in magnitude
    s_big, e_big, m_big = (Mux(swap, sb, sa), Mux(swap, eb, ea), Mux(swap, mb, ma))
    s_sm, e_sm, m_sm = (Mux(swap, sa, sb), Mux(swap, ea, eb), Mux(swap, ma, mb))
    d = Signal(unsigned(8), name=f"{name}_d")
    m.d.comb += d.eq(e_big - e_sm)
    # 24-bit significands with three bits below (guard, round, sticky).
    big = Signal(unsigned(27), name=f"{name}_big")
    m.d.comb += big.eq(m_big << 3)
    wide = Signal(unsigned(27 + 32), name=f"{name}_wide")   # (small << 3) << 32, >> d
    m.d.comb += wide.eq(Cat(Const(0, 35), m_sm) >> Mux(d > 31, 31, d))
    far = Signal(name=f"{name}_far")
    m.d.comb += far.eq(d > 31)
    small = Signal(unsigned(27), name=f"{name}_small")
    sticky = Signal(name=f"{name}_sticky")
    m.d.comb += [sticky.eq(Mux(far, m_sm.any(), wide[0:32].any())),
                 small.eq(Mux(far, 0, wide[32:59]) | sticky)]
    total = Signal(unsigned(28), name=f"{name}_sum")
    m.d.comb += total.eq(Mux(s_big == s_sm, big + small, big - small))
    msb = leading_one(m, total, f"{name}_lz")
    # Normalise so the leading one sits at bit 27 of a 28-bit field; a right shift
    # (carry out) keeps the shifted-out bit as sticky.
    norm = Signal(unsigned(28), name=f"{name}_norm")
    with m.If(total[27]):
        m.d.comb += norm.eq(Cat(total[0] | total[1], total[2:28], Const(0, 1)) << 1)
    with m.Else():
        lz = Signal(range(28), name=f"{name}_shl")
        m.d.comb += lz.eq(27 - msb)
        m.d.comb += norm.eq(total << lz)
    exp = Signal(signed(12), name=f"{name}_bexp")
    m.d.comb += exp.eq(e_big + msb - 26)
    packed = _round_pack(m, s_big, norm, exp, 28, name)
    out = Signal(unsigned(32), name=name)
    with m.If(a[0:31] == 0):
        m.d.comb += out.eq(b)
    with m.Elif(b[0:31] == 0):
        m.d.comb += out.eq(a)
    with m.Elif(total == 0):
        m.d.comb += out.eq(0)
    with m.Else():
        m.d.comb += out.eq(packed)
    return out
