"""Cost hooks of HNLPU: the chip table, Metal-Embedding NRE and TCO.

Inputs taken from the paper live in ``data/hnlpu.json``, each marked as a calibration,
taken as is, or a reference only. Two calibrations:

- hardwired-neuron area per weight: the paper's 573.16 mm2 HN array over gpt-oss-120b's
  weights per chip (16 chips); every other model's chip count is a prediction from it;
- static power density of 5 nm logic: the paper's HN-array power over its area (the
  array's dynamic power, 4 of 128 experts active, is under 0.1 % of it).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from tokenfab.arch_models import systems
from tokenfab.arch_models.hnlpu.system import (WEIGHTS_PER_CHIP, chips_for,
                                               group_weights_per_chip)
from tokenfab.calibration import calibrated
from collections import Counter

from tokenfab.cost_models import die, energy, nre, tco, tech
from tokenfab.cost_models.components import (ACTIVITY, Components, adder, mux_tree, popcount,
                                             register, times, word_toggles)
from tokenfab.errors import UsageError, option
from tokenfab.results import Frameable, Price, Pricing

NODE = 5
# 24 GB stacks (paper, Appendix B) are HBM3E parts; priced by tech.json's HBM3E row.
MEMORY = "hbm3e"
REFERENCE_MODEL = "gpt-oss-120b"
REFERENCE_CHIPS = 16


def paper(*path) -> float:
    return tech.value(*path, file="hnlpu")


# ---------------------------------------------------------------- the chip
def hn_area_per_weight() -> float:
    """m2 per hardwired weight: the paper's HN array over the calibrated weights per chip."""
    return paper("chip_table", "hn_array_area") / WEIGHTS_PER_CHIP


def chip_area(cfg, sys, weight_format: str = "fp4") -> dict:
    """Block areas (m2) of one chip of ``sys`` (all chips alike)."""
    chips_for(cfg, weight_format)            # checks the format
    links = sys.links_per_chip
    blocks = {
        # the weights spread evenly over a layer group's chips; every chip's array is
        # the fullest group's
        "hn_array": group_weights_per_chip(cfg, sys) * hn_area_per_weight(),
        "vex": paper("chip_table", "vex_area"),
        "control": paper("chip_table", "control_area"),
        # 1W1R banks: two-port (8T) cells (or the system file's area per bank)
        "attention_buffer": (sys.buffer_bank_area * sys.buffer_bytes / sys.buffer_bank_bytes
                             if sys.buffer_bank_area is not None else
                             energy.sram_macro_area_m2(8 * sys.buffer_bytes, NODE)
                             * tech.value("sram_28nm", "two_port_cell_factor")),
        "interconnect": links * 16 * tech.value("phy", "pcie_lane_phy_area"),
        "hbm_phy": paper("system", "hbm_stacks") * tech.value("phy", "hbm_stack_phy_area"),
    }
    return blocks


LOGIC_STATIC_W_PER_M2 = calibrated(
    "hnlpu_logic_static_w_per_m2", 76.92 / 573.16e-6,
    fitted_to="HN array 76.92 W over 573.16 mm2 (HNLPU, ASPLOS '26, Table 1): the array "
              "is almost idle, so its power is taken as 5 nm logic leakage",
    drives="HN-array static power of HNLPU chips")


def logic_static_w_per_m2() -> float:
    return LOGIC_STATIC_W_PER_M2


def checked_area_mm2(cfg, sys, weight_format: str = "fp4") -> float:
    """One chip's area (mm2), refused past the reticle."""
    area = sum(chip_area(cfg, sys, weight_format).values()) * 1e6
    die.check_reticle(area, what=f"HNLPU chip for {cfg.name} ({sys.chips} chips)")
    return area


def _fa_switch_j() -> float:
    """One full-adder toggle at 5 nm at the assumed activity: one per weight-bit."""
    return tech.value("gates_28nm", "fa_energy") * tech.scale(NODE, "energy") * ACTIVITY


