"""Verification hooks of MixPE (the cocotb bench is ``tokenfab.sim.stream_tb``): named
corner-case GEMMs, then random quantised GEMMs mapped fold by fold."""
from __future__ import annotations

import numpy as np

from tokenfab.arch_models.mixpe import golden
from tokenfab.hw.mixpe import top
from tokenfab.sim.array_tb import ArrayTestbench

FP16_MAX = 0x7BFF            # 65504
FP16_MIN_SUB = 0x0001        # 2**-24


class MixPETestbench(ArrayTestbench):

    golden = golden
    top = top

    def cases(self, p, n_beats, rng):
        R, C, G = p.R, p.C, p.group
        K = 2 * G + max(1, G // 2)                   # two whole groups and a partial one
        groups = -(-K // G)

        def case(name, A, Q, S, Z):
            g = golden.QuantGemm(np.asarray(A, np.int64), np.asarray(Q, np.int64),
                                 np.asarray(S, np.int64), np.asarray(Z, np.int64))
            return name, golden.gemm_beats(p, g)

        def full(shape, v):
            return np.full(shape, v, np.int64)

        if p.mode == "w4a8":
            lo, hi = full((R, K), -128), full((R, K), 127)
        else:                                        # +-65504 and the smallest subnormal
            lo, hi = full((R, K), 0xFBFF), full((R, K), FP16_MAX)
        rand = golden.random_gemm(p, R, K, C, rng)
        cases = [
            # largest sums of one sign, the largest scales: the widest products
            case("min_act_max_weight", lo, full((K, C), 15), full((groups, C), FP16_MAX),
                 full((groups, C), 0)),
            case("max_act_zero_point_15", hi, full((K, C), 0), full((groups, C), FP16_MAX),
                 full((groups, C), 15)),
            # q == z everywhere: every group's difference is 0, the result +0
            case("exact_cancellation", rand.A, full((K, C), 7), rand.S, full((groups, C), 7)),
            # the smallest (subnormal) scales, negative ones too
            case("subnormal_scales", rand.A, rand.Q,
                 np.where(rng.random((groups, C)) < 0.5, FP16_MIN_SUB, 0x8000 | 0x0003),
                 rand.Z),
            case("zeros", full((R, K), 0), rand.Q, rand.S, rand.Z),
            case("single_step", rand.A[:, :1], rand.Q[:1], rand.S[:1], rand.Z[:1]),
        ]
        if p.mode == "w4a16":
            # one large activation per group: the others shift out of the guard bits
            A = golden.random_gemm(p, R, K, C, rng, act_scale=2.0 ** -10).A
            A[:, ::G] = 0x7000
            cases.append(case("alignment_shifts_out", A, rand.Q, rand.S, rand.Z))
            sub = rng.integers(1, 0x400, (R, K))             # all subnormal activations
            cases.append(case("subnormal_activations", sub, rand.Q, rand.S, rand.Z))
        total = sum(len(b) for _, b in cases)
        i = 0
        while total < n_beats:
            M, Kr, N = (int(x) for x in rng.integers(1, [2 * R + 2, 3 * G + 2, 2 * C + 2]))
            g = golden.random_gemm(p, M, Kr, N, rng)
            name, beats = case(f"random_{i}_{M}x{Kr}x{N}", g.A, g.Q, g.S, g.Z)
            cases.append((name, beats))
            total += len(beats)
            i += 1
        return cases

    def power_cases(self, p, n_beats, rng):
        """The power run's work: array-filling GEMMs (M x N the array) over four whole
        quantisation groups along K, so most cycles keep every PE busy."""
        cases, total, i = [], 0, 0
        M, K, N = p.R, 4 * p.group, p.C
        while total < n_beats:
            beats = golden.gemm_beats(p, golden.random_gemm(p, M, K, N, rng))
            cases.append((f"random_{i}_{M}x{K}x{N}", beats))
            total += len(beats)
            i += 1
        return cases


TESTBENCH = MixPETestbench()
