"""Performance figures for BENCHMARKS.md: run `python benchmarks/bench.py`.

(a) timing model: one llama-2-7b decode step and a 2048-token prefill on the LTC system,
    and what the per-operation breakdown and the trace add to a default `simulate`;
(b) cocotb + Verilator simulated cycles per second on every design's default unit (and small tiles);
(c) Verilog generation of the default LTC tile;
(d) the HNLPU and TeLLMe system models on their paper workloads;
(f) MixPE: Verilog generation of the authors' 64 x 64 array (a PE and a row module
    instantiated by name) and of an 8 x 8 one;
(e) the systolic array's SCALE-Sim cycles for a llama-2-7b decode layer and a 512-token
    prefill layer on 128 x 128 (model time and peak Python memory; SCALE-Sim itself is run
    by hand, see BENCHMARKS.md).
"""
import json
import platform
import time

import tokenfab
from tokenfab.arch_models.common.system import run_ops
from tokenfab.arch_models.workloads import decode_ops, load_model, prefill_ops


COCOTB_RUNS = (   # label, design, parameters, vectors
    ("lut-tensor-core default (M2 N64 K4 W2)", "lut-tensor-core", {}, 20000),
    ("lut-tensor-core M2 N4 K4", "lut-tensor-core", {"n": 4}, 20000),
    ("mac-array default", "mac-array", {}, 20000),
    ("mac-array M2 N4 K4", "mac-array", {"n": 4}, 20000),
    ("hnlpu default (64x16 FP4 neuron)", "hnlpu", {}, 5000),
    ("tellme default TLMM (G3 T28 Q4)", "tellme", {}, 5000),
    ("systolic-array default (16x16 OS int8)", "systolic-array", {}, 5000),
    ("mixpe 8x8 of the default PE (W4A8, 4 lanes, G 128)", "mixpe", {"rows": 8, "cols": 8},
     3000),
)


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


LLAMA_LAYER = {"q": (4096, 4096), "k": (4096, 4096), "v": (4096, 4096), "o": (4096, 4096),
               "gate": (4096, 11008), "up": (4096, 11008), "down": (11008, 4096)}   # K, N


def systolic_layer(tokens: int, dataflow: str) -> dict:
    """One llama-2-7b layer's linear GEMMs on a 128 x 128 array: cycles, best-of-3 wall
    time, peak traced memory."""
    import tracemalloc
    from tokenfab.arch_models.systolic_array import timing
    from tokenfab.hw.systolic_array.params import Params
    p = Params(rows=128, cols=128, dataflow=dataflow)

    def run():
        return sum(timing.gemm(p, tokens, k, n)["cycles"] for k, n in LLAMA_LAYER.values())
    tracemalloc.start()
    cycles = run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"cycles": cycles, "wall_s": best(run, repeat=3), "peak_bytes": peak}


def main():
    d = tokenfab.design("lut-tensor-core")
    spec = d.system("asic")
    cfg = load_model("llama-2-7b")
    res = {
        "machine": f"{platform.node()} {platform.processor() or platform.machine()} "
                   f"python {platform.python_version()}",
        "decode_step_s": best(lambda: run_ops(spec, decode_ops(cfg, 1, 2048), "decode", 1)),
        "prefill_2048_s": best(lambda: run_ops(spec, prefill_ops(cfg, 1, 2048))),
        "decode_step_with_breakdown_s": best(lambda: d.simulate(prompt=2047, gen=1)
                                             .breakdown),
        "simulate_default_s": best(lambda: d.simulate().to_dict()),
        "simulate_default_breakdown_s": best(lambda: d.simulate().breakdown),
        "simulate_default_trace_s": best(
            lambda: d.simulate(trace=True).write_trace("build/bench/trace.json")),
        "verilog_s": best(lambda: d.verilog("build/bench/rtl"), repeat=3),
    }
    h = tokenfab.design("hnlpu")
    res["hnlpu_simulate_gpt_oss_216x2k_s"] = best(
        lambda: h.simulate(model="gpt-oss-120b", batch=216, prompt=2048, gen=2), repeat=1)
    t = tokenfab.design("tellme")
    res["tellme_simulate_bitnet_64_128_s"] = best(
        lambda: t.simulate(model="bitnet-b1.58-large", prompt=64, gen=128), repeat=3)
    res["mixpe_verilog_default_64x64_s"] = best(
        lambda: tokenfab.design("mixpe").verilog("build/bench/mixpe"), repeat=1)
    res["mixpe_verilog_8x8_s"] = best(
        lambda: tokenfab.design("mixpe", rows=8, cols=8).verilog("build/bench/mixpe8"))
    for tokens, label in ((1, "decode"), (512, "prefill512")):
        for df in ("os", "ws"):
            res[f"systolic_128x128_{label}_{df}"] = systolic_layer(tokens, df)
    # cocotb + Verilator simulated cycles per second: build once, then time a long run.
    for label, name, params, vectors in COCOTB_RUNS:
        dd = tokenfab.design(name, **params)
        dd.verify(vectors=100, work_dir="build/bench/verify")
        r = dd.verify(vectors=vectors, work_dir="build/bench/verify", seed=2)
        assert r.passed, label
        res[f"cocotb_cycles_per_s {label}"] = round(r.sim_cycles_per_s)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