def unit_components(p) -> Components:
    """The hardwired GEMV unit's gates, counted from its weights as ``hw/hnlpu/top.py``
    builds it. ``neuron``: the input registers shifting one bit-plane a step, and per
    output and distinct weight value a population count of the inputs' current bit-plane
    (``components.popcount``) and a doubling accumulator, every cycle; once per vector a shift-add constant multiply per value and
    the adder tree over the values. ``cell``: per nonzero weight a shift-add constant
    multiplier, and the adder tree, one cycle per vector."""
    from tokenfab.hw.common.params import signed_width
    from tokenfab.hw.hnlpu.top import value_groups
    w = p.weight_matrix()
    lo, hi = p.input_range
    x = register(p.rows * p.input_bits)
    per_step, per_tile = Counter(), register(p.cols * p.out_bits)
    if p.style == "neuron":     # the inputs shift a bit-plane a step: a load-or-shift mux
        per_step += x + mux_tree(2, p.rows * p.input_bits)
    else:
        per_tile += x
    for j in range(p.cols):
        groups = value_groups(w[:, j])
        if p.style == "neuron":
            for v, ins in groups.items():
                acc = signed_width(len(ins) * lo, len(ins) * hi)
                per_step += popcount(len(ins)) + adder(acc) + register(acc)
                per_tile += times(adder(p.out_bits), max(bin(abs(v)).count("1") - 1, 0)
                                  + (v < 0))
            per_tile += times(adder(p.out_bits), max(len(groups) - 1, 0))
        else:
            nz = [v for v, ins in groups.items() for _ in ins]
            per_step += times(adder(p.out_bits), sum(max(bin(abs(v)).count("1") - 1, 0)
                                                     + (v < 0) for v in nz)
                              + max(len(nz) - 1, 0))
    switching = None
    if p.style == "neuron":
        switching = (_neuron_switching(p) + x + mux_tree(2, p.rows * p.input_bits)
                     + times(per_tile, 1 / p.cycles_per_tile))
    return Components(per_step, per_tile, p.cycles_per_tile, switching=switching)


SWITCHING_VECTORS = 32     # random input vectors the neuron's words are followed over


def _neuron_switching(p) -> Counter:
    """The neuron style's gates as they switch per step, followed word by word
    (``components.word_toggles``) over random input vectors uniform on the input range,
    the operands ``tokenfab asic``'s bench drives. Each step, for each output and weight
    value: the population count (random input bits: every gate at the activity), the
    accumulator's adder and register, and, reading the adder's output as the RTL does, the
    constant multiply's shift-adds and the tree over the products. MSB-first Horner
    partial sums keep their sign within a vector, so their wide high bits rarely switch:
    counted at full width every step these gates would be 1.3-1.7x the synthesised
    energy, once per vector 0.65-0.74x."""
    from tokenfab.hw.common.params import signed_width
    from tokenfab.hw.hnlpu.top import value_groups
    rng = np.random.default_rng(0)
    lo, hi = p.input_range
    bits = p.input_bits
    x = rng.integers(lo, hi + 1, size=(SWITCHING_VECTORS, p.rows))
    # the top s + 1 bits of every input, as signed values: plane s's partial sums
    tops = [np.floor_divide(x, 1 << (bits - 1 - s)) for s in range(bits)]
    w = p.weight_matrix()
    out, fa = Counter(), 0.0
    for j in range(p.cols):
        products = []
        for v, ins in value_groups(w[:, j]).items():
            acc_w = signed_width(len(ins) * lo, len(ins) * hi)
            sums = np.stack([t[:, ins].sum(axis=1) for t in tops], axis=1)
            held = np.concatenate([np.zeros((len(x), 1), np.int64), sums[:, :-1]], axis=1)
            nxt = sums.reshape(-1)                       # the adder's output, step by step
            out += popcount(len(ins))
            out["dff"] += word_toggles(held.reshape(-1), acc_w)
            fa += word_toggles(nxt, acc_w + 2)
            width = acc_w + 2 + abs(v).bit_length()
            product = nxt * v
            fa += (max(bin(abs(v)).count("1") - 1, 0) + (v < 0)) * word_toggles(product, width)
            products.append((product, width))
        while len(products) > 1:                         # hw.common.arith.adder_tree's pairs
            pairs = [(a + b, max(wa, wb) + 1) for (a, wa), (b, wb)
                     in zip(products[0::2], products[1::2])]
            fa += sum(word_toggles(total, width) for total, width in pairs)
            products = pairs + products[len(pairs) * 2:]
    out["fa"] += fa
    return out


