"""Timing of the hardwired GEMV unit and of the HNLPU system built from hardwired neurons."""
from __future__ import annotations

import dataclasses

from arch_models.common.tile_timing import sequence_cycles
from tokenfab.errors import UsageError


def unit_cycles(p, n_vectors: int) -> int:
    """Cycles for ``n_vectors`` input vectors back to back (``TileSequencer`` contract:
    ``input_bits`` cycles per vector for the neuron style, 1 for cell embedding)."""
    return sequence_cycles(n_vectors, p.cycles_per_tile)


SYSTEMS = ("hnlpu",)


def system(p, name: str = "hnlpu", cost=None, node: int = 5):
    from arch_models.common.system import check_system
    from arch_models.hnlpu.system import HnlpuSystem
    check_system(name, dict.fromkeys(SYSTEMS))
    if node != 5:
        raise UsageError(f"the HNLPU system is modelled at 5nm only, not {node}nm")
    return HnlpuSystem(input_bits=p.input_bits)


def simulate(p, request, system_name: str = "hnlpu", progress=None):
    """Prefill and decode of ``request`` on the HNLPU system; see ``HnlpuResult``."""
    from arch_models.hnlpu.system import run_pipeline, system_for
    from cost_models import hnlpu as cost
    say = progress or (lambda msg: None)
    system(p, system_name)                    # validates the preset name
    cfg = request.model
    sys = system_for(cfg, cost.chips_for(cfg, p.weight_format), p.input_bits)
    chips = sys.chips
    say(f"hnlpu: prefill of {request.prompt} tokens")
    inflight = min(request.prompt, sys.max_inflight_per_layer * cfg.layers)
    pre = run_pipeline(cfg, sys, inflight, max(1, request.prompt // 2))
    ttft = pre.token_latency_s + (request.prompt - 1) / pre.tokens_per_s
    context = request.prompt + request.gen // 2
    say(f"hnlpu: decode, batch {request.batch} at {context} cached tokens")
    dec = run_pipeline(cfg, sys, request.batch, context)
    power = cost.system_power(cfg, sys, dec, context, p.weight_format)
    return HnlpuResult(model=cfg.name, system=sys.name, description=sys.describe(),
                       params=p.to_dict(), batch=request.batch, prompt=request.prompt,
                       gen=request.gen, ttft_s=ttft, decode=dec, power=power,
                       chips=chips)


@dataclasses.dataclass
class HnlpuResult:
    model: str
    system: str
    description: str
    params: dict
    batch: int
    prompt: int
    gen: int
    ttft_s: float
    decode: object          # PipelineReport
    power: dict             # W by block and totals (cost_models.hnlpu.system_power)
    chips: int

    def to_dict(self) -> dict:
        tps = self.decode.tokens_per_s
        inflight = self.decode.tokens
        per_seq = tps / inflight
        power_w = self.power["system_w"]
        return {
            "design": "hnlpu", "model": self.model, "system": self.system,
            "system_description": self.description, "params": self.params,
            "batch": self.batch, "prompt": self.prompt, "gen": self.gen, "chips": self.chips,
            "ttft_s": self.ttft_s, "prefill_tokens_per_s": self.prompt / self.ttft_s,
            "decode_tokens_per_s": tps, "decode_latency_s": 1 / per_seq,
            "tokens_in_flight": inflight, "token_latency_s": self.decode.token_latency_s,
            "energy_j": power_w * (self.ttft_s + self.gen / per_seq),
            "tokens_per_j": tps / power_w, "power_w": power_w,
            "chip_power_w": self.power["chip_w"], "power_breakdown_w": self.power["blocks"],
            "busy": self.decode.busy_s, "kv_in_buffer": self.decode.kv_resident,
            "kv_stall_s": self.decode.stall_s,
            "calibrated": [["link_efficiency", "gpt-oss-120b, 2K context, batch 216: "
                            "249,960 tokens/s (HNLPU Table 2)"]],
        }
