"""Timing of TeLLMe's units and of the KV260 system built from them."""
from __future__ import annotations

from tokenfab.arch_models.common.tile_timing import sequence_cycles
from tokenfab.errors import UsageError, allow_spill
from tokenfab.results import SystemRun

SYSTEMS = ("kv260",)


def unit_cycles(p, n_beats: int) -> int:
    """Cycles for ``n_beats`` beats back to back (``TileSequencer`` contract): one per
    TLMM beat, ``rmsmax_cycles`` per RMS-MAX vector."""
    return sequence_cycles(n_beats, p.cycles_per_tile)


def gemm(p, M: int, K: int, N: int) -> dict:
    """``A[M, K] @ B[K, N]`` on one TLMM engine: per token, ``t * g`` activations by ``q``
    output indices per cycle (the TLMM's beat)."""
    if p.unit != "tlmm":
        raise UsageError("gemm runs on the TLMM engine (unit=tlmm), not the RMS-MAX unit")
    from tokenfab.arch_models.common.tile_timing import tile_gemm
    return tile_gemm(M, K, N, (1, p.q, p.t * p.g), p.cycles_per_tile)


TEMPLATES = ("fpga-soc",)


def system(p, name="kv260", node: int | None = None, overrides=()):
    """The board from a system file (``kv260`` by default): clock, DDR, the URAMs and
    BRAMs, the FP16 lanes and the LM head's rate; the design's ``clock_mhz``, ``ddr_gbps``
    and ``lm_head_gbps``, when set, replace the file's."""
    from tokenfab.arch_models.common.system import (TILE_ONLY_FIELDS, load_design_platform,
                                                    refuse_unread_fields,
                                                    refuse_unused_figures)
    from tokenfab.arch_models.tellme.system import Kv260System
    platform = load_design_platform(name, overrides, TEMPLATES, SYSTEMS, "tellme", node)
    weights = platform.holders("weights")
    if not weights or weights[0].kind != "uram":
        raise UsageError(f"system {platform.name}: TeLLMe keeps its weights in URAM; the "
                         "file needs a level of kind uram that holds weights")
    uram = weights[0]
    acts = platform.holders("activations")
    energies = ("read_energy", "write_energy")
    refuse_unused_figures(platform, "tellme", {lv.name: energies for lv in [uram, *acts[-1:]]},
                          "an FPGA's die is not the design's, so no level has an area; the "
                          "bytes of the weights' and the attention buffers' levels are priced")
    refuse_unread_fields(platform, "tellme", TILE_ONLY_FIELDS + ("memory.efficiency",
                                                                 "engines.count"),
                         "its timing is the paper's dataflow on one engine, the DDR at "
                         "memory.bandwidth", allowed={"engines.count": (1,)})
    lanes = platform.vector_unit.flops_per_cycle / 2
    return Kv260System(
        name=platform.name, description=platform.description,
        g=p.g, t=p.t, q=p.q,
        clock_hz=p.clock_mhz * 1e6 if p.clock_mhz else platform.clock,
        ddr_bytes_per_s=p.ddr_gbps * 1e9 if p.ddr_gbps else platform.memory.bandwidth,
        ddr_bytes=platform.memory.capacity,
        lm_head_bytes_per_s=(p.lm_head_gbps * 1e9 if p.lm_head_gbps
                             else platform.host_link.bandwidth),
        lanes=max(1, int(lanes)), urams=uram.instances, uram_bits=uram.width_bits,
        uram_depth=int(uram.capacity * 8 // uram.width_bits), uram_ports=uram.ports,
        double_buffered=uram.double_buffered,
        bram_bytes=acts[-1].total_bytes if acts else 0.0,
        levels=tuple(platform.levels), weight_level=uram.name,
        act_level=acts[-1].name if acts else "", memory=platform.memory.technology)


def calibrations(p, sys) -> list:
    """The calibrated constants a run on ``sys`` uses (none that a parameter or the
    system file replaced)."""
    from tokenfab.arch_models.tellme import system as tm
    from tokenfab.calibration import get
    used = [("tellme_clock_hz", sys.clock_hz == tm.CLOCK_HZ),
            ("tellme_lm_head_bytes_per_s", sys.lm_head_bytes_per_s == tm.LM_HEAD_BYTES_PER_S),
            ("tellme_q", p.q == tm.Q_CALIBRATED)]
    return [get(name) for name, on in used if on]


def simulate(p, request, system_name="kv260", *, node: int | None = None,
             progress=None, trace: bool = False, overrides=()) -> SystemRun:
    """Prefill (TTFT) and decode of ``request`` on the KV260 model; one sequence (the
    board serves a single user), ``batch`` must be 1. Decode is one step at the mean
    context (prompt + gen / 2) standing for all ``gen`` steps (attention is linear in
    the context, the rest constant)."""
    from tokenfab.arch_models.tellme.system import (LM_HEAD_BYTES_PER_S, check_capacity,
                                                    check_model, run_phase)
    from tokenfab.results import merge_samples
    say = progress or (lambda msg: None)
    sys = system(p, system_name, node, overrides)
    cfg = request.model
    check_model(cfg)
    if request.batch != 1:
        raise UsageError(f"the KV260 model runs one sequence (batch 1), not {request.batch}")
    if request.allow_spill:
        raise UsageError(f"{allow_spill()} is not modelled for the KV260: its DDR4 is its only "
                         "memory")
    fit = check_capacity(cfg, sys, request.context)
    events = [] if trace else None
    say(f"tellme: prefill of {request.prompt} tokens")
    pre = run_phase(cfg, sys, request.prompt, 0, prefill=True, trace=events)
    dec = None
    if request.gen:
        say("tellme: decode")
        step = run_phase(cfg, sys, 1, request.prompt + request.gen // 2, prefill=False,
                         trace=events)
        dec = merge_samples("decode", [(request.gen, step)], request.gen)
        lm = sum(r.time_s for r in step.rows if r.op == "lm_head")
        overhead = [f"LM head on the Arm cores at {sys.lm_head_bytes_per_s / 1e9:.2f} GB/s: "
                    f"{lm * 1e3:.1f} of {step.seconds * 1e3:.1f} ms per token "
                    f"({lm / step.seconds:.0%}); "
                    + ("the calibrated rate: it stands for a decode overhead fitted to 25 "
                       "tokens/s, which the paper does not attribute"
                       if sys.lm_head_bytes_per_s == LM_HEAD_BYTES_PER_S
                       else "set by lm_head_gbps or the system file")]
    else:
        overhead = []
    return SystemRun(
        design="tellme", params=p.to_dict(), model=cfg.name, system=sys.name,
        system_description=sys.describe(), batch=1, prompt=request.prompt, gen=request.gen,
        prefill=pre, decode=dec,
        peak_ops_per_s=2 * sys.t * sys.g * sys.q * sys.clock_hz,
        memory_bytes_per_s=sys.ddr_bytes_per_s, memory_capacity_bytes=sys.ddr_bytes,
        assumptions=[
            f"weights ternary, packed {sys.idx_bits} bits per {sys.g} weights; activations "
            "INT8 into the TLMM; KV cache FP16 in DDR; LM head FP16 on the Arm cores",
            "the model's weights are taken as ternary (BitNet b1.58); other models are "
            "converted to ternary", *fit] + overhead + request.assumptions(),
        calibrations=calibrations(p, sys),
        trace=events or [], spec=sys, config=cfg)