def buffer_static_w(sys) -> float:
    """Attention-buffer leakage: CACTI 22 nm per-bit leakage (not scaled), two-port cells."""
    return (energy.sram_leakage_w(sys.buffer_bytes, NODE)
            * tech.value("sram_28nm", "two_port_cell_factor"))


# Energy per bit a chip sends over CXL, PHY and controller (the "Interconnect Engine"):
# fitted so that the traffic the model moves at the paper's operating point draws the
# paper's interconnect power. Other contexts, batches and models are predictions.
CXL_J_PER_BIT = calibrated(
    "hnlpu_cxl_energy_per_bit", 12.04e-12,
    fitted_to="Interconnect Engine 49.65 W per chip (HNLPU, ASPLOS '26, Table 1) at the "
              "traffic the model moves for gpt-oss-120b, 2K context, batch 216",
    drives="HNLPU interconnect power and energy (every link bit)")


def hbm_core_price() -> Price:
    """HBM energy per bit off the chip: the DRAM stacks' part of tech.json's HBM3E figure
    (and of its range). Its I/O part is the PHY's, which the paper's HBM-PHY power
    already counts."""
    return energy.offchip_price(MEMORY, 1, minus_j_per_bit=tech.value("offchip_io", MEMORY))


def pricing(p, run) -> Pricing:
    """Joules per event and constant draws of an HNLPU run (all chips): HN switching per
    weight-bit; attention-buffer reads and writes (every KV byte passes the buffer: read
    when resident, written then read when it streams in from HBM) and HBM traffic; HN and
    buffer leakage; the paper's VEX, SerDes and HBM-PHY power as constant draws."""
    from tokenfab.calibration import get
    sys = run.spec
    cfg = run.config
    area = chip_area(cfg, sys, p.weight_format)
    area_mm2 = checked_area_mm2(cfg, sys, p.weight_format)
    n = sys.chips
    per_event = {
        "hn_weight_bits": Price("compute", _fa_switch_j(), True),
        # one bank of the attention buffer: the system file's figure or the SRAM model's
        "kv_buffer_read_bits": Price("sram", energy.access_energy_per_byte(
            sys.buffer_bank_bytes, NODE, sys.buffer_read_energy) / 8, True),
        "kv_buffer_write_bits": Price("sram", energy.access_energy_per_byte(
            sys.buffer_bank_bytes, NODE, sys.buffer_write_energy, write=True) / 8, True),
        "hbm_bits": hbm_core_price(),
        "link_bits": Price("interconnect", CXL_J_PER_BIT, True),
    }
    power = {
        "hn_static": Price("static", n * area["hn_array"] * logic_static_w_per_m2(), True),
        "buffer_static": Price("static", n * buffer_static_w(sys), True),
        "vex": Price("compute", n * paper("chip_table", "vex_power"), True),
        "hbm_phy": Price("dram", n * paper("chip_table", "hbm_phy_power"), True),
    }
    return Pricing(per_event=per_event, power_w=power, area_mm2=area_mm2,
                   calibrations=[get("hnlpu_logic_static_w_per_m2"),
                                 get("hnlpu_cxl_energy_per_bit"), get("gate_activity")],
                   assumptions=["VEX and HBM-PHY power are the paper's Table 1 figures, "
                                "drawn whatever the traffic; the HBM stacks' energy per bit "
                                "excludes the I/O the PHY power holds",
                                "interconnect power follows the link traffic at the "
                                "calibrated energy per bit"],
                   extra={"area_breakdown_mm2": {k: v * 1e6 for k, v in area.items()}},
                   memory=energy.memory_summary(MEMORY))


# ---------------------------------------------------------------- NRE and TCO
LEVELS = ("low", "high")


def masks(level: str) -> tuple[float, float]:
    """(shared, per chip) mask cost: a 5 nm set at the paper's anchor for ``level``; the
    10 DUV metal-embedding layers are per chip, the rest is shared by all chips."""
    m = nre.mask_set(NODE, price_usd=paper("masks", f"set_price_{level}"))
    per_chip = m.layers_cost(duv=int(paper("masks", "metal_embedding_duv_layers")))
    return m.price_usd - per_chip, per_chip


