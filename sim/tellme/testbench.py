"""Verification hooks of TeLLMe's units (the cocotb bench is ``tokenfab.sim.stream_tb``)."""
from __future__ import annotations

import numpy as np

from tokenfab.arch_models.tellme import golden
from tokenfab.hw.common.packing import pack
from tokenfab.hw.tellme import top


class TellmeTestbench:
    """TLMM: corner cases (extreme activations with all +1, all -1 and all-zero weights,
    invalid indices, table reuse across beats, accumulation to wrap), then random beats
    from real encoded ternary weights. RMS-MAX: extremes, zeros, one-hot, random."""

    def cases(self, p, n_beats, rng):
        return (self._rms_cases if p.unit == "rmsmax" else self._tlmm_cases)(p, n_beats, rng)

    def _tlmm_cases(self, p, n_beats, rng):
        ones = int(golden.encode_weights(np.ones((p.g, 1)), p.g)[0, 0])
        minus = int(golden.encode_weights(-np.ones((p.g, 1)), p.g)[0, 0])
        zero = (p.n_tb - 1) // 2

        def beat(act, idx, load=1, last=1):
            return {"act": np.broadcast_to(act, (p.t, p.g)).astype(np.int64),
                    "load": load, "idx": np.broadcast_to(idx, (p.q, p.t)).astype(np.int64),
                    "last": last}

        def rand_idx():
            return rng.integers(0, p.n_tb, (p.q, p.t))

        def rand_act():
            return rng.integers(-127, 128, (p.t, p.g))

        cases = [
            ("act_max_w_plus", [beat(127, ones)]), ("act_max_w_minus", [beat(127, minus)]),
            ("act_min_w_plus", [beat(-127, ones)]), ("act_min_w_minus", [beat(-127, minus)]),
            ("w_zero", [beat(rand_act(), zero)]),
            ("act_minus_128_wraps_like_rtl", [beat(-128, minus)]),
            ("invalid_indices_read_zero", [beat(rand_act(), (1 << p.idx_bits) - 1)]),
            ("table_reuse", [beat(rand_act(), rand_idx()), beat(0, rand_idx(), load=0),
                             beat(5, rand_idx(), load=0)]),
            ("accumulate_blocks", [beat(rand_act(), rand_idx(), last=0),
                                   beat(rand_act(), rand_idx(), last=0),
                                   beat(rand_act(), rand_idx(), last=1)]),
            ("accumulate_to_wrap", [beat(127, ones, last=0)] * 6 + [beat(127, ones)]),
        ]
        w = rng.integers(-1, 2, (p.t * p.g * 2, 3 * p.q))
        x = rng.integers(-127, 128, p.t * p.g * 2)
        cases.append(("encoded_layer", golden.tlmm_beats(p, x, w)))
        total = sum(len(b) for _, b in cases)
        i = 0
        while total < n_beats:
            n = int(min(rng.integers(1, 4), n_beats - total))
            bs = [beat(rand_act(), rand_idx(), load=int(j == 0 or rng.random() < 0.5),
                       last=int(j == n - 1)) for j in range(n)]
            cases.append((f"random_{i}", bs))
            total += n
            i += 1
        return cases

    def _rms_cases(self, p, n_beats, rng):
        lo, hi = -(1 << (p.x_bits - 1)), (1 << (p.x_bits - 1)) - 1
        glo, ghi = -(1 << (p.gamma_bits - 1)), (1 << (p.gamma_bits - 1)) - 1
        d = p.d

        def v(x, g):
            return {"x": np.broadcast_to(x, d).astype(np.int64),
                    "gamma": np.broadcast_to(g, d).astype(np.int64)}

        cases = [("x_min_g_min", [v(lo, glo)]), ("x_max_g_max", [v(hi, ghi)]),
                 ("x_zero", [v(0, ghi)]), ("gamma_zero", [v(rng.integers(lo, hi + 1, d), 0)]),
                 ("one_hot", [v(np.eye(d, dtype=np.int64)[1] * hi, 1)]),
                 ("alternating", [v(np.where(np.arange(d) % 2, lo, hi), ghi)])]
        while sum(len(b) for _, b in cases) < n_beats:
            scale = int(rng.integers(1, p.x_bits))
            cases.append((f"random_{len(cases)}",
                          [v(rng.integers(-(1 << (scale - 1)), 1 << (scale - 1), d) if scale > 1
                             else rng.integers(-1, 2, d), rng.integers(glo, ghi + 1, d))]))
        return cases

    def expected(self, p, beats):
        return golden.expected(p, beats)

    def ops(self, p, cases) -> dict:
        """TLMM: ``q x t`` table lookups per beat, each standing for ``g`` MACs;
        RMS-MAX: one vector per beat."""
        beats = sum(len(b) for _, b in cases)
        if p.unit == "rmsmax":
            return {"vector": beats}
        return {"lookup": beats * p.q * p.t, "MAC": beats * p.macs_per_tile}

    def pack_in(self, p, beat) -> int:
        layout = top.in_layout(p)
        if p.unit == "rmsmax":
            return pack(layout, {"x": np.asarray(beat["x"]).tolist(),
                                 "gamma": np.asarray(beat["gamma"]).tolist()})
        return pack(layout, {"act": np.asarray(beat["act"]).tolist(), "load": int(beat["load"]),
                             "idx": np.asarray(beat["idx"]).tolist(), "last": int(beat["last"])})

    def pack_out(self, p, out) -> int:
        if p.unit == "rmsmax":
            return pack(top.out_layout(p), {"q": list(out["q"]), "max": out["max"],
                                            "inv_rms": out["inv_rms"]})
        return pack(top.out_layout(p), np.asarray(out).tolist())


TESTBENCH = TellmeTestbench()
