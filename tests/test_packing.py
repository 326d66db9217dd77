"""``hw.common.packing.pack``: arrays of plain shapes take a numpy path; it must give the
integer the element-by-element definition gives, and refuse what that refuses."""
import numpy as np
import pytest
from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from tokenfab.hw.common.packing import pack, unpack


def _reference(values, width):
    """Element i of the row-major flattened values at bit i * width, two's complement."""
    out = 0
    for i, v in enumerate(np.asarray(values).reshape(-1).tolist()):
        out |= (int(v) & ((1 << width) - 1)) << (i * width)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_arrays_pack_as_the_definition_says(seed):
    rng = np.random.default_rng(seed)
    width = int(rng.integers(1, 63))
    sign = bool(rng.integers(0, 2))
    dims = tuple(int(d) for d in rng.integers(1, 6, size=int(rng.integers(1, 4))))
    layout = signed(width) if sign else unsigned(width)
    for d in reversed(dims):
        layout = data.ArrayLayout(layout, d)
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if sign else (0, (1 << width) - 1)
    values = rng.integers(lo, hi, size=dims, endpoint=True, dtype=np.int64)
    values.reshape(-1)[:2] = [lo, hi][:values.size]          # both ends of the range
    raw = pack(layout, values)
    assert raw == _reference(values, width)
    assert raw == pack(layout, values.tolist())
    assert unpack(layout, raw) == values.tolist()


def test_structs_of_arrays_and_wide_leaves():
    layout = data.StructLayout({"a": data.ArrayLayout(signed(3), 4), "last": unsigned(1),
                                "wide": data.ArrayLayout(unsigned(70), 2)})
    value = {"a": np.array([-4, 3, 0, -1]), "last": True, "wide": [(1 << 70) - 1, 5]}
    raw = pack(layout, value)
    assert raw & 0xFFF == _reference([-4, 3, 0, -1], 3)
    assert (raw >> 12) & 1 == 1
    assert raw >> 13 == ((1 << 70) - 1) | (5 << 70)


@pytest.mark.parametrize("value,match", [
    (np.array([0, 8, 0]), r"must fit signed\(4\) \(-8\.\.7\), not 8"),
    (np.array([0, 0]), "array must have 3 elements, not 2"),
    (np.array([0, 2**64 - 1, 0], dtype=np.uint64), r"not 18446744073709551615"),
])
def test_the_fast_path_refuses_as_the_slow_one(value, match):
    with pytest.raises(ValueError, match=match):
        pack(data.ArrayLayout(signed(4), 3), value)