def design_nre(level: str) -> nre.NRE:
    """The paper's design NRE by component (taken; it does not depend on the model)."""
    return nre.NRE(**{k: paper("design_nre", f"{k}_{level}")
                      for k in ("architecture", "verification", "physical", "ip")})


def recurring_per_chip(level: str, die_usd: float) -> dict:
    hbm_bytes = paper("system", "hbm_stacks") * paper("system", "hbm_stack_capacity")
    return {"die": die_usd,
            "package_test": paper("recurring", f"package_test_{level}"),
            "hbm": hbm_bytes * paper("recurring", f"hbm_per_gb_{level}"),
            "integration": paper("recurring", f"integration_{level}")}


@dataclasses.dataclass
class HnlpuCost(Frameable):
    """Cost of one HNLPU (all its chips) for a model; ranges are (low, high)."""

    HEADLINE = ("chips", "chip_power_w", "system_power_w", "tokens_per_s", "tokens_per_j", "die_cost_usd")

    design: str
    model: str
    node: str
    chips: int
    grid: tuple                         # rows, columns of one layer group
    layer_groups: int                   # groups in the ring (1: the paper's one grid)
    area_mm2: float                     # one chip
    area_breakdown_mm2: dict
    hn_array_mm2: float
    package_floor: dict                 # the die its package needs (die.package_floor)
    die_cost_usd: float
    system_power_w: float               # at the paper's workload (pipeline full, 2K context)
    chip_power_w: float
    chip_peak_power_w: float            # one chip, every block at its full rate
    power_breakdown_w: dict
    tokens_per_s: float
    tokens_per_j: float
    tokens_per_j_low: float             # every energy at the low / high end of its sources
    tokens_per_j_high: float
    blocks: dict                        # each block against the paper's Table 1
    shared_masks_usd: tuple
    chip_masks_usd: tuple
    design_nre_usd: tuple
    recurring_usd: tuple                # all chips
    nre_usd: tuple                      # initial build of one HNLPU
    respin_usd: tuple
    tco_static_usd: tuple
    tco_updates_usd: tuple
    tco: dict
    usd_per_mtoken: tuple

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for key in ("nre_usd", "respin_usd"):
            d[f"{key[:-4]}_usd_low"], d[f"{key[:-4]}_usd_high"] = d[key]
        return d


# Where each block's area and power come from: "calibrated" (fitted to that very
# figure), "paper" (the paper's figure taken as is) or "predicted" (our model).
BASIS = {
    "hn_array": ("calibrated", "calibrated"),
    "vex": ("paper", "paper"),
    "control": ("paper", "paper"),
    "attention_buffer": ("predicted", "predicted"),
    "interconnect": ("predicted", "calibrated"),
    "hbm_phy": ("predicted", "paper"),
}


def block_table(area_mm2: dict, power_w: dict, peak_w: dict) -> dict:
    """Each block's modelled area and power beside the paper's Table 1, with the relative
    error and the basis of each figure (``BASIS``): only "predicted" figures are tests of
    the model; a total can match while its blocks do not."""
    out = {}
    for block, (area_basis, power_basis) in BASIS.items():
        row = {"area_mm2": area_mm2[block],
               "paper_area_mm2": paper("chip_table", f"{block}_area") * 1e6,
               "area_basis": area_basis}
        row["area_error"] = row["area_mm2"] / row["paper_area_mm2"] - 1
        if block in power_w:
            row.update(power_w=power_w[block], peak_power_w=peak_w[block],
                       paper_power_w=paper("chip_table", f"{block}_power"),
                       power_basis=power_basis)
            row["power_error"] = row["power_w"] / row["paper_power_w"] - 1
        out[block] = row
    return out


