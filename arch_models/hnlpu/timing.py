"""Timing of the hardwired GEMV unit and of the HNLPU system built from hardwired neurons."""
from __future__ import annotations

from tokenfab.arch_models.common.tile_timing import sequence_cycles
from tokenfab.errors import UsageError, allow_spill
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


# the stacks the cost model prices (tech.json: the same energy per bit, one I/O share)
HBM3 = ("hbm3", "hbm3e")
TEMPLATES = ("chip-grid",)


def system(p, name="hnlpu", node: int | None = None, overrides=()):
    """One chip of the grid from a system file (``hnlpu`` by default): clock, VEX lanes,
    the attention buffer (the level holding the KV cache), HBM and the chip links; the
    grid itself follows from the model (``system.system_for``)."""
    from tokenfab.arch_models.hnlpu.system import HnlpuSystem
    return HnlpuSystem(**system_fields(p, name, node, overrides))


def system_fields(p, name="hnlpu", node: int | None = None, overrides=()) -> dict:
    """The :class:`HnlpuSystem` fields the system file and ``Params`` set."""
    from tokenfab.arch_models.common.system import (TILE_ONLY_FIELDS, load_design_platform,
                                                    refuse_unread_fields,
                                                    refuse_unused_figures)
    platform = load_design_platform(name, overrides, TEMPLATES, SYSTEMS, "hnlpu", node)
    if int(round(platform.node)) != 5:
        raise UsageError(f"system {platform.name}: the HNLPU is modelled at 5nm only (its "
                         f"density and costs), not {platform.node:g}nm")
    buffers = platform.holders("kv_cache")
    if not buffers:
        raise UsageError(f"system {platform.name}: the HNLPU keeps its KV cache in an "
                         "attention buffer; the file needs a level that holds kv_cache")
    buf, net = buffers[-1], platform.network
    refuse_unused_figures(platform, "hnlpu", {buf.name: ("read_energy", "write_energy", "area")},
                          "the attention buffer is its one on-chip level")
    refuse_unread_fields(platform, "hnlpu", TILE_ONLY_FIELDS + ("memory.efficiency",
                                                                "engines.count"),
                         "its chips follow from the model's weights, its stages from the "
                         "RTL's, the HBM at memory.bandwidth")
    if platform.memory.technology not in HBM3:
        raise UsageError(f"system {platform.name}: memory.technology is "
                         f"{platform.memory.technology!r}; the HNLPU model prices HBM3-class "
                         f"stacks behind the paper's HBM-PHY power ({' or '.join(HBM3)})")
    return dict(
        name=platform.name, input_bits=p.input_bits, clock_hz=platform.clock,
        vector_cycles=unit_cycles(p, 2) - unit_cycles(p, 1),    # the RTL's, per vector
        kv_bytes={"bf16": 2.0, "fp8": 1.0}[p.kv_format],
        honour_windows=p.windows == "honour", collective=p.collective, mla=p.mla,
        link_bytes_per_s=net.bandwidth, link_latency_s=net.latency,
        link_efficiency=net.efficiency, max_links=net.links_per_chip,
        vex_flops_per_cycle=int(platform.vector_unit.flops_per_cycle),
        buffer_bytes=buf.total_bytes, buffer_bytes_per_s=buf.bytes_per_cycle * platform.clock,
        buffer_bank_bytes=buf.capacity, kv_read_ahead=buf.double_buffered,
        buffer_read_energy=buf.read_energy,
        buffer_write_energy=buf.write_energy, buffer_bank_area=buf.area,
        hbm_bytes=platform.memory.capacity, hbm_bytes_per_s=platform.memory.bandwidth)


def _phase(name, cfg, sys, report, seconds: float, tokens: int, context: int) -> Phase:
    """One row per stage kind (``count`` = layers), each the stage's share of the token
    latency applied to the phase time; events for the cost model per token."""
    from tokenfab.arch_models.hnlpu.system import kv_bytes_total, stage_weights
    weights = stage_weights(cfg, sys)
    weights["forward"] = 0.0
    total = sum(report.stage_s.values())
    kv_bits = 8 * kv_bytes_total(cfg, sys, 1, context)
    spilled = 1 - report.kv_resident
    engine = {"attention": "vex", "norm_router": "vex"}
    rows = []
    for stage, share in report.stage_s.items():
        ev = {"hn_weight_bits": tokens * weights[stage] * sys.input_bits,
              "link_bits": tokens * sys.group_chips * 8 * report.link_bytes[stage]}
        if stage == "attention":
            ev.update(kv_buffer_read_bits=tokens * kv_bits * (1 + spilled),
                      kv_buffer_write_bits=tokens * kv_bits * spilled,
                      hbm_bits=tokens * kv_bits * spilled)
        bound = report.stage_bound[stage]
        count = {"head": 1, "forward": sys.groups - 1}.get(stage, cfg.layers)
        rows.append(OpRow(phase=name, layer=-1, op=stage,
                          engine=engine.get(stage, "links" if stage == "forward" else "hn"),
                          bound=bound, time_s=seconds * share / total, count=count,
                          macs=tokens * weights[stage],
                          dram_bytes=ev.get("hbm_bits", 0.0) / 8, events=ev))
    busy = {k: v * seconds for k, v in report.busy_s.items()}
    return Phase(name, tokens, seconds, rows, busy)


def simulate(p, request, system_name="hnlpu", *, node: int | None = None, progress=None,
             trace: bool = False, overrides=()) -> SystemRun:
    """Prefill and decode of ``request`` on the HNLPU system.

    Prefill: the batch's prompts stream through the pipeline (tokens in flight at half
    the prompt's context); TTFT is the pipeline latency plus the batch's prompt tokens at
    that throughput. Decode: ``batch`` sequences with one token each in flight at the
    mean context; a step of the whole batch takes ``batch`` / throughput."""
    from tokenfab.arch_models.hnlpu.system import (LINK_EFFICIENCY, WEIGHTS_PER_CHIP,
                                                   check_capacity, plan, run_pipeline)
    from tokenfab.calibration import get
    say = progress or (lambda msg: None)
    fields = system_fields(p, system_name, node, overrides)
    cfg = request.model
    sys = plan(cfg, p.weight_format, **fields)
    if request.allow_spill:
        raise UsageError(f"{allow_spill()} is not modelled for HNLPU: nothing sits behind a "
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
    peak = 2 * cfg.linear_params(active_only=True) * sys.clock_hz / sys.vector_cycles
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
            f"BF16 on the links; KV cache {p.kv_format.upper()} in the attention buffer, "
            "spilling to HBM",
            ("sliding-window layers hold and read their window only" if sys.honour_windows
             else "sliding windows ignored (windows=ignore): every layer attends to the "
             "full context"),
            f"reductions over a row or column as {p.collective}"
            + (" then all-gather" if p.collective == "reduce-scatter" else " (direct)"),
            f"HN stage: {sys.vector_cycles} cycles per vector (the unit's RTL) holding the "
            f"array, the result {sys.hn_latency_cycles} cycles later (output register + "
            "adder-tree pipeline, zjk0/HNLPU simulator)",
            "peak_ops_per_s: every active weight once per token at one token per "
            f"{sys.vector_cycles} cycles per HN array",
        ] + request.assumptions(honours_window=sys.honour_windows),
        calibrations=([get("hnlpu_link_efficiency")]
                      if sys.link_efficiency == LINK_EFFICIENCY else [])
        + [get("hnlpu_weights_per_chip")],
        extra=extra, trace=events or [], spec=sys, config=cfg)
