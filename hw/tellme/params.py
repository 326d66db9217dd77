"""Parameters of TeLLMe's units (Qiao et al., FPGA '26): the table-lookup ternary matmul
(TLMM) engine and the RMS-MAX unit."""
from __future__ import annotations

import dataclasses
import math

from tokenfab.params import ParamsBase, param

UNITS = ("tlmm", "rmsmax")
TABLES = ("full", "half")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(ParamsBase):
    """``unit`` selects the generated unit; the other fields belong to one of them.

    TLMM (``unit=tlmm``)
        g : ternary weights per group; a group is one index of ``ceil(log2 3**g)`` bits.
        t : tables built in parallel per beat, from ``t * g`` INT8 activations.
        q : index vectors looked up per cycle, each with ``t`` indices (``q * t`` lookups).
        table : ``full`` (all ``3**g`` entries, the paper's choice) or ``half``
            (``(3**g - 1) / 2`` entries and sign logic on every read).
        acc_bits : width of the output accumulators (the paper's INT32).
    System (the board is a system file, ``kv260`` by default; these replace its fields
    when set, as ``--set`` does)
        clock_mhz : fabric clock, 0 for the file's (kv260: 333.7, calibrated to the
            paper's TTFT; the paper does not give it);
        ddr_gbps : DDR bandwidth, 0 for the file's (kv260: the paper's 17.1 GB/s; the
            K26's 64-bit DDR4 peaks at 19.2 GB/s at 2,400 MT/s);
        lm_head_gbps : the rate the FP16 LM head streams at, 0 for the file's (kv260: the
            calibrated value, which stands for a decode overhead fitted to 25 tokens/s).
    RMS-MAX (``unit=rmsmax``)
        d : vector length; x_bits : signed input width; gamma_bits : signed RMSNorm
        weight width; frac_bits : fraction bits of the 1/RMS output.

    Defaults are the paper's G = 3, T = 28 with the full table. Q is not published: 4 is
    CALIBRATED to the paper's 60 URAMs through its Eq. 9 (the only Q that gives 60).
    """

    unit: str = param("tlmm", "the generated unit: TLMM engine or RMS-MAX", choices=UNITS)
    g: int = param(3, "TLMM: ternary weights per index group", lo=1, hi=5)
    t: int = param(28, "TLMM: tables built in parallel per beat", lo=1, hi=64)
    q: int = param(4, "TLMM: index vectors looked up per cycle (calibrated)", lo=1, hi=32)
    table: str = param("full", "TLMM: full table or half table with sign logic",
                       choices=TABLES)
    acc_bits: int = param(32, "TLMM: width of the output accumulators", lo=12, hi=48)
    d: int = param(64, "RMS-MAX: vector length", lo=2, hi=4096)
    x_bits: int = param(16, "RMS-MAX: signed input width", lo=4, hi=24)
    gamma_bits: int = param(16, "RMS-MAX: signed RMSNorm weight width", lo=2, hi=24)
    frac_bits: int = param(16, "RMS-MAX: fraction bits of the 1/RMS output", lo=4, hi=24)
    clock_mhz: float = param(0.0, "system: fabric clock in MHz; 0 = the system file's "
                             "(kv260: the calibrated 333.7)", lo=0.0, hi=1000)
    ddr_gbps: float = param(0.0, "system: DDR bandwidth in GB/s; 0 = the system file's "
                            "(kv260: 17.1)", lo=0.0, hi=1000)
    lm_head_gbps: float = param(0.0, "system: the LM head's bandwidth on the Arm cores in "
                                "GB/s; 0 = the system file's (kv260: the calibrated 3.33, a "
                                "decode overhead the paper does not attribute)", lo=0.0,
                                hi=1000)

    # ---- TLMM
    @property
    def n_tb(self) -> int:
        """Table entries of the full table: ``3**g``."""
        return 3 ** self.g

    @property
    def stored_entries(self) -> int:
        return self.n_tb if self.table == "full" else (self.n_tb - 1) // 2

    @property
    def idx_bits(self) -> int:
        """Index width B_idx = ceil(log2 3**g)."""
        return max(1, math.ceil(math.log2(self.n_tb)))

    @property
    def entry_bits(self) -> int:
        """Table entry width B_TB = 8 + ceil(log2 g) (paper): exact for absmax INT8
        activations in [-127, 127]."""
        return 8 + math.ceil(math.log2(self.g)) if self.g > 1 else 8

    # ---- RMS-MAX
    @property
    def recip_bits(self) -> int:
        """Fraction bits S of the reciprocal 127 * 2**S / max |x * gamma|."""
        return 24

    @property
    def rmsmax_cycles(self) -> int:
        """Cycles per vector: one to reduce, the divider's quotient bits (the longer of the
        divider and the 1/RMS search), one to emit."""
        div = self.recip_bits + 7
        rsq = self.frac_bits + 1
        return 1 + max(div, rsq) + 1

    # ---- shared
    @property
    def cycles_per_tile(self) -> int:
        return 1 if self.unit == "tlmm" else self.rmsmax_cycles

    @property
    def macs_per_tile(self) -> int:
        return self.q * self.t * self.g if self.unit == "tlmm" else self.d

    @property
    def rtl_max_macs(self) -> int:
        """The largest RTL generated (rtl.export.check_rtl_size), in ``macs_per_tile``.
        TLMM, q x t x g: elaboration is about linear (the default 420 in 2.2 s, 8,192 in
        84 s and 2.2 GB). RMS-MAX, d: d = 64 takes 15 s, 128 63 s, and 256 runs Amaranth's
        Yosys out of memory after 4 min (BENCHMARKS.md)."""
        return 4096 if self.unit == "tlmm" else 128
