"""``tokenfab demo``: every registered design on defaults, one table and one plot."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

DEMO_DIR = Path("build/demo")


def _say(msg):
    print(f"  .. {msg}", file=sys.stderr, flush=True)


def run_demo(json_out: bool = False, vectors: int = 100) -> list[dict]:
    from tokenfab import api, registry

    rows = []
    t0 = time.time()
    names = list(registry.DESIGNS)
    for i, name in enumerate(names, 1):
        _say(f"[{i}/{len(names)}] {name}")
        d = api.design(name)
        v_path = d.verilog(DEMO_DIR / "rtl" / name)
        ver = d.verify(vectors=vectors, work_dir=DEMO_DIR / "verify", progress=_say)
        _say(f"{name}: simulating llama-2-7b, prompt 512, gen 128")
        sim = d.simulate(model="llama-2-7b", prompt=512, gen=128).to_dict()
        cost = d.cost(model="llama-2-7b")
        chips = getattr(cost, "chips", 1)
        rows.append({
            "design": name, "verilog": str(v_path), "verified": ver.passed,
            "mismatches": ver.mismatches, "rtl_cycles": ver.rtl_cycles,
            "model_cycles": ver.model_cycles,
            "prefill_tokens_per_s": sim["prefill_tokens_per_s"],
            "decode_tokens_per_s": sim["decode_tokens_per_s"],
            "tokens_per_j": sim["tokens_per_j"], "energy_j": sim["energy_j"],
            "system": sim["system"], "node": cost.node,
            "silicon_mm2": cost.area_mm2 * chips if cost.area_mm2 is not None else None,
            "chips": chips,
            "fpga_luts": (cost.engine_resources["total"]["luts"]
                          if hasattr(cost, "engine_resources") else None),
        })
    plot = _plot(rows)
    if json_out:
        print(json.dumps({"designs": rows, "plot": str(plot)}))
    else:
        hdr = ("design", "verified", "cycles rtl/model", "system", "prefill tok/s",
               "decode tok/s", "tok/J", "silicon mm2")
        lines = [hdr] + [(r["design"], "yes" if r["verified"] else "NO",
                          f"{r['rtl_cycles']}/{r['model_cycles']}",
                          f"{r['system']} ({r['node']})",
                          f"{r['prefill_tokens_per_s']:.1f}", f"{r['decode_tokens_per_s']:.1f}",
                          f"{r['tokens_per_j']:.2f}",
                          _silicon(r))
                         for r in rows]
        widths = [max(len(str(l[c])) for l in lines) for c in range(len(hdr))]
        print("llama-2-7b, batch 1, prompt 512, gen 128, each design on its default system "
              "(asic: 16 units, 1 GHz, LPDDR; hnlpu: hardwired chips; kv260: TeLLMe "
              "on the board)")
        for l in lines:
            print("  ".join(f"{str(x):<{w}}" for x, w in zip(l, widths)))
        print(f"plot: {plot}   ({time.time() - t0:.0f} s)")
    return rows


def _silicon(r) -> str:
    if r["silicon_mm2"] is None:
        return f"FPGA, ~{r['fpga_luts']:,} LUTs"
    return f"{r['silicon_mm2']:.3f}" + (f" ({r['chips']} chips)" if r["chips"] > 1 else "")


def _plot(rows) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    names = [r["design"] for r in rows]
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4))
    for ax, key, label in zip(axes, ["prefill_tokens_per_s", "decode_tokens_per_s",
                                     "tokens_per_j", "silicon_mm2"],
                              ["prefill tokens/s", "decode tokens/s", "decode tokens/J",
                               "silicon (mm², at each design's node; FPGA: none)"]):
        ax.bar(names, [r[key] or 0 for r in rows], color=["#3b7dd8", "#d8823b", "#5aa05a",
                                                     "#a05aa0", "#888888", "#c04040"][:len(rows)])
        ax.set_yscale("log")
        ax.set_title(label, fontsize=10)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    fig.suptitle("tokenfab demo: llama-2-7b, batch 1, prompt 512, gen 128 "
                 "(each design on its default system)")
    fig.tight_layout()
    path = DEMO_DIR / "demo.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
