"""Record SCALE-Sim 3's USER-bandwidth runs as reference data for the systolic array's
memory model (tests/test_peers.py reads them; CI never runs SCALE-Sim).

Not run by CI. In a separate virtual environment (SCALE-Sim 3.0.0 needs numpy < 2):

    python3 -m venv /tmp/ss && /tmp/ss/bin/pip install 'numpy<2' scalesim==3.0.0
    /tmp/ss/bin/python benchmarks/peers/scalesim_reference.py tests/data/scalesim_user.json

In USER mode SCALE-Sim gives each of its three SRAMs (ifmap, filter, ofmap; double
buffered, half active and half prefetching or draining) its own DRAM port: the ifmap
and filter ports move ``IfmapSRAMBankBandwidth`` / ``FilterSRAMBankBandwidth`` words a
cycle (SCALE-Sim 3.0.0 reads them from the [layout] section) and the ofmap port
``Bandwidth``; all three are set to the same figure here. Words are one byte.

Two regimes are recorded:

* ``resident``: the ifmap and filter each fit in half their SRAM, so SCALE-Sim loads
  them once before compute; stalls come from the ofmap port and buffer (WS and IS write
  every fold's partial sums). 12 shapes x 3 dataflows x 2 ofmap SRAM sizes x 3
  bandwidths.
* ``streaming``: the ifmap and filter SRAMs are smaller than their operands. SCALE-Sim's
  read buffers then re-fetch through a ring of 100 sets whose window is slid on a miss;
  an address the window has just passed costs a full turn of the ring (SCALE-Sim issue
  #130, "Address not found in both active and prefetch buffers"), so it reads many times
  what its own fold order needs. Recorded so that the test can say by how much.
"""
from __future__ import annotations

import csv
import json
import math
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

CFG = """[general]
run_name = r
[architecture_presets]
ArrayHeight:    {R}
ArrayWidth:     {C}
IfmapSramSzkB:    {I}
FilterSramSzkB:   {F}
OfmapSramSzkB:    {O}
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Dataflow : {df}
Bandwidth : {bw}
ReadRequestBuffer: 32
WriteRequestBuffer: 32
[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: {bw}
IfmapSRAMBankNum: 1
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: {bw}
FilterSRAMBankNum: 1
FilterSRAMBankPort: 2
[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40
[run_presets]
InterfaceBandwidth: USER
UseRamulatorTrace: False
"""

# (M, K, N): decode and small-batch LLM-like GEMMs, scaled to SCALE-Sim's speed, with
# ragged edges on every dimension somewhere
SHAPES = [(1, 1024, 512), (16, 512, 512), (64, 256, 256), (128, 128, 256), (32, 768, 128),
          (100, 200, 60), (48, 96, 200), (256, 64, 128), (8, 2048, 128), (200, 300, 24),
          (512, 64, 64), (4, 512, 1024)]
ARRAYS = [(16, 16)]
OFMAP_KB = (1, 16)
BANDWIDTHS = (2, 8, 32)
KEEP = ("Total Cycles (incl. prefetch)", "Total Cycles", "Stall Cycles",
        "DRAM IFMAP Reads", "DRAM Filter Reads", "DRAM OFMAP Writes",
        "DRAM IFMAP Start Cycle", "DRAM OFMAP Stop Cycle")


def resident_kb(words: int) -> int:
    """The smallest SRAM (whole kB) whose active half holds ``words`` one-byte words."""
    return math.ceil(2 * words / 1024)


def cases():
    out = []
    for R, C in ARRAYS:
        for M, K, N in SHAPES:
            for df in ("os", "ws", "is"):
                for O in OFMAP_KB:
                    for bw in BANDWIDTHS:
                        out.append(("resident", R, C, df, M, K, N, resident_kb(M * K),
                                    resident_kb(K * N), O, bw))
    for df in ("os", "ws", "is"):
        for M, K, N, kb in ((64, 256, 256, 16), (128, 128, 256, 16)):
            out.append(("streaming", 16, 16, df, M, K, N, kb, kb, 16, 8))
    return out


def scalesim_report(R, C, df, M, K, N, I, F, O, bw) -> dict:
    """One SCALE-Sim run of ``A[M, K] @ B[K, N]`` (config ``CFG``) in a temporary folder:
    its compute and access reports as one dict of strings."""
    from scalesim.scale_sim import scalesim
    d = tempfile.mkdtemp()
    with open(f"{d}/c.cfg", "w") as f:
        f.write(CFG.format(R=R, C=C, df=df, I=I, F=F, O=O, bw=bw))
    with open(f"{d}/t.csv", "w") as f:
        f.write(f"Layer, M, N, K,\nl0, {M}, {N}, {K},\n")
    with open(f"{d}/l.csv", "w") as f:
        f.write("Layer name, IFMAP SRAM Block Size, IFMAP SRAM Block Number, "
                "Filter SRAM Block Size, Filter SRAM Block Number,\n")
    s = scalesim(save_disk_space=True, verbose=False, config=f"{d}/c.cfg",
                 topology=f"{d}/t.csv", layout=f"{d}/l.csv", input_type_gemm=True)
    s.run_scale(top_path=d)
    rep = {}
    for name in ("COMPUTE_REPORT", "DETAILED_ACCESS_REPORT"):
        with open(f"{d}/r/{name}.csv") as f:
            rows = list(csv.reader(f))
        rep.update({k.strip(): v.strip() for k, v in zip(rows[0], rows[1]) if k.strip()})
    return rep


def run(case):
    regime, R, C, df, M, K, N, I, F, O, bw = case
    t = time.time()
    rep = scalesim_report(R, C, df, M, K, N, I, F, O, bw)
    rec = {"regime": regime, "rows": R, "cols": C, "dataflow": df, "M": M, "K": K, "N": N,
           "ifmap_kb": I, "filter_kb": F, "ofmap_kb": O, "words_per_cycle": bw}
    rec.update({k: float(rep[k]) for k in KEEP})
    rec["wall_s"] = round(time.time() - t, 2)
    return rec


def main(out_path: str) -> None:
    import scalesim
    todo = cases()
    records = []
    with ProcessPoolExecutor(2) as ex:
        for i, rec in enumerate(ex.map(run, todo)):
            records.append(rec)
            print(f"[{i + 1}/{len(todo)}] {rec['regime']} {rec['dataflow']} "
                  f"{rec['M']}x{rec['K']}x{rec['N']} bw {rec['words_per_cycle']}: "
                  f"{rec['Total Cycles (incl. prefetch)']:.0f} cycles "
                  f"({rec['wall_s']} s)", flush=True)
    data = {"_what": (f"SCALE-Sim {getattr(scalesim, '__version__', '3.0.0')} (pip "
                      "scalesim==3.0.0, numpy<2) in USER bandwidth mode, recorded by "
                      "benchmarks/peers/scalesim_reference.py on "
                      f"{time.strftime('%Y-%m-%d')}; config template in CFG there"),
            "config_template": CFG, "records": records}
    with open(out_path, "w") as f:
        json.dump(data, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
