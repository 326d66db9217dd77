"""Record the seven units synthesised onto sky130_fd_sc_hd (``tokenfab asic``): area, Fmax,
power and energy per operation at three parameter sets each, as reference data for the
component model's check (tests/test_component_model.py reads them; CI runs one point
live and checks it reproduces).

    .venv/bin/python benchmarks/asic_units.py [../shared/pdk/sky130_fd_sc_hd__tt_025C_1v80.lib.gz] \
        [tests/data/asic_units.json] [design,design,...]

With designs named, only their rows are synthesised again; the others are kept.

The defaults are synthesised where the flow can take them in minutes; MixPE's default
64 x 64 array (4,096 PEs) and SAIL's default eight 8 KiB C-SRAM arrays (which Yosys can
only build from flip-flops: no SRAM macros are mapped) are taken at reduced array sizes,
the PE and the block logic as the defaults have them.
"""
from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

POINTS = [
    ("lut-tensor-core", {}), ("lut-tensor-core", {"weight_bits": 1}),
    ("lut-tensor-core", {"n": 16, "weight_bits": 4}),
    ("mac-array", {}), ("mac-array", {"n": 16, "weight_bits": 4}),
    ("mac-array", {"n": 16, "act_bits": 4}),
    ("systolic-array", {}), ("systolic-array", {"rows": 8, "cols": 8, "dataflow": "ws"}),
    ("systolic-array", {"rows": 8, "cols": 8, "dataflow": "is"}),
    ("mixpe", {"rows": 4, "cols": 4}), ("mixpe", {"rows": 8, "cols": 8}),
    ("mixpe", {"rows": 4, "cols": 4, "mode": "w4a16"}),
    ("sail", {"arrays": 1, "slots": 2, "prt_entries": 4, "lines": 128}),
    ("sail", {"arrays": 1, "slots": 2, "prt_entries": 4, "lines": 128, "nbw": 4}),
    ("sail", {"arrays": 2, "slots": 2, "prt_entries": 0, "lines": 128}),
    ("tellme", {}), ("tellme", {"t": 8, "q": 2}), ("tellme", {"table": "half"}),
    ("hnlpu", {}), ("hnlpu", {"rows": 32, "cols": 8}), ("hnlpu", {"input_bits": 4}),
]
KEEP = ("design", "params", "library", "clock_ns", "area_um2", "area_by_module_um2", "cells",
        "flip_flops", "fmax_mhz", "leakage_w", "dynamic_w", "op", "energy_per_op_pj")


def main(liberty: str, out: str, only: str = "") -> None:
    import tokenfab
    from tokenfab.cost_models.asic import FLOW_VERSION
    rows = []
    for name, kw in POINTS:
        if only and name not in only.split(","):
            continue
        t0 = time.perf_counter()
        try:
            r = tokenfab.design(name, **kw).asic(liberty, "5ns", "build/asic")
        except Exception as exc:                        # recorded, so the table says why
            print(f"{name} {kw}: {type(exc).__name__}: {str(exc)[:200]}", flush=True)
            rows.append({"design": name, "given": kw, "error": str(exc)[:500]})
            continue
        row = {k: v for k, v in r.to_dict().items() if k in KEEP}
        pw = r.power
        row.update(given=kw,
                   energy_per_op_pj_all=pw["energy_per_op_pj"], ops=pw["ops"],
                   cycles=pw["cycles"], beats=pw["beats"], internal_w=pw["internal_w"],
                   switching_w=pw["switching_w"], clock_pins_w=pw["clock_pins_w"],
                   net_activity=pw["net_activity"],
                   flip_flop_activity=pw["flip_flop_activity"])
        rows.append(row)
        print(f"{name} {kw}: {r.area_um2 / 1e6:.4f} mm2, {r.fmax_mhz:.0f} MHz, "
              f"{r.energy_per_op_pj:.3f} pJ/{r.op}, {time.perf_counter() - t0:.1f} s"
              f"{' (cached)' if r.cached else ''}", flush=True)
    if only and Path(out).exists():             # keep the other designs' recorded rows
        kept = [r for r in json.loads(Path(out).read_text())["points"]
                if r["design"] not in only.split(",")]
        order = [name for name, _ in POINTS]
        rows = sorted(kept + rows, key=lambda r: order.index(r["design"]))
    Path(out).write_text(json.dumps({
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "date": time.strftime("%Y-%m-%d"), "flow_version": FLOW_VERSION,
        "clock": "5ns", "liberty": Path(liberty).name, "points": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else
         "../shared/pdk/sky130_fd_sc_hd__tt_025C_1v80.lib.gz",
         sys.argv[2] if len(sys.argv) > 2 else "tests/data/asic_units.json",
         sys.argv[3] if len(sys.argv) > 3 else "")
