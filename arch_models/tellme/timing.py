"""Timing of TeLLMe's units and of the KV260 system built from them."""
from __future__ import annotations

from tokenfab.arch_models.common.system import check_system
from tokenfab.arch_models.common.tile_timing import sequence_cycles
from tokenfab.errors import UsageError
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


def system(p, name: str = "kv260", node: int | None = None):
    from tokenfab.arch_models.tellme.system import Kv260System
    check_system(name, dict.fromkeys(SYSTEMS))
    if node not in (None, 16):
        raise UsageError(f"TeLLMe runs on the KV260 (16 nm FPGA); node must be 16nm, "
                         f"not {node}nm")
    from tokenfab.arch_models.tellme.system import LM_HEAD_BYTES_PER_S
    return Kv260System(g=p.g, t=p.t, q=p.q, clock_hz=p.clock_mhz * 1e6,
                       ddr_bytes_per_s=p.ddr_gbps * 1e9,
                       lm_head_bytes_per_s=p.lm_head_gbps * 1e9 or LM_HEAD_BYTES_PER_S)


def simulate(p, request, system_name: str = "kv260", *, node: int | None = None,
             progress=None, trace: bool = False) -> SystemRun:
    """Prefill (TTFT) and decode of ``request`` on the KV260 model; one sequence (the
    board serves a single user), ``batch`` must be 1. Decode is one step at the mean
    context (prompt + gen / 2) standing for all ``gen`` steps (attention is linear in
    the context, the rest constant)."""
    from tokenfab.arch_models.tellme.system import (DDR_BYTES, check_capacity, check_model,
                                                    run_phase)
    from tokenfab.calibration import get
    from tokenfab.results import merge_samples
    say = progress or (lambda msg: None)
    sys = system(p, system_name, node)
    cfg = request.model
    check_model(cfg)
    if request.batch != 1:
        raise UsageError(f"the KV260 model runs one sequence (batch 1), not {request.batch}")
    if request.allow_spill:
        raise UsageError("--allow-spill is not modelled for the KV260: its DDR4 is its only "
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
                       "tokens/s, which the paper does not attribute" if not p.lm_head_gbps
                       else "set by lm_head_gbps")]
    else:
        overhead = []
    return SystemRun(
        design="tellme", params=p.to_dict(), model=cfg.name, system=sys.name,
        system_description=sys.describe(), batch=1, prompt=request.prompt, gen=request.gen,
        prefill=pre, decode=dec,
        peak_ops_per_s=2 * sys.t * sys.g * sys.q * sys.clock_hz,
        memory_bytes_per_s=sys.ddr_bytes_per_s, memory_capacity_bytes=DDR_BYTES,
        assumptions=[
            f"weights ternary, packed {sys.idx_bits} bits per {sys.g} weights; activations "
            "INT8 into the TLMM; KV cache FP16 in DDR; LM head FP16 on the Arm cores",
            "the model's weights are taken as ternary (BitNet b1.58); other models are "
            "converted to ternary", fit] + overhead + request.assumptions(),
        calibrations=[get("tellme_lm_head_bytes_per_s"), get("tellme_q")],
        trace=events or [], spec=sys, config=cfg)
