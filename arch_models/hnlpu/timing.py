"""Timing of the hardwired GEMV unit and of the HNLPU system built from hardwired neurons."""
from __future__ import annotations

from tokenfab.arch_models.common.system import check_system
from tokenfab.arch_models.common.tile_timing import sequence_cycles
from tokenfab.errors import UsageError
from tokenfab.results import OpRow, Phase, SystemRun

SYSTEMS = ("hnlpu",)


def unit_cycles(p, n_vectors: int) -> int:
    """Cycles for ``n_vectors`` input vectors back to back (``TileSequencer`` contract:
    ``input_bits`` cycles per vector for the neuron style, 1 for cell embedding)."""
    return sequence_cycles(n_vectors, p.cycles_per_tile)


def gemm(p, M: int, K: int, N: int) -> dict:
    """``M`` vectors through the unit's own hardwired ``rows x cols`` matrix: the weights
    are fixed in metal, so K and N must be the unit's."""
    if (K, N) != (p.rows, p.cols):
        raise UsageError(f"the HNLPU unit's weights are hardwired as {p.rows}x{p.cols}: "
                         f"gemm takes K={p.rows} and N={p.cols}, not K={K} and N={N}")
    from tokenfab.arch_models.common.tile_timing import tile_gemm
    return tile_gemm(M, K, N, (1, p.cols, p.rows), p.cycles_per_tile)


def system(p, name: str = "hnlpu", node: int = 5):
    from tokenfab.arch_models.hnlpu.system import HnlpuSystem
    check_system(name, dict.fromkeys(SYSTEMS))
    if node != 5:
        raise UsageError(f"the HNLPU system is modelled at 5nm only, not {node}nm")
    return HnlpuSystem(**system_fields(p))


def system_fields(p) -> dict:
    """The :class:`HnlpuSystem` fields ``Params`` set."""
    return dict(input_bits=p.input_bits, link_latency_s=p.link_latency_ns * 1e-9,
                hbm_bytes_per_s=p.hbm_tb_per_s * 1e12)


def _phase(name, cfg, sys, report, seconds: float, tokens: int, context: int) -> Phase:
    """One row per stage kind (``count`` = layers), each the stage's share of the token
    latency applied to the phase time; events for the cost model per token."""
    from tokenfab.arch_models.hnlpu.system import kv_bytes_per_chip, stage_weights
    weights = stage_weights(cfg)
    total = sum(report.stage_s.values())
    kv_bits = 8 * sys.chips * kv_bytes_per_chip(cfg, sys, 1, context)
    spilled = 1 - report.kv_resident
    engine = {"attention": "vex", "norm_router": "vex"}
    rows = []
    for stage, share in report.stage_s.items():
        ev = {"hn_weight_bits": tokens * weights[stage] * sys.input_bits,
              "link_bits": tokens * sys.chips * 8 * report.link_bytes[stage]}
        if stage == "attention":
            ev.update(kv_buffer_read_bits=tokens * kv_bits * (1 + spilled),
                      kv_buffer_write_bits=tokens * kv_bits * spilled,
                      hbm_bits=tokens * kv_bits * spilled)
        bound = report.stage_bound[stage]
        rows.append(OpRow(phase=name, layer=-1, op=stage, engine=engine.get(stage, "hn"),
                          bound=bound, time_s=seconds * share / total,
                          count=1 if stage == "head" else cfg.layers,
                          macs=tokens * weights[stage],
                          dram_bytes=ev.get("hbm_bits", 0.0) / 8, events=ev))
    busy = {k: v * seconds for k, v in report.busy_s.items()}
    return Phase(name, tokens, seconds, rows, busy)


def simulate(p, request, system_name: str = "hnlpu", *, node: int = 5, progress=None,
             trace: bool = False) -> SystemRun:
    """Prefill and decode of ``request`` on the HNLPU system.

    Prefill: the batch's prompts stream through the pipeline (tokens in flight at half
    the prompt's context); TTFT is the pipeline latency plus the batch's prompt tokens at
    that throughput. Decode: ``batch`` sequences with one token each in flight at the
    mean context; a step of the whole batch takes ``batch`` / throughput."""
    from tokenfab.arch_models.hnlpu.system import (WEIGHTS_PER_CHIP, check_capacity,
                                                   chips_for, run_pipeline, system_for)
    from tokenfab.calibration import get
    say = progress or (lambda msg: None)
    system(p, system_name, node)                     # validates the preset and node
    cfg = request.model
    sys = system_for(cfg, chips_for(cfg, p.weight_format), **system_fields(p))
    if request.allow_spill:
        raise UsageError("--allow-spill is not modelled for HNLPU: nothing sits behind a "
                         "chip's HBM")
    check_capacity(cfg, sys, request.batch, request.context)
    events = [] if trace else None
    say(f"hnlpu: prefill of {request.batch} x {request.prompt} tokens")
    inflight = min(request.batch * request.prompt, sys.max_inflight_per_layer * cfg.layers)
    pre_ctx = max(1, request.prompt // 2)
    pre = run_pipeline(cfg, sys, inflight, pre_ctx, trace=events, phase="prefill")
    prompt_tokens = request.batch * request.prompt
    ttft = pre.token_latency_s + (prompt_tokens - 1) / pre.tokens_per_s
    prefill = _phase("prefill", cfg, sys, pre, ttft, prompt_tokens, pre_ctx)
    decode = None
    context = request.prompt + request.gen // 2
    if request.gen:
        say(f"hnlpu: decode, batch {request.batch} at {context} cached tokens")
        dec = run_pipeline(cfg, sys, request.batch, context, trace=events, phase="decode")
        step = request.batch / dec.tokens_per_s
        decode = _phase("decode", cfg, sys, dec, step * request.gen,
                        request.batch * request.gen, context)
        extra = {"tokens_in_flight": dec.tokens, "token_latency_s": dec.token_latency_s,
                 "kv_in_buffer": dec.kv_resident, "kv_stall_s": dec.stall_s}
    else:
        extra = {}
    peak = 2 * cfg.linear_params(active_only=True) * sys.clock_hz / sys.input_bits
    return SystemRun(
        design="hnlpu", params=p.to_dict(), model=cfg.name, system=sys.name,
        system_description=sys.describe(), batch=request.batch, prompt=request.prompt,
        gen=request.gen, prefill=prefill, decode=decode, chips=sys.chips,
        peak_ops_per_s=peak,
        memory_bytes_per_s=sys.chips * sys.hbm_bytes_per_s,
        memory_capacity_bytes=sys.chips * (sys.buffer_bytes + sys.hbm_bytes),
        assumptions=[
            f"weights hardwired in metal as {p.weight_format} ({sys.chips} chips at "
            f"{WEIGHTS_PER_CHIP / 1e9:.2f} G weights each), LM head included; activations "
            "BF16 on the links; KV cache BF16 in the attention buffer, spilling to HBM",
            "sliding_window ignored: every layer attends to the full context, as in the "
            "paper's evaluation",
            "peak_ops_per_s: every active weight once per token at one token per "
            f"{sys.input_bits} bit-serial cycles per HN array",
        ] + request.assumptions(honours_window=False),
        calibrations=[get("hnlpu_link_efficiency"), get("hnlpu_weights_per_chip")],
        extra=extra, trace=events or [], spec=sys, config=cfg)
