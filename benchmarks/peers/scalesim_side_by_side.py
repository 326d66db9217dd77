"""SCALE-Sim 3 and tokenfab on the same GEMMs, in one process, one after the other.

Not run by CI (SCALE-Sim is an optional peer). In a virtual environment holding both
(SCALE-Sim 3.0.0 needs numpy < 2, which tokenfab accepts):

    python3 -m venv /tmp/ssv && /tmp/ssv/bin/pip install 'numpy<2' scalesim==3.0.0
    /tmp/ssv/bin/pip install -e . 'numpy<2'
    /tmp/ssv/bin/python benchmarks/peers/scalesim_side_by_side.py

What each side computes, so that the ratio is of like with like:

- SCALE-Sim simulates the array cycle by cycle and writes what it computes: the SRAM and
  DRAM address traces of every operand (kept here on a temporary disk, ``save_disk_space``
  as its own runs use), then its compute and access reports, from which the total cycles
  (prefetch included) are read.
- tokenfab (``arch_models/systolic_array/memory.py``, ``gemm_with_memory``) computes the
  same total cycles from the fold order, the double-buffered SRAMs and each DRAM port's
  words per cycle, with SCALE-Sim's ofmap drain (``on-write``); it writes no trace.

Both run on the same GEMMs (shapes SCALE-Sim finishes in under a minute), the same 16 x 16
array, SRAM sizes and USER bandwidths, timed with ``time.perf_counter`` around the call
(SCALE-Sim's includes writing its traces and reports, which is how it computes; neither
includes process start). The cycles are printed side by side; the test of their agreement
is ``tests/test_peers.py`` on 216 recorded points.
"""
from __future__ import annotations

import time

from scalesim_reference import scalesim_report

# (dataflow, M, K, N, ifmap KiB, filter KiB, ofmap KiB, words per cycle): session 10's
CASES = [("ws", 64, 256, 256, 64, 64, 1, 8), ("os", 16, 512, 512, 16, 512, 16, 2),
         ("is", 128, 128, 256, 32, 64, 1, 8), ("ws", 8, 2048, 128, 32, 512, 16, 32)]
R = C = 16


def scalesim_cycles(df, M, K, N, I, F, O, bw) -> float:
    rep = scalesim_report(R, C, df, M, K, N, I, F, O, bw)
    return float(rep["Total Cycles (incl. prefetch)"])


def tokenfab_cycles(df, M, K, N, I, F, O, bw) -> float:
    from tokenfab.arch_models.systolic_array.memory import gemm_with_memory
    r = gemm_with_memory(R, C, df, M, K, N, (I * 1024, F * 1024, O * 1024), (bw, bw, bw),
                         drain="on-write")
    return float(r["total_cycles"])


def main() -> None:
    import scalesim
    import tokenfab
    print(f"SCALE-Sim {getattr(scalesim, '__version__', '3.0.0')} and tokenfab "
          f"{tokenfab.__version__}, one process, {R} x {C} array, USER bandwidth")
    print("| GEMM, SRAMs (KiB), words/cycle | SCALE-Sim cycles, s | tokenfab cycles, s "
          "| speed |\n|---|---|---|---|")
    tokenfab_cycles(*CASES[0])               # imports and first-call caches out of the way
    for case in CASES:
        t = time.perf_counter()
        ss = scalesim_cycles(*case)
        t_ss = time.perf_counter() - t
        t = time.perf_counter()
        ours = tokenfab_cycles(*case)
        t_us = time.perf_counter() - t
        df, M, K, N, I, F, O, bw = case
        print(f"| {df.upper()} {M}x{K}x{N}, {I}/{F}/{O}, {bw} | {ss:,.0f}, {t_ss:.2f} s "
              f"| {ours:,.0f}, {t_us * 1e3:.1f} ms | {t_ss / t_us:,.0f}x |", flush=True)


if __name__ == "__main__":
    main()
