"""Runs of the LUT Tensor Core engine against its simulation DRAM: one layer, one
mapping, one memory setting; the output compared word by word with the golden model."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from tokenfab.arch_models.ltc_engine import golden
from tokenfab.hw.ltc_engine.params import Params
from tokenfab.hw.ltc_engine.top import REG, EngineBench

DRAM_WORDS = 1 << 15
TOP = "ltc_engine_bench"
PUBLIC = ("clk", "rst", "s_axil__*", "bd_*", "done", "latency", "interval",
          "random_stalls")


def verilog(p: Params, work_dir: Path) -> Path:
    from amaranth.back import verilog as back
    text = back.convert(EngineBench(p, DRAM_WORDS), name=TOP)
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
    img = golden.dram_image(p, L, acts, codes)
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
    out = golden.read_output(p, L, [int(w) for w in res["out"]])
    ref = golden.reference(p, acts, codes)
    return {"cycles": res["cycles"], "out": out, "ref": ref,
            "mismatches": int(np.count_nonzero(out != ref)), "wall_s": res["wall_s"],
            "layer": L}
