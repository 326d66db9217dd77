"""Runs of an engine against its simulation DRAM (``hw/common/engine.EngineBench``): the
DRAM image of a layer, the Verilog, the cocotb job (``sim/engine_tb.py``) and the output
read back. Each engine's ``sim/<engine>/testbench.py`` packs its beats and unpacks its
output tiles."""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from tokenfab.arch_models.common.engine import Layer
from tokenfab.errors import UsageError
from tokenfab.hw.common.engine import REG, EngineBench, EngineIdBench

DRAM_WORDS = 1 << 15
TOP = "engine_bench"
PUBLIC = ("clk", "rst", "s_axil__*", "bd_*", "done", "latency", "interval",
          "random_stalls")
# the DRAM models: ours (RTL, the bench's ``AxiMemory``: latency, interval, stalls) or
# cocotbext-axi's AxiRam with random pauses on every channel (an independent AXI model)
DRAMS = {"rtl": (TOP, PUBLIC, "tokenfab.sim.engine_tb"),
         "axiram": ("engine_axiram", ("clk", "rst", "s_axil__*", "m_axi__*", "done"),
                    "tokenfab.sim.engine_axiram_tb")}


def _words(value: int, n: int, bits: int) -> list[int]:
    mask = (1 << bits) - 1
    return [(value >> (i * bits)) & mask for i in range(n)]


def dram_image(p, L: Layer, act_beat, w_beat) -> dict[int, int]:
    """Word address -> word: activation beat ``(r, c)`` is ``act_beat(r, c)`` and weight
    beat ``(j, c)`` is ``w_beat(j, c)`` (integers of ``a_bits`` and ``w_bits`` bits),
    at the blocked layout's addresses."""
    img = {}
    wb = p.word_bytes
    for r in range(L.mb):
        for c in range(L.kb):
            base = L.a_base // wb + (r * L.kb + c) * p.a_words
            for i, w in enumerate(_words(act_beat(r, c), p.a_words, p.data_bits)):
                img[base + i] = w
    for j in range(L.nb):
        for c in range(L.kb):
            base = L.w_base // wb + (j * L.kb + c) * p.w_words
            for i, w in enumerate(_words(w_beat(j, c), p.w_words, p.data_bits)):
                img[base + i] = w
    return img


def read_output(p, L: Layer, words, tile) -> np.ndarray:
    """The ``M x N`` output from the output region's words; ``tile(value)`` unpacks one
    output tile to a ``tile_m x tile_n`` array."""
    tm, tn = p.tile_m, p.tile_n
    out = np.zeros((L.mb * tm, L.nb * tn), np.int64)
    for r in range(L.mb):
        for j in range(L.nb):
            base = (r * L.nb + j) * p.o_words
            v = sum(int(words[base + i]) << (i * p.data_bits) for i in range(p.o_words))
            out[r * tm:(r + 1) * tm, j * tn:(j + 1) * tn] = tile(v)
    return out[:L.M, :L.N]


@functools.lru_cache(maxsize=8)
def _verilog_text(engine_cls, p, dram: str) -> str:
    from amaranth.back import verilog as back
    top = (EngineBench(engine_cls(p), DRAM_WORDS) if dram == "rtl"
           else EngineIdBench(engine_cls(p)))
    return back.convert(top, name=DRAMS[dram][0])


def verilog(engine_cls, p, work_dir: Path, dram: str = "rtl") -> Path:
    text = _verilog_text(engine_cls, p, dram)   # elaborated once per process and engine
    key = hashlib.sha256(f"{engine_cls.__qualname__} {p!r}".encode()).hexdigest()[:10]
    path = Path(work_dir) / f"{DRAMS[dram][0]}_{key}.v"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def check_mapping(p, mapping: dict) -> None:
    """The buffer tile must fit a bank of each buffer; ``order`` 0 or 1."""
    for key, cap in (("mt", p.buf_m), ("nt", p.buf_n), ("kt", p.buf_k)):
        v = mapping.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= cap:
            raise UsageError(f"mapping {key} must be an integer from 1 to {cap} (the "
                             f"buffer bank's buf_{key[0]}), not {v!r}")
    if mapping.get("order") not in (0, 1):
        raise UsageError(f"mapping order must be 0 (row blocks outer) or 1 (column blocks "
                         f"outer), not {mapping.get('order')!r}")