def design_cost(design, node=None, model=None, system=None, volume: int = 1,
                rtl_area: bool = False, overrides=()) -> HnlpuCost:
    """``tokenfab cost hnlpu --model M``: chips, chip table, NRE, re-spin and 3-year TCO
    of one HNLPU hardwiring ``M`` (default gpt-oss-120b)."""
    from tokenfab.arch_models.hnlpu import system as hs
    from tokenfab.arch_models.workloads import load_model
    n = tech.check_node(node or f"{NODE}nm")
    if n != NODE:
        raise UsageError(f"the HNLPU cost model is calibrated at 5nm only, not {node!r}")
    if rtl_area:
        raise UsageError(f"{option('rtl_area=True', '--rtl-area')} applies to tile designs; "
                         "for HNLPU run `tokenfab fpga` or the area notebook on the GEMV unit")
    p = design.params
    cfg = load_model(model or REFERENCE_MODEL)
    # The paper's operating point: the pipeline full (6 tokens per layer) at 2K context.
    batch = hs.HnlpuSystem().max_inflight_per_layer * cfg.layers
    sim = design.simulate(model=model or REFERENCE_MODEL, batch=batch, prompt=2048, gen=1,
                          system=system, overrides=overrides)
    out = sim.to_dict()
    sys = sim.run.spec
    chips = sys.chips                      # a full grid (spare HN area on some chips)
    area = chip_area(cfg, sys, p.weight_format)
    blocks = block_power_w(sim)
    peaks = block_peak_w(sim)
    # the die its package needs: its HBM stacks around it, the bumps of its peak current
    memory = systems.load(system or "hnlpu", overrides).memory.technology
    floor = die.package_floor(memory, int(paper("system", "hbm_stacks")) * 1024,
                              sum(peaks.values()), NODE)
    area_mm2 = max(out["area_mm2"], floor["area_mm2"])
    dc = die.die_cost(area_mm2, NODE)
    system_w = out["system_power_w"]
    tokens_per_s = out["decode_tokens_per_s"]
    ranges = {k: [] for k in ("shared", "chip", "design", "recurring", "build", "respin",
                              "static", "updates", "usd_mtok")}
    tcos = {}
    years = tech.econ("facility", "service_life") / (365.25 * 24 * 3600)
    updates = max(0, math.ceil(years * paper("tco", "updates_per_year")) - 1)
    for level in LEVELS:
        shared, per_chip = masks(level)
        rec = chips * sum(recurring_per_chip(level, dc.cost_per_good_die_usd).values())
        dn = design_nre(level).total
        build = shared + chips * per_chip + dn + rec
        respin = chips * per_chip + rec
        common = dict(it_power_w=system_w, network_usd=paper("tco", "infrastructure"),
                      building_usd_per_w=0.0,
                      embodied_co2_kg=chips * paper("tco", "embodied_per_module"))
        # The paper's accounting: maintenance is one spare set of the recurring hardware
        # over the service life (its H100 column uses 5% of CapEx per year instead).
        static = tco.tco(build, maintenance_per_year=rec / build / years, **common)
        dyn = tco.tco(build, maintenance_per_year=rec / build / years,
                      respin_usd=updates * respin, **common)
        dyn.embodied_co2_kg += updates * chips * paper("tco", "embodied_per_module")
        tcos[level] = {"static": static.to_dict(), "annual_updates": dyn.to_dict()}
        for key, val in (("shared", shared), ("chip", per_chip), ("design", dn),
                         ("recurring", rec), ("build", build), ("respin", respin),
                         ("static", static.total_usd), ("updates", dyn.total_usd)):
            ranges[key].append(val)
        ranges["usd_mtok"].append(static.usd_per_mtoken(tokens_per_s))
    return HnlpuCost(
        design=design.name, model=cfg.name, node=f"{NODE}nm", chips=chips,
        grid=(sys.rows, sys.cols), layer_groups=sys.groups, area_mm2=area_mm2,
        area_breakdown_mm2={k: v * 1e6 for k, v in area.items()},
        hn_array_mm2=area["hn_array"] * 1e6, package_floor=floor,
        die_cost_usd=dc.cost_per_good_die_usd,
        system_power_w=system_w, chip_power_w=out["chip_power_w"],
        power_breakdown_w=blocks, tokens_per_s=tokens_per_s,
        tokens_per_j=out["tokens_per_j"], tokens_per_j_low=out["tokens_per_j_low"],
        tokens_per_j_high=out["tokens_per_j_high"],
        blocks=block_table(out["extra"]["area_breakdown_mm2"], blocks, peaks),
        chip_peak_power_w=sum(peaks.values()),
        shared_masks_usd=tuple(ranges["shared"]), chip_masks_usd=tuple(ranges["chip"]),
        design_nre_usd=tuple(ranges["design"]), recurring_usd=tuple(ranges["recurring"]),
        nre_usd=tuple(ranges["build"]), respin_usd=tuple(ranges["respin"]),
        tco_static_usd=tuple(ranges["static"]), tco_updates_usd=tuple(ranges["updates"]),
        tco=tcos, usd_per_mtoken=tuple(ranges["usd_mtok"]))


