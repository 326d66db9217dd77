"""Record ZigZag's best mappings of LLM GEMMs as reference data for the mapper's tests.

Not run by CI. In a separate virtual environment (ZigZag pins its own dependencies):

    python3 -m venv /tmp/zz && /tmp/zz/bin/pip install zigzag-dse six
    /tmp/zz/bin/python benchmarks/peers/zigzag_reference.py tests/data/zigzag_reference.json

ZigZag (KU Leuven, zigzag-dse on PyPI) searches spatial and temporal mappings (LOMA or
SALSA, see ``engine``) and counts every operand's element moves at every memory level.
For each GEMM shape and global-buffer size this records, for ZigZag's minimal-energy
mapping (a DRAM byte costs 12.5x a buffer byte in zigzag_mac16.yaml), the elements and
bits each operand moves at DRAM and at the buffer, and the temporal mapping itself (its
loops per operand per level), so the test can also evaluate tokenfab's access arithmetic
on ZigZag's own mapping.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
# (name, M tokens, K reduction, N outputs): llama-2-7b and llama-2-70b linear layers at
# decode (M = 1), batched decode (M = 16) and prefill (M = 512)
LAYERS = {"7b": [("qkvo", 4096, 4096), ("gate_up", 4096, 11008), ("down", 11008, 4096),
                 ("lm_head", 4096, 32000)],
          "70b": [("q_o", 8192, 8192), ("k_v", 8192, 1024), ("gate_up", 8192, 28672),
                  ("down", 28672, 8192)]}
SHAPES = ([(f"{m}-{name}-M{M}", M, K, N) for m in ("7b",) for name, K, N in LAYERS[m]
           for M in (1, 16, 512)]
          + [(f"70b-{name}-M{M}", M, K, N) for name, K, N in LAYERS["70b"] for M in (1, 512)])
BUFFERS_KIB = (64, 256, 1024)
# LOMA at its default (6 loop prime factors) searches the decode shapes exhaustively
# in ~1 s; on prefill shapes six factors cannot express fine buffer tiles (it then finds
# up to 4x the DRAM traffic), and LOMA at 9 takes ~6 min a shape, so prefill uses SALSA
# (simulated annealing over the same space) at 9, which found LOMA-9's mapping in 14 s.
def engine(M):
    return ("loma", 6) if M <= 16 else ("salsa", 9)


MAPPING = """- name: default
  spatial_mapping:
    D1:
      - K, 16
    D2:
      - C, 16
  memory_operand_links:
    O: O
    W: I2
    I: I1
"""


def run(M, K, N, kib, folder):
    search, lpf = engine(M)
    from zigzag import api
    from zigzag.hardware.architecture.memory_port import DataDirection
    from zigzag.mapping.data_movement import DataMoveAttr
    acc = folder / f"acc{kib}.yaml"
    acc.write_text((HERE / "zigzag_mac16.yaml").read_text()
                   .replace("GBBITS", str(kib * 1024 * 8)))
    mapping = folder / "map.yaml"
    mapping.write_text(MAPPING)
    wl = [{"id": 0, "name": "gemm", "operator_type": "Gemm",
           "equation": "O[b][k]+=I[b][c]*W[k][c]",
           "loop_dims": ["B", "K", "C"], "loop_sizes": [M, N, K],
           "operand_precision": {"I": 8, "W": 8, "O": 32, "O_final": 8},
           "operand_source": {"I": 0, "W": 0}}]
    t0 = time.time()
    _, _, cmes = api.get_hardware_performance_zigzag(
        wl, str(acc), str(mapping), opt="energy", dump_folder=str(folder / "out"),
        temporal_mapping_search_engine=search,
        loma_show_progress_bar=False, lpf_limit=lpf)
    seconds = time.time() - t0
    cme = cmes[0][1][0][0]
    out = {"seconds": seconds, "engine": search, "lpf_limit": lpf, "levels": {},
           "temporal_mapping": {}}
    names = {"I": "activations", "W": "weights", "O": "outputs"}
    for op, loops in cme.temporal_mapping.mapping_dic_stationary.items():
        out["temporal_mapping"][names[str(op)]] = [[[str(d), int(s)] for d, s in lvl]
                                                   for lvl in loops]
    for op, moves in cme.mapping.unit_mem_data_movement.items():
        for lvl, dm in enumerate(moves):
            count = dm.get_attribute(DataMoveAttr.DATA_ELEM_MOVE_COUNT)
            bits = dm.get_attribute(DataMoveAttr.DATA_PRECISION)
            level = ("register", "gbuf", "dram")[lvl]
            rec = out["levels"].setdefault(level, {}).setdefault(names[str(op)], {})
            for d in DataDirection:
                rec[d.value] = {"elements": int(count.get(d)), "bits": int(bits.get(d))}
    return out


def main(path):
    import logging
    logging.disable(logging.WARNING)
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, M, K, N in SHAPES:
            for kib in BUFFERS_KIB:
                r = run(M, K, N, kib, Path(tmp))
                records.append({"shape": name, "M": M, "K": K, "N": N, "gbuf_kib": kib, **r})
                print(f"{name} {kib} KiB: {r['seconds']:.1f} s", flush=True)
    import zigzag
    data = {"tool": "zigzag-dse", "version": getattr(zigzag, "__version__", "3.9.1"),
            "accelerator": "benchmarks/peers/zigzag_mac16.yaml",
            "precision": {"I": 8, "W": 8, "O": 32, "O_final": 8},
            "spatial": {"K": 16, "C": 16}, "objective": "energy",
            "records": records}
    Path(path).write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
