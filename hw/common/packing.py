"""Pack nested Python/numpy values into the integers that ``lib.data`` layouts describe.

The same layout object the RTL uses for a stream payload is used here, so the testbench,
the golden model and the SimPy model agree on bit positions by construction.
"""
from __future__ import annotations

import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import data


def _leaf(shape) -> Shape:
    return Shape.cast(shape)


def _leaf_array(layout):
    """(lengths, leaf shape) of nested ``ArrayLayout``s of a plain shape (outermost length
    first: a row-major array's shape), or None."""
    dims = []
    while isinstance(layout, data.ArrayLayout):
        dims.append(layout.length)
        layout = layout.elem_shape
    if not dims or isinstance(layout, data.Layout):
        return None
    return tuple(dims), _leaf(layout)


def _pack_leaf_array(dims, shape, value) -> int | None:
    """Element i of the row-major flattened ``value`` at bit ``i * width``, in one numpy
    pass; None where the slow path must decide (a shape that differs, non-integers, a
    value out of range, leaves wider than 62 bits), so its errors are the same."""
    w = shape.width
    if w == 0 or w > 62:
        return None
    arr = np.asarray(value)
    if arr.shape != dims or arr.dtype.kind not in "biu" or arr.dtype == np.uint64:
        return None                     # (uint64 would wrap in the int64 pass)
    v = arr.astype(np.int64).reshape(-1)
    lo = -(1 << (w - 1)) if shape.signed else 0
    hi = (1 << (w - 1)) - 1 if shape.signed else (1 << w) - 1
    if v.size and (v.min() < lo or v.max() > hi):
        return None
    bits = (v[:, None] >> np.arange(w, dtype=np.int64)) & 1     # two's complement bits
    return int.from_bytes(np.packbits(bits.astype(np.uint8).reshape(-1),
                                      bitorder="little").tobytes(), "little")


def pack(layout, value) -> int:
    """Pack ``value`` (int, sequence or mapping, nested like ``layout``) into an integer."""
    if isinstance(layout, data.ArrayLayout):
        leaf = _leaf_array(layout)
        if leaf is not None:
            fast = _pack_leaf_array(*leaf, value)
            if fast is not None:
                return fast
    if isinstance(layout, data.StructLayout):
        out = 0
        for name, field in layout:
            out |= pack(field.shape, value[name]) << field.offset
        return out
    if isinstance(layout, data.ArrayLayout):
        elem = layout.elem_shape
        size = data.Layout.cast(elem).size if isinstance(elem, data.Layout) else _leaf(elem).width
        if len(value) != layout.length:
            raise ValueError(f"array must have {layout.length} elements, not {len(value)}")
        out = 0
        for i in range(layout.length):
            out |= pack(elem, value[i]) << (i * size)
        return out
    shape = _leaf(layout)
    v = int(value)
    lo = -(1 << (shape.width - 1)) if shape.signed else 0
    hi = (1 << (shape.width - 1)) - 1 if shape.signed else (1 << shape.width) - 1
    if not lo <= v <= hi:
        raise ValueError(f"value must fit {shape!r} ({lo}..{hi}), not {v!r}")
    return v & ((1 << shape.width) - 1)


def unpack(layout, raw: int):
    """Inverse of :func:`pack`: arrays come back as nested lists, structs as dicts."""
    if isinstance(layout, data.StructLayout):
        return {name: unpack(field.shape, raw >> field.offset) for name, field in layout}
    if isinstance(layout, data.ArrayLayout):
        elem = layout.elem_shape
        size = data.Layout.cast(elem).size if isinstance(elem, data.Layout) else _leaf(elem).width
        return [unpack(elem, raw >> (i * size)) for i in range(layout.length)]
    shape = _leaf(layout)
    v = raw & ((1 << shape.width) - 1)
    if shape.signed and v >> (shape.width - 1):
        v -= 1 << shape.width
    return v


def pack_signed_matrix(values: np.ndarray, bits: int) -> int:
    """Fast path for a 2-D array of signed ``bits``-wide ints laid out row-major, element 0 at
    bit 0 (what ``ArrayLayout(ArrayLayout(signed(bits), cols), rows)`` means)."""
    mask = (1 << bits) - 1
    out = 0
    for i, v in enumerate(np.asarray(values).reshape(-1).tolist()):
        out |= (int(v) & mask) << (i * bits)
    return out


def unpack_signed_matrix(raw: int, bits: int, rows: int, cols: int) -> np.ndarray:
    mask = (1 << bits) - 1
    half = 1 << (bits - 1)
    flat = [((raw >> (i * bits)) & mask) for i in range(rows * cols)]
    arr = np.array([v - (1 << bits) if v >= half else v for v in flat], dtype=object)
    return arr.reshape(rows, cols)
