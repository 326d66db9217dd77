"""Runs of the LUT Tensor Core engine against its simulation DRAM: one layer, one
mapping, one memory setting; the output compared word by word with the golden model."""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from tokenfab.arch_models.ltc_engine import golden
from tokenfab.arch_models.ltc_engine.golden import Layer
from tokenfab.arch_models.lut_tensor_core import golden as unit_golden
from tokenfab.hw.common.packing import pack, unpack
from tokenfab.hw.ltc_engine.params import Params
from tokenfab.hw.ltc_engine.top import REG, EngineBench
from tokenfab.hw.lut_tensor_core.top import in_layout, out_layout

DRAM_WORDS = 1 << 15
TOP = "ltc_engine_bench"
PUBLIC = ("clk", "rst", "s_axil__*", "bd_*", "done", "latency", "interval",
          "random_stalls")


def _words(value: int, n: int, bits: int) -> list[int]:
    mask = (1 << bits) - 1
    return [(value >> (i * bits)) & mask for i in range(n)]


def dram_image(p: Params, L: Layer, acts, codes) -> dict[int, int]:
    """Word address -> word of the activations and weights, padded to whole unit tiles
    (zero activations, code 0 weights: a zero activation cancels any weight)."""
    u = p.unit
    a = np.zeros((L.mb * p.m, L.kb * p.k), np.int64)
    a[:L.M, :L.K] = acts
    q = np.zeros((L.nb * p.n, L.kb * p.k), np.int64)
    q[:L.N, :L.K] = codes
    lay = in_layout(u)
    img = {}
    wb = p.word_bytes
    for r in range(L.mb):
        for c in range(L.kb):
            v = pack(lay["act"].shape, a[r * p.m:(r + 1) * p.m, c * p.k:(c + 1) * p.k].tolist())
            base = L.a_base // wb + (r * L.kb + c) * p.a_words
            for i, w in enumerate(_words(v, p.a_words, p.data_bits)):
                img[base + i] = w
    for j in range(L.nb):
        for c in range(L.kb):
            beat = unit_golden.encode_beat(u, np.zeros((p.m, p.k), np.int64),
                                           q[j * p.n:(j + 1) * p.n, c * p.k:(c + 1) * p.k],
                                           True)
            v = pack(lay["w"].shape, np.asarray(beat["w"]).tolist())
            base = L.w_base // wb + (j * L.kb + c) * p.w_words
            for i, w in enumerate(_words(v, p.w_words, p.data_bits)):
                img[base + i] = w
    return img


def read_output(p: Params, L: Layer, words) -> np.ndarray:
    """The ``M x N`` output from the DRAM words at ``o_base`` (``words[i]``: word i of
    the output region)."""
    out = np.zeros((L.mb * p.m, L.nb * p.n), np.int64)
    lay = out_layout(p.unit)
    for r in range(L.mb):
        for j in range(L.nb):
            base = (r * L.nb + j) * p.o_words
            v = sum(int(words[base + i]) << (i * p.data_bits) for i in range(p.o_words))
            out[r * p.m:(r + 1) * p.m, j * p.n:(j + 1) * p.n] = np.asarray(unpack(lay, v))
    return out[:L.M, :L.N]


@functools.lru_cache(maxsize=8)
def _verilog_text(p: Params) -> str:
    from amaranth.back import verilog as back
    return back.convert(EngineBench(p, DRAM_WORDS), name=TOP)


def verilog(p: Params, work_dir: Path) -> Path:
    text = _verilog_text(p)                  # elaborated once per process and engine
    path = Path(work_dir) / f"{TOP}_{hashlib.sha256(repr(p).encode()).hexdigest()[:10]}.v"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def check_mapping(p: Params, mapping: dict) -> None:
    """The buffer tile must fit a bank of each buffer; ``order`` 0 or 1."""
    from tokenfab.errors import UsageError
    for key, cap in (("mt", p.buf_m), ("nt", p.buf_n), ("kt", p.buf_k)):
        v = mapping.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= cap:
            raise UsageError(f"mapping {key} must be an integer from 1 to {cap} (the "
                             f"buffer bank's buf_{key[0]}), not {v!r}")
    if mapping.get("order") not in (0, 1):
        raise UsageError(f"mapping order must be 0 (row blocks outer) or 1 (column blocks "
                         f"outer), not {mapping.get('order')!r}")


def run_layer(p: Params, acts, codes, mapping: dict, *, latency: int = 8, interval: int = 1,
              random_stalls: bool = False, work_dir="build/ltc-engine", tag="run",
              max_cycles: int = 10_000_000) -> dict:
    """Run ``acts x codes`` with ``mapping`` (``mt``, ``nt``, ``kt``, ``order``); return
    the cycles, the output, the reference and the mismatching words."""
    from tokenfab.sim import runner
    check_mapping(p, mapping)
    acts, codes = np.asarray(acts), np.asarray(codes)
    M, K = acts.shape
    N = codes.shape[0]
    L = golden.layer(p, M, K, N)
    if L.words > DRAM_WORDS:
        raise ValueError(f"the layer needs {L.words} DRAM words; the bench has {DRAM_WORDS}")
    img = dram_image(p, L, acts, codes)
    regs = {"mb": L.mb, "nb": L.nb, "kb": L.kb, "mt": mapping["mt"], "nt": mapping["nt"],
            "kt": mapping["kt"], "order": mapping["order"], "a_base": L.a_base,
            "w_base": L.w_base, "o_base": L.o_base}
    job = {"latency": latency, "interval": interval, "random_stalls": random_stalls,
           "image": sorted(img.items()), "registers": [[REG[k], v] for k, v in regs.items()],
           "cycles_register": REG["cycles"], "out_base": L.o_base // p.word_bytes,
           "out_words": L.mb * L.nb * p.o_words, "max_cycles": max_cycles}
    v = verilog(p, work_dir)
    build = runner.build(v, TOP, Path(work_dir), public=PUBLIC)
    res = runner.run_job(build, TOP, job, test_module="tokenfab.sim.engine_tb", tag=tag)
    out = read_output(p, L, [int(w) for w in res["out"]])
    ref = golden.reference(p, acts, codes)
    return {"cycles": res["cycles"], "out": out, "ref": ref,
            "mismatches": int(np.count_nonzero(out != ref)), "wall_s": res["wall_s"],
            "layer": L}
