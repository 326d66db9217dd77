"""Cycles of the SAIL C-SRAM block (``tokenfab.hw.sail``) and the CPU system around it.

Block level: the RTL's state machine, state by state (see ``tokenfab.hw.sail.top``).
A lookup costs 1 cycle when the all-zero pattern or the pattern-reuse table serves it
and 2 when it reads the array; which one depends on the data, so the count comes from
the golden model's record of every lookup (``golden.GemvStats``).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from tokenfab.arch_models.sail import golden
from tokenfab.hw.sail.params import FP16_PER_LINE, Y_PER_LINE, Params

SYSTEMS = ("graviton2",)
LOOKUP_CYCLES = np.array([1, 1, 2])          # zero pattern, PRT hit, array read


def quantise_cycles(k_lines: int) -> int:
    """Two passes over a token's FP16 lines, one line per cycle, plus a drain each."""
    return 2 * (k_lines + 1)


def load_cycles(p: Params) -> int:
    """One weight line per array and basis weight, plus a drain."""
    return p.nbw * p.arrays + 1


def build_cycles(p: Params) -> int:
    """One word-line per cycle, row 0 included."""
    return p.patterns


def dequant_cycles(n: int) -> int:
    return -(-n // Y_PER_LINE) + 1


def fixed_cycles(p: Params, k_lines: int, b: int, n: int) -> int:
    """Every cycle of a GEMV but the lookups' own: acceptance, conversion, per group the
    weight load, the table build and one line fetch per token, and dequantisation."""
    return (1 + b * quantise_cycles(k_lines)
            + p.groups(k_lines) * (load_cycles(p) + build_cycles(p) + b)
            + b * dequant_cycles(n))


def gemv_cycles(p: Params, stats: golden.GemvStats) -> int:
    """Cycles of one GEMV instruction from its acceptance to the block's next free cycle."""
    d = stats.desc
    return (fixed_cycles(p, d.k_lines, d.b, d.n)
            + int(LOOKUP_CYCLES[stats.lookups].sum()))


def beats_cycles(p: Params, beats) -> int:
    """Cycles from the first input handshake to the last output handshake of ``beats``
    (the last beat a read) with the source always valid and the sink always ready:
    writes and reads take one cycle, a GEMV ``gemv_cycles``, and a read's line leaves
    one cycle after it."""
    _, stats = golden.run(p, beats)
    gemvs = iter(stats)
    last_read = max(k for k, b in enumerate(beats) if b["op"] == "read")
    total = 0
    for b in beats[:last_read]:
        total += gemv_cycles(p, next(gemvs)) if b["op"] == "gemv" else 1
    return total + 1


SCHEDULE_NOTE = ("one instruction per beat: write and read take 1 cycle (a read's line "
                 "leaves the next cycle); a GEMV holds the block for gemv_cycles, which "
                 "depend on the data (array reads skipped by the pattern-reuse table)")


def unit_cycles(p: Params, n_beats: int) -> int:
    """``n_beats`` reads back to back: the first line leaves one cycle after the first
    handshake, then one per cycle."""
    return n_beats


def gemv_model_cycles(p: Params, k_lines: int, b: int, n: int, miss: float) -> float:
    """``gemv_cycles`` when each lookup reads the array with probability ``miss`` (the
    others take one cycle): the system model's expected cycles."""
    return fixed_cycles(p, k_lines, b, n) + p.groups(k_lines) * b * p.act_bits * (1 + miss)


# ---------------------------------------------------------------- the system level
TEMPLATES = ("cpu",)


def system(p: Params, name="graviton2", node: int | None = None, *, sail: bool = True,
           overrides=()):
    """A CPU from a system file (``graviton2`` by default) with a SAIL block per LLC slice
    (``sail=False``: the plain CPU)."""
    from tokenfab.arch_models.common.system import (TILE_ONLY_FIELDS, load_design_platform,
                                                    refuse_unread_fields,
                                                    refuse_unused_figures)
    from tokenfab.arch_models.sail.system import CpuSystem
    from tokenfab.errors import UsageError
    if isinstance(name, CpuSystem):              # a run's own system again
        return dataclasses.replace(name, sail=sail)
    platform = load_design_platform(name, overrides, TEMPLATES, SYSTEMS, "sail", node)
    slices = [lv for lv in platform.holders("weights") if lv.kind == "llc_slice"]
    if not slices:
        raise UsageError(f"system {platform.name}: SAIL sits beside the LLC slices; the file "
                         "needs a level of kind llc_slice that holds weights")
    llc = slices[-1]
    refuse_unused_figures(platform, "sail", {llc.name: ("read_energy",)},
                          "SAIL reads the slice's lines; the CPU's die, its LLC included, is "
                          "Graviton2's datasheet figure")
    if not llc.double_buffered:
        raise UsageError(f"system {platform.name}: level {llc.name}'s double_buffered is "
                         "false, which the sail model does not read (its DMA streams the "
                         "weights ahead into the slices as far as their free bytes allow); "
                         "leave it out")
    refuse_unread_fields(platform, "sail", TILE_ONLY_FIELDS,
                         "its cores and blocks are timed by their own model, the DRAM at "
                         "memory.bandwidth x memory.efficiency")
    cores = platform.engines.count or llc.instances
    if llc.instances != cores:
        raise UsageError(f"system {platform.name}: one LLC slice per core, but the file has "
                         f"{llc.instances} slices and {cores} cores (engines.count)")
    return CpuSystem(
        name=platform.name, cores=cores, core_hz=platform.clock,
        dram_bytes_per_s=platform.memory.bandwidth,
        dram_efficiency=platform.memory.efficiency, memory_bytes=platform.memory.capacity,
        fp16_fma_per_cycle=max(1, round(platform.vector_unit.flops_per_cycle / 2 / cores)),
        llc_slice_bytes=llc.capacity, sail=sail, llc_read_energy=llc.read_energy,
        memory=platform.memory.technology)


def simulate(p: Params, request, system_name="graviton2", *, node=None,
             progress=None, trace: bool = False, sail: bool = True, overrides=()):
    """Prefill of ``batch x prompt`` tokens and ``gen`` decode steps of ``batch`` tokens
    (one step at the mean context standing for all), on the CPU with SAIL (or, with
    ``sail=False``, the same CPU running T-MAC-class kernels)."""
    from tokenfab.arch_models.sail.system import (TRACE_OUTLIER_FRACTION, check_capacity,
                                                  run_phase)
    from tokenfab.arch_models.workloads import decode_ops, prefill_ops
    from tokenfab.calibration import get
    from tokenfab.errors import UsageError, allow_spill
    from tokenfab.results import SystemRun, merge_samples
    say = progress or (lambda msg: None)
    sys = system(p, system_name, node, sail=sail, overrides=overrides)
    cfg = request.model
    if cfg.experts or cfg.mla:
        raise UsageError(f"the SAIL model covers dense models with standard attention, "
                         f"not {cfg.name!r}")
    if request.allow_spill:
        raise UsageError(f"{allow_spill()} is not modelled for SAIL: DRAM is the CPU's only "
                         "memory")
    fit = check_capacity(p, cfg, sys, request.batch, request.context)
    events = [] if trace else None
    who = "sail" if sail else "n1 baseline"
    say(f"{who}: prefill of {request.batch} x {request.prompt} tokens")
    pre = run_phase(p, cfg, sys, prefill_ops(cfg, request.batch, request.prompt), "prefill",
                    request.batch * request.prompt, trace=events)
    dec = None
    if request.gen:
        ctx = request.prompt + request.gen // 2
        say(f"{who}: decode, batch {request.batch} at {ctx} cached tokens")
        step = run_phase(p, cfg, sys, decode_ops(cfg, request.batch, ctx), "decode",
                         request.batch, trace=events)
        dec = merge_samples("decode", [(request.gen, step)], request.batch * request.gen)
    if sail:
        peak = 2 * sys.slices * p.outputs * p.nbw / p.act_bits * sys.csram_hz
        engine = (f"SAIL blocks ({p.arrays} arrays, {p.slots} token slots, PRT "
                  f"{p.prt_entries}) at {sys.csram_hz / 1e9:.2f} GHz on every slice")
    else:
        from tokenfab.arch_models.sail.system import tmac_macs_per_cycle
        peak = 2 * sys.cores * tmac_macs_per_cycle(p) * sys.core_hz
        engine = "T-MAC-class LUT kernels on the cores"
    return SystemRun(
        design="sail", params=p.to_dict(), model=cfg.name, system=sys.name,
        system_description=sys.describe(), batch=request.batch, prompt=request.prompt,
        gen=request.gen, prefill=pre, decode=dec, peak_ops_per_s=peak,
        memory_bytes_per_s=sys.dram_bytes_per_s, memory_capacity_bytes=sys.memory_bytes,
        assumptions=[
            f"linear layers: {p.weight_bits}-bit signed weights, one FP16 scale per output, "
            f"on {engine}; activations quantised per token to {p.act_bits} bits",
            "attention, norms and element-wise work on the cores' FP16 NEON pipes; KV cache "
            "FP16 in DRAM; weights stream from DRAM once per step, one layer ahead",
            f"pattern-reuse hit rates from a stated activation distribution (Laplace, "
            f"{TRACE_OUTLIER_FRACTION:.1%} outlier channels x20; no real trace installs "
            "from the package registries)", fit] + request.assumptions(
                honours_window=False),
        calibrations=[get("sail_tmac_macs_per_cycle_w4")],      # the baseline's rate
        trace=events or [], spec=sys, config=cfg)


def gemm(p: Params, M: int, K: int, N: int) -> dict:
    """One block's cycles for ``A[M, K] @ W[K, N]``: GEMV instructions of ``outputs``
    outputs and ``slots`` tokens, lookups at the activation trace's reuse rate."""
    from tokenfab.arch_models.sail.system import lookup_mix, passes
    from tokenfab.errors import UsageError
    if K % FP16_PER_LINE:
        raise UsageError(f"K must be a multiple of {FP16_PER_LINE}, not {K}")
    tiles = -(-N // p.outputs)
    cycles = 0.0
    for b, count in passes(M, p.slots):
        miss = lookup_mix(p.nbw, p.act_bits, p.prt_entries, b)[2]
        for n0 in range(0, N, p.outputs):
            cycles += count * gemv_model_cycles(p, K // FP16_PER_LINE, b,
                                                min(p.outputs, N - n0), miss)
    ideal = M * K * N * p.act_bits / (p.outputs * p.nbw)      # one lookup per cycle
    return {"cycles": round(cycles), "rtl_cycles": round(cycles), "utilization": ideal / cycles,
            "mapping_efficiency": N / (tiles * p.outputs), "folds": tiles * -(-M // p.slots)}
