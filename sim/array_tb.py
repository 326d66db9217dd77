"""What the systolic arrays' testbenches share: expected rows from the golden model and
beats packed by the RTL's own ``lib.data`` layouts."""
from __future__ import annotations

import re

import numpy as np

from tokenfab.hw.common.packing import pack


class ArrayTestbench:
    """Subclasses set ``golden`` (with ``expected(p, beats)``) and ``top`` (with
    ``in_layout(p)`` and ``out_layout(p)``) and write ``cases``."""

    golden = None
    top = None

    def expected(self, p, beats):
        return self.golden.expected(p, beats)

    def ops(self, p, cases) -> dict:
        """MACs of the random GEMMs in ``cases`` (named ``random_<i>_<M>x<K>x<N>``)."""
        macs = 0
        for name, _ in cases:
            m = re.fullmatch(r"random_\d+_(\d+)x(\d+)x(\d+)", name)
            if m is None:
                raise ValueError(f"case {name!r} is not a random GEMM")
            macs += int(m.group(1)) * int(m.group(2)) * int(m.group(3))
        return {"MAC": macs}

    def pack_in(self, p, beat) -> int:
        return pack(self.top.in_layout(p), beat)

    def pack_out(self, p, out) -> int:
        return pack(self.top.out_layout(p), np.asarray(out).tolist())
