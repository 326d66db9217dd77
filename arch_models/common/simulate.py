"""Run a request (model, batch, prompt, generated tokens) on a system: prefill, then the
decode steps."""
from __future__ import annotations

import dataclasses

import numpy as np

from arch_models.common.system import SystemSpec, run_ops
from arch_models.workloads import Request, decode_ops, prefill_ops

DECODE_SAMPLES = 16   # decode steps simulated; the others interpolated in KV length


@dataclasses.dataclass
class SimulationResult:
    design: str
    model: str
    system: str
    system_description: str
    params: dict
    batch: int
    prompt: int
    gen: int
    ttft_s: float
    decode_latency_s: float
    prefill_energy_j: float
    decode_energy_j: float
    busy_s: dict
    dram_bytes: float
    calibrated: list

    @property
    def decode_s(self) -> float:
        return self.decode_latency_s * self.gen

    @property
    def energy_j(self) -> float:
        return self.prefill_energy_j + self.decode_energy_j

    def to_dict(self) -> dict:
        total_s = self.ttft_s + self.decode_s
        prefill_tps = self.batch * self.prompt / self.ttft_s
        decode_tps = self.batch / self.decode_latency_s if self.gen else 0.0
        if self.gen:
            tokens_per_j = self.batch * self.gen / self.decode_energy_j
        else:
            tokens_per_j = self.batch * self.prompt / self.prefill_energy_j
        return {
            "design": self.design, "model": self.model, "system": self.system,
            "system_description": self.system_description, "params": self.params,
            "batch": self.batch, "prompt": self.prompt, "gen": self.gen,
            "ttft_s": self.ttft_s, "prefill_tokens_per_s": prefill_tps,
            "decode_tokens_per_s": decode_tps,
            "decode_latency_s": self.decode_latency_s if self.gen else 0.0,
            "energy_j": self.energy_j, "prefill_energy_j": self.prefill_energy_j,
            "decode_energy_j": self.decode_energy_j, "tokens_per_j": tokens_per_j,
            "power_w": self.energy_j / total_s, "busy_s": dict(self.busy_s),
            "dram_bytes": self.dram_bytes, "calibrated": [list(c) for c in self.calibrated],
        }

    def to_frame(self):
        import pandas as pd   # optional: only for notebook users who have pandas
        return pd.DataFrame([self.to_dict()])


def simulate(design: str, params, spec: SystemSpec, request: Request,
             progress=None) -> SimulationResult:
    say = progress or (lambda msg: None)
    cfg = request.model
    say(f"prefill: {request.batch} x {request.prompt} tokens")
    pre = run_ops(spec, prefill_ops(cfg, request.batch, request.prompt))
    busy = dict(pre.busy_s)
    dram = pre.dram_bytes
    dec_latency, dec_energy = 0.0, 0.0
    if request.gen:
        steps = np.arange(request.gen)
        sample = np.unique(np.linspace(0, request.gen - 1,
                                       min(DECODE_SAMPLES, request.gen)).round().astype(int))
        lat, en = [], []
        for i, s in enumerate(sample):
            say(f"decode step {s + 1}/{request.gen} ({i + 1}/{len(sample)} simulated)")
            rep = run_ops(spec, decode_ops(cfg, request.batch, request.prompt + int(s) + 1))
            lat.append(rep.seconds)
            en.append(rep.energy_j(spec))
            for k, v in rep.busy_s.items():
                busy[k] = busy.get(k, 0.0) + v * request.gen / len(sample)
            dram += rep.dram_bytes * request.gen / len(sample)
        dec_latency = float(np.interp(steps, sample, lat).mean())
        dec_energy = float(np.interp(steps, sample, en).sum())
    return SimulationResult(
        design=design, model=cfg.name, system=spec.name,
        system_description=spec.description, params=params.to_dict(),
        batch=request.batch, prompt=request.prompt, gen=request.gen, ttft_s=pre.seconds,
        decode_latency_s=dec_latency, prefill_energy_j=pre.energy_j(spec),
        decode_energy_j=dec_energy, busy_s=busy, dram_bytes=dram,
        calibrated=list(spec.calibrated))
