"""Timing of TeLLMe's units and of the KV260 system built from them."""
from __future__ import annotations

import dataclasses

from arch_models.common.tile_timing import sequence_cycles


def unit_cycles(p, n_beats: int) -> int:
    """Cycles for ``n_beats`` beats back to back (``TileSequencer`` contract): one per
    TLMM beat, ``rmsmax_cycles`` per RMS-MAX vector."""
    return sequence_cycles(n_beats, p.cycles_per_tile)


SYSTEMS = ("kv260",)


def system(p, name: str = "kv260", cost=None, node: int | None = None):
    from arch_models.common.system import check_system
    from arch_models.tellme.system import Kv260System
    check_system(name, dict.fromkeys(SYSTEMS))
    return Kv260System(g=p.g, t=p.t, q=p.q, clock_hz=p.clock_mhz * 1e6,
                       ddr_bytes_per_s=p.ddr_gbps * 1e9)


def simulate(p, request, system_name: str = "kv260", progress=None):
    """Prefill (TTFT) and decode of ``request`` on the KV260 model; one sequence (the
    board serves a single user), ``batch`` must be 1."""
    from arch_models.tellme.system import check_model, run_phase
    from cost_models import tellme as cost
    from tokenfab.errors import UsageError
    say = progress or (lambda msg: None)
    sys = system(p, system_name)
    cfg = request.model
    check_model(cfg)
    if request.batch != 1:
        raise UsageError(f"the KV260 model runs one sequence (batch 1), not {request.batch}")
    say(f"tellme: prefill of {request.prompt} tokens")
    pre = run_phase(cfg, sys, request.prompt, 0, prefill=True)
    say("tellme: decode")
    dec = run_phase(cfg, sys, 1, request.prompt + request.gen // 2, prefill=False)
    return TellmeResult(model=cfg.name, system=sys.name, description=sys.describe(),
                        params=p.to_dict(), prompt=request.prompt, gen=request.gen,
                        prefill=pre, decode=dec,
                        prefill_power_w=cost.board_power(sys, pre),
                        decode_power_w=cost.board_power(sys, dec))


@dataclasses.dataclass
class TellmeResult:
    model: str
    system: str
    description: str
    params: dict
    prompt: int
    gen: int
    prefill: object          # PhaseTime
    decode: object
    prefill_power_w: float
    decode_power_w: float

    def to_dict(self) -> dict:
        ttft = self.prefill.seconds
        step = self.decode.seconds
        pre_tps, dec_tps = self.prompt / ttft, 1 / step
        energy = ttft * self.prefill_power_w + self.gen * step * self.decode_power_w
        return {
            "design": "tellme", "model": self.model, "system": self.system,
            "system_description": self.description, "params": self.params, "batch": 1,
            "prompt": self.prompt, "gen": self.gen, "ttft_s": ttft,
            "prefill_tokens_per_s": pre_tps, "decode_tokens_per_s": dec_tps,
            "decode_latency_s": step, "energy_j": energy,
            "tokens_per_j": dec_tps / self.decode_power_w if self.gen else
            pre_tps / self.prefill_power_w,
            "prefill_tokens_per_j": pre_tps / self.prefill_power_w,
            "power_w": self.decode_power_w, "prefill_power_w": self.prefill_power_w,
            "decode_busy_s": self.decode.busy, "prefill_busy_s": self.prefill.busy,
            "calibrated": [["q", "TTFT 0.45 s at 64 tokens (nearest integer Q)"],
                           ["lm_head_bytes_per_s", "decode 25 tokens/s"],
                           ["static_w", "4.8 W board power while decoding"]],
        }
