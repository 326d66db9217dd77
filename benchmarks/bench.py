"""Performance figures for BENCHMARKS.md: run `python benchmarks/bench.py`.

(a) timing model: one llama-2-7b decode step and a 2048-token prefill on the LTC system;
(b) cocotb + Verilator simulated cycles per second on the default LTC tile;
(c) Verilog generation of the default LTC tile.
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
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
