"""``tokenfab demo``: every registered design on defaults, one table and one plot."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path



def _say(msg):
    if sys.stderr.isatty():
        print(f"\r\033[K  .. {msg}"[:120], end="", file=sys.stderr, flush=True)


# Designs whose default array is too large for a quick Verilator build verify a smaller
# array of the same PE in the demo (the simulation uses the default): MixPE's authors'
# 64 x 64 array has 4,096 PEs, each with an FP32 dequantiser. SAIL's default block (8
# arrays of 36 outputs) takes Verilator about 2.5 minutes to build; the demo verifies one
# array with 2 token slots and a 4-entry reuse table (the tests verify the default).
DEMO_RTL_PARAMS = {"mixpe": {"rows": 8, "cols": 8},
                   "sail": {"arrays": 1, "slots": 2, "prt_entries": 4, "lines": 128}}


def _equal_area(api) -> dict:
    """The LUT Tensor Core scaled to the MAC array's units' area (``tokenfab.compare``,
    iso-area): its unit count and the sentence that states the scaling."""
    from tokenfab.compare import compare
    r = compare(api.design("mac-array"), api.design("lut-tensor-core"), iso="area",
                model="bitnet-b1.58-large")
    return {"engines.count": r["b"]["units"], "scaling": r["scaling"]}


def run_demo(json_out: bool = False, vectors: int = 100, work_dir="build/demo",
             quiet: bool = False) -> list[dict]:
    """Every design on defaults into ``work_dir``: Verilog, verification, simulation, a
    table and ``demo.png``."""
    from tokenfab import api, registry
    from tokenfab.params import as_int
    from tokenfab.results import make_dir

    vectors = as_int("vectors", vectors, 1, 10_000_000)
    work = make_dir(work_dir, "work folder")
    say = (lambda msg: None) if quiet or json_out else _say
    rows = []
    t0 = time.time()
    names = list(registry.DESIGNS)
    # The LUT Tensor Core is compared with the MAC array at equal units' area (compare
    # --iso area), not at equal unit count: its units are smaller, so the same area holds
    # more of them.
    say("lut-tensor-core: scaling to the mac-array's units' area (compare --iso area)")
    iso = _equal_area(api)
    for i, name in enumerate(names, 1):
        say(f"[{i}/{len(names)}] {name}")
        overrides = ({"engines.count": iso["engines.count"]}
                     if name == "lut-tensor-core" else None)
        d = api.design(name)
        rtl = api.design(name, **DEMO_RTL_PARAMS.get(name, {}))
        v_path = rtl.verilog(work / "rtl" / name)
        ver = rtl.verify(vectors=vectors, work_dir=work / "verify", progress=say)
        say(f"{name}: simulating llama-2-7b, prompt 512, gen 128")
        sim = d.simulate(model="llama-2-7b", prompt=512, gen=128,
                         overrides=overrides).to_dict()
        silicon = sim["area_mm2"] * sim["chips"] if sim["area_mm2"] is not None else None
        rows.append({
            "design": name, "overrides": overrides or {},
            "verilog": str(v_path),
            "rtl_params": DEMO_RTL_PARAMS.get(name, {}),
            "verified": ver.passed, "mismatches": ver.mismatches,
            "rtl_cycles": ver.rtl_cycles, "model_cycles": ver.model_cycles,
            "prefill_tokens_per_s": sim["prefill_tokens_per_s"],
            "decode_tokens_per_s": sim["decode_tokens_per_s"],
            "tokens_per_j": sim["tokens_per_j"], "energy_j": sim["energy_j"],
            "system": sim["system"], "chips": sim["chips"], "silicon_mm2": silicon,
            "tokens_per_s_per_mm2": (sim["decode_tokens_per_s"] / silicon
                                     if silicon else None),
            "peak_ops_per_s": sim["peak_ops_per_s"],
            "memory_bytes_per_s": sim["memory_bytes_per_s"],
            "fpga_luts": (sim["fpga_resources"] or {}).get("luts"),
        })
    if sys.stderr.isatty() and not (quiet or json_out):
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    plot = _plot(rows, work)
    note = demo_note(iso["scaling"])
    if json_out:
        print(json.dumps({"designs": rows, "plot": str(plot), "note": note}))
    else:
        hdr = ("design", "verified", "cycles rtl/model", "system", "peak TOPS", "mem GB/s",
               "prefill tok/s", "decode tok/s", "tok/J", "silicon mm2", "tok/s/mm2")
        lines = [hdr] + [(r["design"], "yes" if r["verified"] else "NO",
                          f"{r['rtl_cycles']}/{r['model_cycles']}", r["system"],
                          f"{r['peak_ops_per_s'] / 1e12:.3g}",
                          f"{r['memory_bytes_per_s'] / 1e9:.4g}",
                          f"{r['prefill_tokens_per_s']:.1f}", f"{r['decode_tokens_per_s']:.1f}",
                          f"{r['tokens_per_j']:.2f}", _silicon(r),
                          (f"{r['tokens_per_s_per_mm2']:.3g}"
                           if r["tokens_per_s_per_mm2"] else "-"))
                         for r in rows]
        widths = [max(len(str(l[c])) for l in lines) for c in range(len(hdr))]
        print("llama-2-7b, batch 1, prompt 512, gen 128, each design on its default system "
              "(asic: 16 units per array_scale, 1 GHz, LPDDR5X; hnlpu: hardwired chips; "
              "kv260: TeLLMe on the board; graviton2: a 64-core CPU with a SAIL block per "
              "LLC slice, its silicon the whole CPU die)")
        print(note)
        for l in lines:
            print("  ".join(f"{str(x):<{w}}" for x, w in zip(l, widths)))
        print(f"plot: {plot}   ({time.time() - t0:.0f} s)")
    return rows


def demo_note(scaling: str) -> str:
    """What the demo's table does differently from the defaults, in one line."""
    return (f"iso-area: {scaling}; "
            + "; ".join(f"{n} verifies the RTL with "
                        f"{', '.join(f'{k}={v}' for k, v in p.items())} (the simulation "
                        "uses the default)" for n, p in DEMO_RTL_PARAMS.items()))


def _silicon(r) -> str:
    if r["silicon_mm2"] is None:
        return f"FPGA, ~{r['fpga_luts']:,} LUTs"
    return f"{r['silicon_mm2']:.3f}" + (f" ({r['chips']} chips)" if r["chips"] > 1 else "")


def _plot(rows, work: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["design"] for r in rows]
    fig, axes = plt.subplots(1, 5, figsize=(17, 3.4))
    for ax, key, label in zip(axes, ["prefill_tokens_per_s", "decode_tokens_per_s",
                                     "tokens_per_j", "silicon_mm2", "tokens_per_s_per_mm2"],
                              ["prefill tokens/s", "decode tokens/s", "decode tokens/J",
                               "silicon (mm², each design's node)",
                               "decode tokens/s per mm²"]):
        ax.bar(names, [r[key] or 0 for r in rows], color=["#3b7dd8", "#d8823b", "#5aa05a",
                                                     "#a05aa0", "#888888", "#c04040",
                                                     "#40a0a0"][:len(rows)])
        ax.set_yscale("log")
        ax.set_ylabel(label, fontsize=9)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    fig.suptitle("tokenfab demo: llama-2-7b, batch 1, prompt 512, gen 128 "
                 "(each design on its default system)")
    fig.tight_layout()
    path = work / "demo.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
