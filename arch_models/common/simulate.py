"""Run a request (model, batch, prompt, generated tokens) on a tile-array system: prefill,
then the decode steps."""
from __future__ import annotations

import numpy as np

from tokenfab.arch_models.common.system import SystemSpec, check_fit, run_ops
from tokenfab.arch_models.workloads import Request, decode_ops, prefill_ops
from tokenfab.results import SystemRun, interpolation_weights, merge_samples

DECODE_SAMPLES = 16   # decode steps simulated; the others interpolated in KV length


def decode_samples(gen: int) -> list[int]:
    return [int(s) for s in np.unique(np.linspace(0, gen - 1, min(DECODE_SAMPLES, gen))
                                      .round().astype(int))]


def simulate(design: str, params, spec: SystemSpec, request: Request, progress=None,
             trace: bool = False) -> SystemRun:
    say = progress or (lambda msg: None)
    cfg = request.model
    spill, fit = check_fit(request, spec)
    events = [] if trace else None
    say(f"prefill: {request.batch} x {request.prompt} tokens")
    pre = run_ops(spec, prefill_ops(cfg, request.batch, request.prompt), "prefill",
                  request.batch * request.prompt, spill, events)
    dec = None
    if request.gen:
        sample = decode_samples(request.gen)
        weights = interpolation_weights(request.gen, sample)
        steps = []
        for i, s in enumerate(sample):
            say(f"decode step {s + 1}/{request.gen} ({i + 1}/{len(sample)} simulated)")
            ev = events if (trace and i == 0) else None
            steps.append(run_ops(spec, decode_ops(cfg, request.batch, request.prompt + s + 1),
                                 "decode", request.batch, spill, ev))
        dec = merge_samples("decode", list(zip(weights, steps)), request.batch * request.gen)
    return SystemRun(
        design=design, params=params.to_dict(), model=cfg.name, system=spec.name,
        system_description=spec.description, batch=request.batch, prompt=request.prompt,
        gen=request.gen, prefill=pre, decode=dec, peak_ops_per_s=2 * spec.peak_macs_per_s,
        memory_bytes_per_s=spec.dram_bytes_per_s,
        memory_capacity_bytes=spec.memory.capacity_bytes,
        assumptions=list(spec.assumptions) + fit + request.assumptions(),
        calibrations=list(spec.calibrations), trace=events or [], spec=spec, config=cfg)
