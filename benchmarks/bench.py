"""Performance figures for BENCHMARKS.md: run `python benchmarks/bench.py`.

(a) timing model: one llama-2-7b decode step and a 2048-token prefill on the LTC system;
(b) cocotb + Verilator simulated cycles per second on the default LTC tile;
(c) Verilog generation of the default LTC tile;
(d) the HNLPU and TeLLMe system models on their paper workloads, and their cocotb rates.
"""
import json
import platform
import time

import tokenfab
from arch_models.common.system import run_ops
from arch_models.workloads import decode_ops, load_model, prefill_ops


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    d = tokenfab.design("lut-tensor-core")
    spec = d.system("asic")
    cfg = load_model("llama-2-7b")
    res = {
        "machine": f"{platform.node()} {platform.processor() or platform.machine()} "
                   f"python {platform.python_version()}",
        "decode_step_s": best(lambda: run_ops(spec, decode_ops(cfg, 1, 2048))),
        "prefill_2048_s": best(lambda: run_ops(spec, prefill_ops(cfg, 1, 2048))),
        "simulate_default_s": best(lambda: d.simulate(), repeat=1),
        "verilog_s": best(lambda: d.verilog("build/bench/rtl"), repeat=3),
    }
    d.verify(vectors=200, work_dir="build/bench/verify")           # build once
    r = d.verify(vectors=20000, work_dir="build/bench/verify", seed=2)
    res["cocotb_verilator_cycles_per_s"] = r.sim_cycles_per_s
    res["cocotb_cycles"] = r.rtl_cycles
    h = tokenfab.design("hnlpu")
    res["hnlpu_simulate_gpt_oss_216x2k_s"] = best(
        lambda: h.simulate(model="gpt-oss-120b", batch=216, prompt=2048, gen=2), repeat=1)
    t = tokenfab.design("tellme")
    res["tellme_simulate_bitnet_64_128_s"] = best(
        lambda: t.simulate(model="bitnet-b1.58-large", prompt=64, gen=128), repeat=3)
    for name, dd in (("hnlpu", h), ("tellme", t)):
        dd.verify(vectors=100, work_dir="build/bench/verify")
        rr = dd.verify(vectors=5000, work_dir="build/bench/verify", seed=2)
        res[f"{name}_cocotb_cycles_per_s"] = rr.sim_cycles_per_s
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