def block_power_w(sim) -> dict:
    """One chip's power by block while decoding (W): the priced terms of the decode rows
    grouped as the paper's Table 1 groups them (HBM DRAM traffic is off the chip)."""
    run, pricing = sim.run, sim.pricing
    dec = run.decode
    groups = {"hn_array": ("hn_weight_bits", "hn_static"), "vex": ("vex",),
              "attention_buffer": ("kv_buffer_read_bits", "kv_buffer_write_bits",
                                   "buffer_static"),
              "interconnect": ("link_bits",), "hbm_phy": ("hbm_phy",)}
    out = {}
    for block, names in groups.items():
        j = 0.0
        for name in names:
            if name in pricing.power_w:
                j += pricing.power_w[name].value * dec.seconds
            else:
                j += pricing.per_event[name].value * sum(r.events.get(name, 0.0)
                                                         for r in dec.rows)
        out[block] = j / dec.seconds / run.chips
    return out


def block_peak_w(sim) -> dict:
    """One chip's blocks at their full rate (W): every HN stage holding a token, so the
    weights one token uses (its routed experts only: a stage holds one token at a time)
    switching once per vector per bit; the attention buffer at its full bandwidth; every
    chip link sending at its full bandwidth; with the constant draws (leakage, the
    paper's VEX and HBM-PHY power)."""
    run, pricing = sim.run, sim.pricing
    sys, n = run.spec, run.chips
    ev, const = pricing.per_event, {k: v.value / n for k, v in pricing.power_w.items()}
    weights = run.config.linear_params(active_only=True) / n
    bits_per_s = weights * sys.input_bits / sys.vector_cycles * sys.clock_hz
    access = max(ev["kv_buffer_read_bits"].value, ev["kv_buffer_write_bits"].value)
    return {
        "hn_array": const["hn_static"] + bits_per_s * ev["hn_weight_bits"].value,
        "vex": const["vex"],
        "attention_buffer": const["buffer_static"] + 8 * sys.buffer_bytes_per_s * access,
        "interconnect": (sys.links_per_chip * 8 * sys.link_bytes_per_s
                         * ev["link_bits"].value),
        "hbm_phy": const["hbm_phy"],
    }


def fleet_usd_per_mtoken(cost: HnlpuCost, systems: int, updates_per_year: float,
                         level: str = "low") -> float:
    """$ per million tokens of ``systems`` HNLPUs hardwiring one model over the service
    life: the NRE once, the recurring hardware per system, new metal-embedding masks and
    chips at every weight update, and each system's electricity, infrastructure and
    spares. Tokens at the simulated throughput (batch 216, 2K context)."""
    if cost.tokens_per_s is None:
        raise UsageError(f"no throughput for {cost.model!r}: the system model cannot map it")
    if systems < 1:
        raise UsageError(f"systems must be >= 1, not {systems!r}")
    i = LEVELS.index(level)
    years = tech.econ("facility", "service_life") / (365.25 * 24 * 3600)
    updates = max(0, math.ceil(years * updates_per_year) - 1) if updates_per_year else 0
    nre_once = cost.design_nre_usd[i] + cost.shared_masks_usd[i] + cost.chips * cost.chip_masks_usd[i]
    rec = cost.recurring_usd[i]
    hardware = nre_once + systems * rec
    t = tco.tco(hardware, systems * cost.system_power_w,
                network_usd=systems * paper("tco", "infrastructure"), building_usd_per_w=0.0,
                maintenance_per_year=systems * rec / hardware / years,
                respin_usd=updates * (cost.chips * cost.chip_masks_usd[i] + systems * rec))
    return t.usd_per_mtoken(systems * cost.tokens_per_s)


def h100_usd_per_mtoken(gpus: int = 2000) -> float:
    """The paper's H100 baseline: Table 3's cluster TCO over its measured 1.08 K tokens/s
    per GPU (1K prefill / 1K decode, concurrency 50)."""
    per_gpu = 1080.0    # HNLPU paper Table 3 assumptions (taken)
    return tco.gpu_cluster_tco(gpus).usd_per_mtoken(gpus * per_gpu)
