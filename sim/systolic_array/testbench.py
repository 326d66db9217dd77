"""Verification hooks of the systolic array (the cocotb bench is ``tokenfab.sim.stream_tb``):
named corner-case folds, then random GEMMs mapped fold by fold."""
from __future__ import annotations

import numpy as np

from tokenfab.arch_models.systolic_array import golden
from tokenfab.hw.systolic_array import top
from tokenfab.sim.array_tb import ArrayTestbench


class SystolicTestbench(ArrayTestbench):

    golden = golden
    top = top

    def cases(self, p, n_beats, rng):
        lo, hi = p.operand_range
        R, C = p.rows, p.cols

        def case(name, A, B):
            return name, golden.gemm_beats(p, np.asarray(A), np.asarray(B))

        k = max(R, C) + 3
        cases = [
            # every product at its largest, the same sign everywhere: the worst-case sums
            case("min_times_min", np.full((R, k), lo), np.full((k, C), lo)),
            case("min_times_max", np.full((R, k), lo), np.full((k, C), hi)),
            case("zeros", np.zeros((R, k)), rng.integers(lo, hi + 1, (k, C))),
            case("one_step_folds", rng.integers(lo, hi + 1, (2 * R + 1, 1)),
                 rng.integers(lo, hi + 1, (1, 2 * C + 1))),
            case("identity", np.eye(R, k, dtype=np.int64) * hi,
                 rng.integers(lo, hi + 1, (k, C))),
            case("single_row", rng.integers(lo, hi + 1, (1, 2 * R + 1)),
                 rng.integers(lo, hi + 1, (2 * R + 1, C + 1))),
            # long sums of extreme products: with narrow accumulators they wrap
            case("accumulate_to_wrap", np.full((R, 64), lo), np.full((64, C), lo)),
        ]
        total = sum(len(b) for _, b in cases)
        i = 0
        while total < n_beats:
            M, K, N = (int(x) for x in rng.integers(1, [2 * R + 2, 2 * max(R, C) + 2,
                                                        2 * C + 2]))
            name, beats = case(f"random_{i}_{M}x{K}x{N}", rng.integers(lo, hi + 1, (M, K)),
                               rng.integers(lo, hi + 1, (K, N)))
            cases.append((name, beats))
            total += len(beats)
            i += 1
        return cases

    def power_cases(self, p, n_beats, rng):
        """The power run's work: array-filling GEMMs whose streamed dimension (K for OS,
        M for WS, N for IS) is eight times the array's, so most cycles keep every PE busy
        (``tokenfab asic``; verification keeps the cases above)."""
        lo, hi = p.operand_range
        R, C = p.rows, p.cols
        long = 8 * max(R, C)
        M, K, N = {"os": (R, long, C), "ws": (long, R, C), "is": (C, R, long)}[p.dataflow]
        cases, total, i = [], 0, 0
        while total < n_beats:
            beats = golden.gemm_beats(p, rng.integers(lo, hi + 1, (M, K)),
                                      rng.integers(lo, hi + 1, (K, N)))
            cases.append((f"random_{i}_{M}x{K}x{N}", beats))
            total += len(beats)
            i += 1
        return cases


TESTBENCH = SystolicTestbench()
