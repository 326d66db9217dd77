"""The component model against the seven units synthesised onto sky130_fd_sc_hd.

``tests/data/asic_units.json`` holds each unit at three parameter sets through
``tokenfab asic`` (recorded by ``benchmarks/asic_units.py``; one point is re-run here and
must reproduce). Each unit's gate counts (its cost hook) are priced with the library's own
cells and compared with the synthesised area and the dynamic energy per cycle of the
bench's random stimulus on the mapped netlist."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import tokenfab
from tokenfab.cost_models import tech
from tokenfab.cost_models.asic import liberty, model_check

DATA = Path(__file__).parent / "data" / "asic_units.json"
SKY130 = Path(__file__).resolve().parents[2] / "shared" / "pdk" / \
    "sky130_fd_sc_hd__tt_025C_1v80.lib.gz"
pytestmark = pytest.mark.skipif(not SKY130.exists(),
                                reason=f"the sky130 Liberty is not at {SKY130}")
RECORDED = json.loads(DATA.read_text())["points"]


@pytest.fixture(scope="module")
def gates():
    return model_check.library_gates(liberty.load(SKY130))


def _rows(gates):
    return [model_check.compare(tokenfab.design(p["design"], **p["given"]), p, gates,
                                tech.value("gates_28nm", "activity"))
            for p in RECORDED if "error" not in p]


def test_the_library_cells_are_found_by_function(gates):
    names = {g: v["cell"].replace("sky130_fd_sc_hd__", "") for g, v in gates.items()}
    assert names == {"nand2": "nand2_1", "xor2": "xor2_1", "mux2": "mux2_1",
                     "fa": "2 x xor2_1 + maj3_1", "dff": "dfxtp_1", "dffe": "edfxtp_1"}
    assert gates["dff"]["clock_j"] > gates["dff"]["toggle_j"] > gates["nand2"]["toggle_j"] > 0


def test_every_unit_is_recorded_at_three_parameter_sets():
    designs = [p["design"] for p in RECORDED if "error" not in p]
    for name in ("lut-tensor-core", "mac-array", "systolic-array", "mixpe", "sail",
                 "tellme", "hnlpu"):
        assert designs.count(name) == 3, name


def test_counts_on_the_librarys_cells_give_the_synthesised_area(gates):
    """Within 25% for every unit and parameter set (SAIL's memories counted as the flow
    builds them: load-enable flip-flops and read multiplexers)."""
    bad = [(r["design"], r["params"], round(r["area_ratio"], 2)) for r in _rows(gates)
           if not 0.75 <= r["area_ratio"] <= 1.25]
    assert not bad, bad


def test_one_point_reproduces(tmp_path):
    """The recorded data are what the flow gives today (LUT Tensor Core, N16 W4)."""
    want = next(p for p in RECORDED if p["design"] == "lut-tensor-core"
                and p["given"] == {"n": 16, "weight_bits": 4})
    r = tokenfab.design("lut-tensor-core", n=16, weight_bits=4).asic(SKY130, "5ns", tmp_path)
    assert r.area_um2 == pytest.approx(want["area_um2"], rel=1e-6)
    assert r.energy_per_op_pj == pytest.approx(want["energy_per_op_pj"], rel=1e-6)


def test_each_units_switching_is_its_own(gates):
    """What is not yet within 25%: the dynamic energy. With every flip-flop's clock pin
    priced each cycle, the activity at which a unit's counted gates match its
    synthesised energy is stable across the unit's parameter sets (within 15% of its
    mean) but differs between units: higher where operands are broadcast across the
    array (the LUT tables and the MAC array's activations drive 16 to 64 columns through
    buffer trees) than in the systolic array's neighbour-to-neighbour links. One
    activity figure for every unit, as the component model has, cannot match them all;
    the model needs the fan-out (issue 24 stays open on it)."""
    per = {}
    for p in RECORDED:
        # SAIL's memories are clocked flip-flops in this flow (no SRAM macros): their
        # clock pins are most of its energy, which the cost model prices as SRAM
        if "error" not in p and p["design"] != "sail":
            d = tokenfab.design(p["design"], **p["given"])
            per.setdefault(p["design"], []).append(
                model_check.effective_activity(d, p, gates))
    for name, values in per.items():
        mean = sum(values) / len(values)
        assert all(abs(v / mean - 1) < 0.15 for v in values), (name, values)
    means = {k: sum(v) / len(v) for k, v in per.items()}
    assert means["lut-tensor-core"] > 1.5 * means["systolic-array"]
    assert means["mac-array"] > 1.5 * means["systolic-array"]