def run(engine_cls, p, layers, *, work_dir, tag: str, max_cycles: int, dram: str = "rtl",
        pause_seed: int = 1) -> list[dict]:
    """Run ``layers`` one after another in one simulation: each a dict of ``L``, ``img``,
    ``mapping`` and the memory's ``latency``, ``interval`` and ``random_stalls`` (or,
    with ``dram="axiram"``, cocotbext-axi's AxiRam, its ``pause_share`` of the cycles
    paused on every channel); per layer the cycles from start to done, the output
    region's words and the wall time."""
    from tokenfab.sim import runner
    runs = []
    for x in layers:
        L, mapping = x["L"], x["mapping"]
        check_mapping(p, mapping)
        if L.words > DRAM_WORDS:
            raise UsageError(f"the layer needs {L.words} DRAM words; the bench's DRAM has "
                             f"{DRAM_WORDS}")
        regs = {"mb": L.mb, "nb": L.nb, "kb": L.kb, "mt": mapping["mt"],
                "nt": mapping["nt"], "kt": mapping["kt"], "order": mapping["order"],
                "a_base": L.a_base, "w_base": L.w_base, "o_base": L.o_base}
        runs.append({"latency": x["latency"], "interval": x["interval"],
                     "random_stalls": bool(x["random_stalls"]),
                     "pause_share": x.get("pause_share", 0.25),
                     "image": sorted(x["img"].items()),
                     "registers": [[REG[k], v] for k, v in regs.items()],
                     "cycles_register": REG["cycles"], "out_base": L.o_base // p.word_bytes,
                     "out_words": L.mb * L.nb * p.o_words, "max_cycles": max_cycles})
    poison = int("a5" * p.word_bytes, 16)
    top, public, module = DRAMS[dram]
    v = verilog(engine_cls, p, work_dir, dram)
    build = runner.build(v, top, Path(work_dir), public=public, opt=runner.OPT_QUICK_RUN)
    job = {"runs": runs, "poison": poison, "word_bytes": p.word_bytes,
           "bytes": DRAM_WORDS * p.word_bytes, "pause_seed": pause_seed}
    res = runner.run_job(build, top, job, test_module=module, tag=tag)
    if len(res["runs"]) != len(runs):
        from tokenfab.errors import ToolError
        raise ToolError(f"the engine bench finished {len(res['runs'])} of {len(runs)} "
                        f"layers (see {res['files']['log']})")
    return [{"cycles": r["cycles"], "words": [int(w) for w in r["out"]],
             "wall_s": r["wall_s"]} for r in res["runs"]]


def run_layers(tb, p, cases, *, work_dir="build/engine", tag="run",
               max_cycles: int = 10_000_000, **dram) -> list[dict]:
    """Layers on engine bench module ``tb`` (its ``ENGINE``, ``columns(w)``,
    ``dram_image``, ``read_output`` and ``reference``), one simulation for all: each case
    a dict of ``acts``, ``w``, ``mapping`` (``mt``, ``nt``, ``kt``, ``order``) and
    optionally ``latency`` (8), ``interval`` (1), ``random_stalls`` (False) or, on
    AxiRam, ``pause_share`` (0.25); per case the cycles, the output, the reference and the
    mismatching words. ``dram``: ``run``'s."""
    from tokenfab.arch_models.common.engine import layer
    layers, refs = [], []
    for c in cases:
        acts, w = np.asarray(c["acts"]), np.asarray(c["w"])
        check_mapping(p, c["mapping"])
        L = layer(p, acts.shape[0], acts.shape[1], tb.columns(w))
        layers.append({"L": L, "img": tb.dram_image(p, L, acts, w), "mapping": c["mapping"],
                       "latency": c.get("latency", 8), "interval": c.get("interval", 1),
                       "random_stalls": c.get("random_stalls", False),
                       "pause_share": c.get("pause_share", 0.25)})
        refs.append(tb.reference(p, acts, w))
    out = []
    for x, ref, res in zip(layers, refs, run(tb.ENGINE, p, layers, work_dir=work_dir,
                                             tag=tag, max_cycles=max_cycles, **dram)):
        got = tb.read_output(p, x["L"], res["words"])
        out.append({"cycles": res["cycles"], "out": got, "ref": ref,
                    "mismatches": int(np.count_nonzero(got != ref)),
                    "wall_s": res["wall_s"], "layer": x["L"]})
    return out


def run_layer(tb, p, acts, w, mapping: dict, *, latency: int = 8, interval: int = 1,
              random_stalls: bool = False, **kw) -> dict:
    """One layer (``run_layers``)."""
    return run_layers(tb, p, [dict(acts=acts, w=w, mapping=mapping, latency=latency,
                                   interval=interval, random_stalls=random_stalls)], **kw)[0]
