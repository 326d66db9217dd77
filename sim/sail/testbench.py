"""Verification hooks of the SAIL C-SRAM block (the cocotb bench is
``tokenfab.sim.stream_tb``): instruction programs that write operands, run GEMVs and read
the results back, checked line by line against the golden model."""
from __future__ import annotations

import dataclasses

import numpy as np

from tokenfab.arch_models.sail import golden
from tokenfab.hw.common.packing import pack
from tokenfab.hw.sail import top
from tokenfab.hw.sail.params import FP16_PER_LINE, OPS


def fp16(values) -> np.ndarray:
    return np.asarray(values, np.float16).view(np.uint16).astype(np.int64)


class SailTestbench:
    """Edge programs (largest and smallest FP16, all zero, subnormals, weights aligned in
    sign with the activations, raw accumulators that wrap, every output and token slot,
    repeated activations that hit the reuse table, reads after writes), then random
    GEMVs of random shapes, each followed by 1.5 more on average over the operands
    already in the window, in a narrower shape and either output format (the block's
    state from the previous GEMV must not leak into the next)."""

    def cases(self, p, n_beats, rng):
        wlo, whi = -(1 << (p.weight_bits - 1)), (1 << (p.weight_bits - 1)) - 1
        N, B = p.outputs, p.slots

        def gemv(x, w, s, dequant=1):
            return golden.gemv_program(p, x, w, s, dequant=dequant)[0]

        def rand_x(b, k, scale=1.0):
            return fp16(rng.standard_normal((b, k)) * scale)

        def rand_w(k, n):
            return rng.integers(wlo, whi + 1, (k, n))

        def rand_s(n):
            return fp16(rng.uniform(0.001, 0.1, n))

        K = FP16_PER_LINE
        signs = np.where(rng.random((1, K)) < 0.5, -1.0, 1.0)
        aligned_w = np.where(signs.T > 0, whi, wlo) * np.ones((1, N), np.int64)
        cases = [
            ("write_then_read", [{"op": "write", "addr": 3, "data": (1 << 255) | 0xABC},
                                 {"op": "read", "addr": 3}, {"op": "nop"},
                                 {"op": "write", "addr": 3, "data": 0x5A5A},
                                 {"op": "read", "addr": 3}]),
            ("fp16_extremes_full_width", gemv(fp16(np.tile([65504.0, -65504.0], (B, K // 2))),
                                              np.full((K, N), wlo), fp16(np.full(N, 1.0)))),
            ("all_zero_activations", gemv(np.zeros((1, K), np.int64), rand_w(K, 3),
                                          rand_s(3))),
            ("subnormals_and_signed_zero", gemv(np.tile(np.array([1, 0x8001, 0x8000, 0x3FF]
                                                                 * (K // 4)), (min(2, B), 1)),
                                                rand_w(K, 5), rand_s(5))),
            ("sign_aligned_worst_case_raw", gemv(fp16(signs * 60000.0), aligned_w,
                                                 rand_s(N), dequant=0)),
            ("repeated_tokens_hit_the_table", gemv(np.tile(rand_x(1, 2 * K), (B, 1)),
                                                   rand_w(2 * K, min(N, 9)), rand_s(min(N, 9)))),
        ]
        total = sum(len(b) for _, b in cases)
        k = 0
        while total < n_beats:
            b = int(rng.integers(1, B + 1))
            kl = int(rng.integers(1, 4))
            n = int(rng.integers(1, N + 1))
            scale = float(10.0 ** rng.uniform(-3, 3))
            while golden.program_lines(p, b, kl, n) > p.lines and kl > 1:
                kl -= 1                           # a small window: shorter K
            beats, d = golden.gemv_program(p, rand_x(b, kl * K, scale), rand_w(kl * K, n),
                                           rand_s(n), dequant=int(rng.random() < 0.8))
            for _ in range(int(rng.geometric(0.4)) - 1):       # 1.5 more on average
                again = dataclasses.replace(d, n=int(rng.integers(1, n + 1)),
                                            b=int(rng.integers(1, b + 1)),
                                            dequant=int(rng.integers(0, 2))).check(p)
                beats = beats + [{"op": "gemv", "desc": again}] + [
                    {"op": "read", "addr": line} for line in range(*again.regions(p)["y"])]
            cases.append((f"random_{k}", beats))
            total += len(beats)
            k += 1
        return cases

    def expected(self, p, beats):
        return golden.expected(p, beats)

    def ops(self, p, cases) -> dict:
        """The GEMVs the programs run and the table lookups they make (the golden
        model's record of every lookup)."""
        stats = [s for _, b in cases for s in golden.run(p, b)[1]]
        return {"lookup": sum(int(s.lookups.size) for s in stats), "GEMV": len(stats)}

    def pack_in(self, p, beat) -> int:
        data = beat.get("data", 0)
        if beat["op"] == "gemv":
            data = pack(top.desc_layout(p), dataclasses.asdict(beat["desc"]))
        return pack(top.in_layout(p), {"op": OPS[beat["op"]],
                                       "addr": beat.get("addr", 0), "data": data})

    def pack_out(self, p, out) -> int:
        return int(out)


TESTBENCH = SailTestbench()
