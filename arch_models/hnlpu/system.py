"""SimPy model of an HNLPU system: hardwired-neuron chips in a row/column network.

The paper's system (Liu et al., ASPLOS '26, section 5.1 of shared/reference/papers.md):
16 chips as a 4 x 4 grid, each chip linked directly to its 3 row and 3 column peers over
CXL 3.0 (128 GB/s per x16 link, under 100 ns); every weight of every layer is hardwired,
so each layer's six pipeline stages exist in silicon and up to 6 x layers tokens are in
flight:

  HN-QKV | attention (VEX) | HN-Xo | RMSNorm + router + top-k | HN-up/gate + SwiGLU | HN-down

Mapping (paper Fig. 10, generalized to any GQA model on an R x C grid): chip (r, c) holds
the input slice r of Wq/Wk/Wv for head group c; a column all-reduce completes q, k, v; the
KV cache of head group c is split over the rows by position; a column all-reduce merges
the partial attention outputs; Wo is split the same way (row all-reduce, then a column
all-gather); experts are spread over the chips (each chip sees the whole hidden vector),
and an all-chip all-reduce (row, then column) follows the down projection. The
unembedding is split over the chips and followed by a small all-gather.

Multi-head latent attention (DeepSeek-V3, Kimi-K2; the mapping is ours, the paper maps
gpt-oss only): the columns split the query heads (the latent cache is shared by every
head, so each column holds its rows' positions of it); the compressing projections
(``q_a``, ``kv_a``) are split by input rows and replicated over the columns, a column
all-reduce completes them; the up-projections (``q_b``, ``kv_b``) are split by heads over
the columns and replicated over the rows. ``mla`` ``absorbed`` (default) caches the latent
(``kv_lora_rank + qk_rope_head_dim`` per position) and runs attention on it: ``W_UK``
turns each head's query into the latent space, ``W_UV`` maps each head's latent output
back before the column reduction. ``explicit`` up-projects the new token's K and V once
and caches them per head. Replicated weights are hardwired, so they count in the chips.

A model whose row/column grid would need more CXL ports than a chip has runs as a ring of
layer groups: each group a row/column grid small enough to leave two ports free, its
chips holding consecutive layers (packed greedily, whole layers, the LM head with the
last); chip (r, c) of a group forwards the hidden vector to chip (r, c) of the next. The
paper's 4 x 4 gpt-oss system is one group.

What the model charges, per token and layer (representative chip, all chips symmetric):

- HN stages: each stage of each layer is its own resource (the silicon is not shared),
  held for ``vector_cycles`` per token, the verified unit's cycles per vector
  (``input_bits`` bit-serial planes; ``timing.unit_cycles``), after which the result comes
  ``hn_latency_cycles`` later without holding it: the unit's output register (1, as the
  RTL hands over its output a cycle after the last plane) and the pipeline registers a
  full-size neuron's adder tree and constant multiply add (9, so that a stage takes the
  zjk0/HNLPU simulator's ``input_bits + 10`` cycles end to end);
- VEX: attention reads the chip's cached elements (``kv_heads / C`` heads x ``context
  / R`` positions, K and V; a sliding-window layer's window only with ``windows``
  ``honour``) and does the column's query heads' multiply-accumulates against them, at
  the paper's rate of 32 cached KV heads per cycle read as what it is on the paper's
  model (head dim 64, 8 query heads per KV head): 2,048 cached elements and 16,384 MACs
  per cycle, whichever takes longer (for gpt-oss both bind equally); element-wise work
  (norm, SwiGLU) at ``vex_flops_per_cycle``; one VEX per chip, shared by its layers;
- KV reads from the 320 MB attention buffer at 80 TB/s; what does not fit spills to HBM,
  read ahead under double buffering (a stall only when the read outlasts the compute;
  without it, as the system file's ``double_buffered: false`` says, every read stalls);
- links: a collective over the row (column) holds that chip's row (column) links for its
  bytes / (link bandwidth x ``link_efficiency``), plus the link latency that is not
  occupancy. Activations travel as ``act_bytes`` per element. A reduction is one direct
  all-reduce (each chip sends its whole partial vector to each peer: one latency) or,
  with ``collective`` ``reduce-scatter``, a reduce-scatter then an all-gather (a
  ``1/(peers+1)`` slice to each peer each way: two latencies).
"""
from __future__ import annotations

import collections
import dataclasses
import math

import simpy

from tokenfab.arch_models.workloads import Linear, decode_ops, fmt_bytes
from tokenfab.calibration import calibrated
from tokenfab.errors import UsageError
from tokenfab.results import TraceEvent

STAGES = ("hn_qkv", "attention", "hn_xo", "norm_router", "hn_up_gate", "hn_down")

# The fraction of the CXL link bandwidth that carries payload. Everything else (other
# contexts and batches, the attention/communication crossover, the energy) is predicted.
# 0.836 is in line with CXL 3.0's 256-byte flits plus headers and message framing, but it
# is a fit, not a measurement.
LINK_EFFICIENCY = calibrated(
    "hnlpu_link_efficiency", 0.836,
    fitted_to="gpt-oss-120b, 2K context, batch 216: 249,960 tokens/s (HNLPU, ASPLOS '26, "
              "Table 2)",
    drives="every HNLPU link transfer time, hence decode and prefill throughput")

# Weights one chip's hardwired-neuron array holds: gpt-oss-120b's linear weights
# (116,209,704,960, every expert and the LM head) over the paper's 16 chips. Every other
# model's chip count is a prediction from it (tests check the value against the config).
WEIGHTS_PER_CHIP = calibrated(
    "hnlpu_weights_per_chip", 116_209_704_960 / 16,
    fitted_to="16 chips for gpt-oss-120b (HNLPU, ASPLOS '26, section 5.1; 573.16 mm2 HN "
              "array per chip, Table 1)",
    drives="chip count of every model; HN-array area per weight (cost)")

# The paper's chip: 3 row + 3 column x16 CXL 3.0 ports (a 4 x 4 grid, section 5.1). A
# grid that needs more ports per chip is a different chip and is refused.
MAX_LINKS_PER_CHIP = 6
HBM_BYTES_PER_CHIP = 8 * 24e9     # paper: 8 HBM stacks of 24 GB per chip (hnlpu.json)
# The paper states the VEX rate as "32 cached KV heads per cycle" for gpt-oss-120b: KV
# heads of 64 elements, each shared by 8 query heads [I, from section 5.1's shapes].
VEX_REF_HEAD_DIM, VEX_REF_QUERIES_PER_KV = 64, 8
# Weights hardwired once per column (``cols``) or per row (``rows``) under the MLA mapping.
REPLICATED = {"q_a": "cols", "kv_a": "cols", "q_b": "rows", "kv_b": "rows"}
MLA_MODES = ("absorbed", "explicit")
TRACE_SEQUENCES = 8               # sequences whose middle token a trace records
BOUND_PARTS = ("compute", "vector", "memory", "interconnect")


@dataclasses.dataclass(frozen=True)
class HnlpuSystem:
    name: str = "hnlpu"
    rows: int = 4
    cols: int = 4
    clock_hz: float = 1e9                     # paper: 1.0 GHz sign-off
    link_bytes_per_s: float = 128e9           # paper: 128 GB/s per x16 CXL 3.0 link
    link_latency_s: float = 100e-9            # paper: "under 100 ns" (its upper bound)
    link_efficiency: float = LINK_EFFICIENCY  # calibrated, see above
    act_bytes: float = 2.0                    # BF16 activations on the links (assumption)
    kv_bytes: float = 2.0                     # BF16 KV cache (assumption, as zjk0/HNLPU sim)
    input_bits: int = 8                       # bit-serial activation width (assumption)
    vector_cycles: int = 8                    # the unit's cycles per vector (its RTL's)
    hn_latency_cycles: int = 10               # output register + 9 pipeline (zjk0/HNLPU sim)
    honour_windows: bool = False              # sliding-window layers hold their window only
    collective: str = "all-reduce"            # or "reduce-scatter" (then an all-gather)
    vex_kv_per_cycle: int = 32                # paper: 32 cached KV heads per cycle
    vex_flops_per_cycle: int = 2048           # element-wise lanes (assumption)
    buffer_bytes: float = 320e6               # paper: 320 MB attention buffer per chip
    buffer_bytes_per_s: float = 80e12         # paper: 80 TB/s
    buffer_bank_bytes: float = 16e3           # paper: 20,000 banks of 16 KB
    kv_read_ahead: bool = True                # KV reads overlap the VEX (double-buffered)
    # the system file's own figures for the buffer (J per byte read / written, m2 per
    # bank); None: the cost library's SRAM model
    buffer_read_energy: float | None = None
    buffer_write_energy: float | None = None
    buffer_bank_area: float | None = None
    hbm_bytes_per_s: float = 6.4e12           # 8 HBM stacks per module (zjk0/HNLPU sim, W)
    hbm_bytes: float = HBM_BYTES_PER_CHIP
    max_inflight_per_layer: int = 6           # paper: 6-stage pipeline per layer
    max_links: int = MAX_LINKS_PER_CHIP       # CXL x16 ports per chip
    mla: str = "absorbed"                     # or "explicit" (see the module doc)
    groups: int = 1                           # layer groups in a ring (see the module doc)
    layer_group: tuple = ()                   # each layer's group (empty: all in group 0)

    @property
    def group_chips(self) -> int:
        return self.rows * self.cols

    @property
    def chips(self) -> int:
        return self.groups * self.group_chips

    @property
    def links_per_chip(self) -> int:
        """Row and column ports, and one port in and one out when groups form a ring."""
        return (self.rows - 1) + (self.cols - 1) + (2 if self.groups > 1 else 0)

    def group(self, layer: int) -> int:
        """The group holding ``layer`` (the LM head, ``layer == layers``, is the last's)."""
        if not self.layer_group:
            return 0
        return self.layer_group[min(layer, len(self.layer_group) - 1)]

    @property
    def vex_elems_per_cycle(self) -> int:
        return self.vex_kv_per_cycle * VEX_REF_HEAD_DIM

    @property
    def vex_macs_per_cycle(self) -> int:
        return self.vex_kv_per_cycle * VEX_REF_HEAD_DIM * VEX_REF_QUERIES_PER_KV

    def describe(self) -> str:
        grid = (f"{self.rows}x{self.cols} row/column CXL" if self.groups == 1 else
                f"a ring of {self.groups} layer groups, each {self.rows}x{self.cols} "
                "row/column CXL")
        return (f"HNLPU: {self.chips} chips ({grid}, "
                f"{self.link_bytes_per_s / 1e9:.0f} GB/s links x {self.link_efficiency}, "
                f"{self.link_latency_s * 1e9:g} ns link latency), "
                f"{self.clock_hz / 1e9:g} GHz, {self.input_bits}-bit bit-serial inputs, "
                f"{self.buffer_bytes / 1e6:.0f} MB attention buffer and "
                f"{self.hbm_bytes_per_s / 1e12:g} TB/s of HBM per chip")


def chips_for(cfg, weight_format: str = "fp4") -> int:
    """Chips whose HN arrays hold every linear weight of ``cfg`` (none replicated)."""
    if weight_format not in ("fp4", "int4"):
        raise UsageError(f"the HNLPU density is calibrated for 4-bit weights (fp4, int4), "
                         f"not {weight_format!r}")
    return max(1, math.ceil(cfg.linear_params() / WEIGHTS_PER_CHIP - 1e-9))


def split_heads(cfg) -> int:
    """Heads the grid's columns split: the KV heads, or under multi-head latent attention
    (whose one latent cache every head reads) the query heads."""
    return cfg.heads if cfg.mla else cfg.kv_heads


def layer_weights(cfg, rows: int = 1, cols: int = 1, active_only: bool = False) -> dict:
    """Hardwired weights per layer (key ``cfg.layers``: the LM head) on an ``rows x cols``
    grid, the MLA mapping's replicas included; ``active_only``: those one token uses."""
    batch = 1 if active_only or not cfg.experts else 1000 * cfg.experts
    copies = {"rows": rows, "cols": cols}
    out = collections.Counter()
    for op in decode_ops(cfg, batch=batch, kv_len=1):
        if isinstance(op, Linear):
            out[op.layer] += op.weight_elems * copies.get(REPLICATED.get(op.name), 1)
    return out


def system_for(cfg, chips: int, **fields) -> HnlpuSystem:
    """The grid for ``chips`` chips: columns split the heads (a divisor of them, at least
    the square root of the chip count), rows make up the rest. ``fields`` set the other
    :class:`HnlpuSystem` fields (the system file's: ``timing.system_fields``)."""
    root = math.isqrt(max(chips - 1, 0)) + 1 if chips > 1 else 1
    heads = split_heads(cfg)
    cols = next((c for c in range(root, heads + 1) if heads % c == 0), heads)
    return HnlpuSystem(rows=math.ceil(chips / cols), cols=cols, **fields)


def plan(cfg, weight_format: str = "fp4", **fields) -> HnlpuSystem:
    """The system that hardwires ``cfg``: one row/column grid when its links fit the
    chip's ports, else a ring of layer groups (see the module doc)."""
    chips = chips_for(cfg, weight_format)
    max_links = fields.get("max_links", MAX_LINKS_PER_CHIP)
    while True:
        sys = system_for(cfg, chips, **fields)
        if sys.links_per_chip > max_links:
            break
        if sum(layer_weights(cfg, sys.rows, sys.cols).values()) <= sys.chips * WEIGHTS_PER_CHIP:
            return sys
        chips += 1                     # the MLA replicas need another chip
    heads = split_heads(cfg)
    grids = [(r * c, c, r) for c in range(1, heads + 1) if heads % c == 0
             for r in range(1, max_links) if (r - 1) + (c - 1) + 2 <= max_links]
    if not grids:
        raise UsageError(
            f"{cfg.name} needs {chips} chips; one row/column grid of them needs "
            f"{sys.links_per_chip} CXL x16 links per chip and the chip has {max_links}, "
            "too few for a ring of layer groups (2 ports plus the group's row and column)")
    _, cols, rows = max(grids)
    weights = layer_weights(cfg, rows, cols)
    capacity = rows * cols * WEIGHTS_PER_CHIP
    groups, used = [], 0.0
    for layer in range(cfg.layers):
        w = weights[layer] + (weights[cfg.layers] if layer == cfg.layers - 1 else 0)
        if w > capacity:
            raise UsageError(
                f"{cfg.name}: layer {layer} has {w / 1e9:.1f} G hardwired weights; a layer "
                f"group of {rows}x{cols} chips (the most {max_links} CXL ports per chip "
                f"allow with the ring's 2) holds {capacity / 1e9:.1f} G")
        if groups and used + w <= capacity:
            used += w
            groups.append(groups[-1])
        else:
            used = w
            groups.append(groups[-1] + 1 if groups else 0)
    return HnlpuSystem(rows=rows, cols=cols, groups=groups[-1] + 1,
                       layer_group=tuple(groups), **fields)


def group_weights_per_chip(cfg, sys: HnlpuSystem) -> float:
    """Hardwired weights of the fullest group's chips (every chip's HN array this size)."""
    weights = layer_weights(cfg, sys.rows, sys.cols)
    per_group = collections.Counter()
    for layer, w in weights.items():
        per_group[sys.group(layer)] += w
    return max(per_group.values()) / sys.group_chips


def check_mapping(cfg, sys: HnlpuSystem) -> None:
    heads = split_heads(cfg)
    if heads % sys.cols:
        kind = "query heads (multi-head latent attention)" if cfg.mla else "KV heads"
        raise UsageError(f"model {cfg.name!r} has {heads} {kind}; the HNLPU mapping "
                         f"needs a multiple of the grid's {sys.cols} columns")
    if sys.mla not in MLA_MODES:
        raise UsageError(f"mla must be one of {', '.join(MLA_MODES)}, not {sys.mla!r}")
    check_links(cfg, sys)


def check_links(cfg, sys: HnlpuSystem) -> None:
    if sys.links_per_chip > sys.max_links:
        raise UsageError(
            f"{cfg.name} needs {sys.chips} chips on a {sys.rows}x{sys.cols} grid, "
            f"{sys.links_per_chip} CXL x16 links per chip; the HNLPU chip has "
            f"{sys.max_links}" + (" (3 row + 3 column ports)"
                                  if sys.max_links == MAX_LINKS_PER_CHIP else ""))


def positions(cfg, sys: HnlpuSystem, layer: int, context: int) -> int:
    """Cached positions one chip holds and reads for ``layer``: its rows' share of the
    context, or of the layer's sliding window when the system honours windows."""
    window = cfg.window(layer) if sys.honour_windows else 0
    return math.ceil((min(context, window) if window else context) / sys.rows)


def attention_work(cfg, sys: HnlpuSystem) -> tuple[float, float]:
    """Per cached position one chip holds: the elements it caches (and reads per token)
    and the multiply-accumulates its column's query heads do against them."""
    heads_col = cfg.heads / sys.cols
    if not cfg.mla:
        elems = cfg.kv_heads / sys.cols * 2 * cfg.head_dim
        return elems, heads_col * 2 * cfg.head_dim
    if sys.mla == "absorbed":          # one latent (+ its RoPE key) shared by every head
        latent = cfg.kv_lora_rank + cfg.qk_rope_dim
        return latent, heads_col * (latent + cfg.kv_lora_rank)
    per_head = cfg.qk_dim + cfg.v_dim  # explicit: each head's K and V
    return heads_col * per_head, heads_col * per_head


def group_kv_bytes_per_chip(cfg, sys: HnlpuSystem, sequences: int, context: int) -> dict:
    """KV cache one chip of each group holds: its share of each of the group's layers."""
    elems, _ = attention_work(cfg, sys)
    held = collections.Counter()
    for layer in range(cfg.layers):
        held[sys.group(layer)] += positions(cfg, sys, layer, context)
    return {g: n * elems * sys.kv_bytes * sequences for g, n in held.items()}


def kv_bytes_per_chip(cfg, sys: HnlpuSystem, sequences: int, context: int) -> float:
    """KV cache the fullest chip holds."""
    return max(group_kv_bytes_per_chip(cfg, sys, sequences, context).values())


def kv_bytes_total(cfg, sys: HnlpuSystem, sequences: int, context: int) -> float:
    """KV cache over every chip (the MLA latent once per column)."""
    return sys.group_chips * sum(group_kv_bytes_per_chip(cfg, sys, sequences,
                                                          context).values())


def check_capacity(cfg, sys: HnlpuSystem, sequences: int, context: int) -> None:
    need = kv_bytes_per_chip(cfg, sys, sequences, context)
    have = sys.buffer_bytes + sys.hbm_bytes
    if need > have:
        raise UsageError(
            f"{cfg.name}: the KV cache of {sequences} sequences x {context} tokens needs "
            f"{fmt_bytes(need)} per chip; an HNLPU chip has {fmt_bytes(sys.buffer_bytes)} "
            f"of attention buffer + {fmt_bytes(sys.hbm_bytes)} of HBM")


def stage_weights(cfg, sys: HnlpuSystem | None = None) -> dict:
    """Hardwired weights one token uses in each stage (all chips, the MLA mapping's
    replicas included; experts it is routed to only), for the HN switching energy."""
    sys = sys or HnlpuSystem(rows=1, cols=1)
    kind = {"q": "hn_qkv", "k": "hn_qkv", "v": "hn_qkv", "q_a": "hn_qkv", "kv_a": "hn_qkv",
            "q_b": "hn_qkv", "o": "hn_xo", "router": "norm_router", "lm_head": "head"}
    copies = {"rows": sys.rows, "cols": sys.cols}
    out = dict.fromkeys(STAGES + ("head",), 0.0)
    for op in decode_ops(cfg, batch=1, kv_len=1):
        if not isinstance(op, Linear):
            continue
        w = op.weight_elems * copies.get(REPLICATED.get(op.name), 1)
        if op.name == "kv_b" and sys.mla == "absorbed":
            # W_UK turns the queries into the latent space, W_UV maps the output back
            uk = cfg.qk_nope_dim / (cfg.qk_nope_dim + cfg.v_dim)
            out["hn_qkv"] += w * uk
            out["attention"] += w * (1 - uk)
            continue
        stage = kind.get(op.name) or ("hn_down" if op.name.endswith("down")
                                      else "hn_up_gate")
        out[stage] += w
    return out


@dataclasses.dataclass
class StageCost:
    cycles: float = 0.0          # HN compute (dedicated silicon): occupancy
    latency_cycles: float = 0.0  # after it, until the result (the resource is free)
    vex_s: float = 0.0           # VEX occupancy
    kv_stall_s: float = 0.0      # part of the read not hidden by the VEX
    col_bytes: float = 0.0       # bytes on each column link
    row_bytes: float = 0.0       # bytes on each row link
    col_hops: int = 0            # sequential collectives on the column links
    row_hops: int = 0
    fwd_bytes: float = 0.0       # bytes to the next layer group's peer
    fwd_hops: int = 0


def reduction(sys: HnlpuSystem, nbytes: float, peers: int) -> tuple[float, int]:
    """Bytes on each link and sequential latencies of reducing an ``nbytes`` partial
    vector over a row or column of ``peers + 1`` chips (see the module doc)."""
    if sys.collective == "reduce-scatter" and peers:
        return 2 * nbytes / (peers + 1), 2
    return nbytes, 1


def layer_costs(cfg, sys: HnlpuSystem, context: int, resident: float,
                layer: int = 0) -> dict[str, StageCost]:
    """Per-token costs of the six stages of ``layer`` at ``context`` cached positions;
    ``resident`` is the fraction of the KV cache held in the attention buffer."""
    R, C, a = sys.rows, sys.cols, sys.act_bytes
    hn = dict(cycles=sys.vector_cycles, latency_cycles=sys.hn_latency_cycles)
    pass_cycles = sys.vector_cycles + sys.hn_latency_cycles   # one more chained HN array
    heads_col = cfg.heads / C
    held = positions(cfg, sys, layer, context)
    elems, macs = attention_work(cfg, sys)
    vex_cycles = max(math.ceil(elems * held / sys.vex_elems_per_cycle),
                     math.ceil(macs * held / sys.vex_macs_per_cycle))
    vex_cycles += 5 * heads_col * held / sys.vex_flops_per_cycle             # softmax
    kv_read = elems * held * sys.kv_bytes
    read_s = (resident * kv_read / sys.buffer_bytes_per_s
              + (1 - resident) * kv_read / sys.hbm_bytes_per_s)
    vex_s = vex_cycles / sys.clock_hz
    if cfg.experts and layer >= cfg.dense_layers:
        ffn = (cfg.experts_per_token + cfg.shared_experts) * cfg.moe_intermediate
    else:
        ffn = cfg.intermediate
    ffn_chip = ffn / sys.group_chips
    col_peers, row_peers = R - 1, C - 1
    qkv, att = dict(hn), {}
    if cfg.mla:
        # compress (q_a, kv_a) -> column all-reduce -> up-project (q_b; W_UK when absorbed)
        latents = cfg.q_lora_rank + cfg.kv_lora_rank + cfg.qk_rope_dim
        qkv_col, qkv_hops = reduction(sys, latents * a, col_peers)
        qkv["latency_cycles"] += (2 if sys.mla == "absorbed" else 1) * pass_cycles
        qkv["vex_s"] = 4 * latents / sys.vex_flops_per_cycle / sys.clock_hz    # their norms
        if sys.mla == "absorbed":      # W_UV on each head's latent output
            att = dict(hn)
    else:
        q_col = cfg.heads * cfg.head_dim / C
        kv_col = 2 * cfg.kv_heads * cfg.head_dim / C
        qkv_col, qkv_hops = reduction(sys, (q_col + kv_col) * a, col_peers)
    att_col, att_hops = reduction(sys, (heads_col * cfg.v_dim + 2 * heads_col) * a,
                                  col_peers)
    xo_row, xo_hops = reduction(sys, cfg.hidden / R * a, row_peers)
    down_row, down_row_hops = reduction(sys, cfg.hidden * a, row_peers)
    down_col, down_col_hops = reduction(sys, cfg.hidden * a, col_peers)
    return {
        "hn_qkv": StageCost(**qkv, col_bytes=qkv_col, col_hops=qkv_hops),
        # double-buffered, the next KV block reads while the VEX works on this one
        "attention": StageCost(**att, vex_s=(max(vex_s, read_s) if sys.kv_read_ahead
                                             else vex_s + read_s),
                               kv_stall_s=(max(0.0, read_s - vex_s) if sys.kv_read_ahead
                                           else read_s),
                               col_bytes=att_col, col_hops=att_hops),
        # the Wo slices' row reduction, then a column all-gather of the row's share
        "hn_xo": StageCost(**hn, row_bytes=xo_row, col_bytes=cfg.hidden / R * a,
                           row_hops=xo_hops, col_hops=1),
        "norm_router": StageCost(**hn, vex_s=4 * cfg.hidden / sys.vex_flops_per_cycle
                                 / sys.clock_hz),
        "hn_up_gate": StageCost(**hn, vex_s=4 * ffn_chip / sys.vex_flops_per_cycle
                                / sys.clock_hz),
        "hn_down": StageCost(**hn, row_bytes=down_row, col_bytes=down_col,
                             row_hops=down_row_hops, col_hops=down_col_hops),
    }


def head_cost(cfg, sys: HnlpuSystem) -> StageCost:
    """Final norm, unembedding slice, local top candidates and their all-gather."""
    return StageCost(cycles=sys.vector_cycles
                     + cfg.vocab / sys.group_chips / sys.vex_flops_per_cycle,
                     latency_cycles=sys.hn_latency_cycles,
                     row_bytes=64 * sys.act_bytes, col_bytes=64 * sys.act_bytes,
                     row_hops=1, col_hops=1)


def forward_cost(cfg, sys: HnlpuSystem) -> StageCost:
    """The hidden vector from each chip to its peer in the next layer group."""
    return StageCost(fwd_bytes=cfg.hidden * sys.act_bytes, fwd_hops=1)


def group_resident(cfg, sys: HnlpuSystem, sequences: int, context: int) -> dict:
    """Fraction of each group's KV cache its chips' attention buffers hold."""
    return {g: min(1.0, sys.buffer_bytes / n) if n else 1.0
            for g, n in group_kv_bytes_per_chip(cfg, sys, sequences, context).items()}


def kv_resident_fraction(cfg, sys: HnlpuSystem, sequences: int, context: int) -> float:
    """Fraction of the whole KV cache in attention buffers."""
    need = group_kv_bytes_per_chip(cfg, sys, sequences, context)
    total = sum(need.values())
    return sum(min(sys.buffer_bytes, n) for n in need.values()) / total if total else 1.0


def bottleneck_s(sys: HnlpuSystem, costs: list, head: StageCost, fwd: StageCost) -> float:
    """Per token, the busiest resource's time: a layer group's VEX, row, column or ring
    links, or an HN array (the bottleneck law bounds throughput by its inverse)."""
    bw = sys.link_bytes_per_s * sys.link_efficiency
    demand = collections.Counter()
    for layer, c in enumerate(costs + [{"head": head}]):
        g = sys.group(layer)
        for st in c.values():
            demand[g, "vex"] += st.vex_s
            demand[g, "row"] += st.row_bytes / bw if sys.cols > 1 and st.row_hops else 0
            demand[g, "col"] += st.col_bytes / bw if sys.rows > 1 and st.col_hops else 0
            demand["hn"] = max(demand["hn"], st.cycles / sys.clock_hz)
        if layer + 1 < len(costs) and sys.group(layer + 1) != g:
            demand[g, "fwd"] += fwd.fwd_bytes / bw
    return max(demand.values())


@dataclasses.dataclass
class PipelineReport:
    tokens: int                  # in flight
    token_latency_s: float
    busy_s: dict
    kv_resident: float
    stall_s: float
    stage_s: dict                # mean time per token spent in each stage (all layers)
    stage_bound: dict            # what each stage's time went to most (waiting included)
    seconds: float = 0.0         # simulated time
    link_bytes: dict = dataclasses.field(default_factory=dict)   # per token, one chip, all
                                                                  # its links, per stage

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.token_latency_s


class _Server:
    """A unit that serves one holder at a time, first come first served: what a SimPy
    ``Resource`` of capacity 1 does when each holder says on arrival how long it will
    hold. A holder arriving at ``now`` starts when the holders before it are done, so its
    start is known at once and it waits with one timeout instead of a request, a grant
    and a release (a quarter of the events)."""
    __slots__ = ("free_at",)

    def __init__(self):
        self.free_at = 0.0

    def reserve(self, now: float, seconds: float) -> float:
        start = max(now, self.free_at)
        self.free_at = start + seconds
        return start


def run_pipeline(cfg, sys: HnlpuSystem, sequences: int, context: int,
                 tokens_per_sequence: int = 3, trace: list | None = None,
                 phase: str = "decode") -> PipelineReport:
    """Decode: ``sequences`` sequences (each with one token in flight) at ``context``;
    throughput = tokens in flight / token latency of the middle of ``tokens_per_sequence``
    rounds (Little's law)."""
    check_mapping(cfg, sys)
    inflight = min(sequences, sys.max_inflight_per_layer * cfg.layers)
    resident = group_resident(cfg, sys, inflight, context)
    costs = [layer_costs(cfg, sys, context, resident[sys.group(layer)], layer)
             for layer in range(cfg.layers)]
    head, fwd = head_cost(cfg, sys), forward_cost(cfg, sys)
    env = simpy.Environment()
    # one representative chip per layer group: its VEX and its row, column and ring ports
    vex = [_Server() for _ in range(sys.groups)]
    links = [{k: _Server() for k in ("row", "col", "fwd")} for _ in range(sys.groups)]
    hn = {(layer, s): _Server() for layer in range(cfg.layers) for s in STAGES}
    hn["head"] = _Server()
    busy = dict.fromkeys(["hn", "vex", "row_links", "col_links"]
                         + (["fwd_links"] if sys.groups > 1 else []), 0.0)
    bw = sys.link_bytes_per_s * sys.link_efficiency
    # A row collective spans the columns; a column collective spans the rows.
    peers = {"row": sys.cols - 1, "col": sys.rows - 1, "fwd": 1}
    latencies: list[list[float]] = [[] for _ in range(tokens_per_sequence)]
    stall = [0.0]
    middle = tokens_per_sequence // 2
    stage_s = dict.fromkeys(STAGES + ("head",) + (("forward",) if sys.groups > 1 else ()),
                            0.0)
    stage_parts = {s: dict.fromkeys(BOUND_PARTS, 0.0) for s in stage_s}

    def hold(server, seconds, track, name, record, then=0.0):
        """Hold ``server`` for ``seconds`` (waiting first for earlier holders), then
        travel ``then`` seconds (a pipeline's or a link's latency) in the same timeout."""
        start = server.reserve(env.now, seconds)
        if record and trace is not None:
            trace.append(TraceEvent(phase, track, name, start, seconds))
        yield env.timeout(start + seconds - env.now + then)

    def stage(key, c: StageCost, record, parts, group):
        """One stage of one token; ``parts`` collects the time spent (waiting included)
        on the HN array, the VEX and the links of layer group ``group``."""
        name = key if isinstance(key, str) else f"{key[1]} L{key[0]}"
        if c.cycles:
            t0 = env.now
            yield from hold(hn[key], c.cycles / sys.clock_hz, "hn", name, record,
                            c.latency_cycles / sys.clock_hz)
            busy["hn"] += c.cycles / sys.clock_hz
            parts["compute"] += env.now - t0
        if c.vex_s:
            t0 = env.now
            yield from hold(vex[group], c.vex_s, "vex", name, record)
            busy["vex"] += c.vex_s
            stall[0] += c.kv_stall_s
            # the part of the VEX time spent waiting on KV reads from HBM
            parts["memory"] += (env.now - t0) * c.kv_stall_s / c.vex_s
            parts["vector"] += (env.now - t0) * (1 - c.kv_stall_s / c.vex_s)
        for kind, nbytes, hops in (("row", c.row_bytes, c.row_hops),
                                   ("col", c.col_bytes, c.col_hops),
                                   ("fwd", c.fwd_bytes, c.fwd_hops)):
            if hops and peers[kind]:
                t0 = env.now
                yield from hold(links[group][kind], nbytes / bw, f"{kind}_links", name,
                                record, hops * sys.link_latency_s)
                busy[f"{kind}_links"] += nbytes / bw
                parts["interconnect"] += env.now - t0

    def sequence(i):
        scratch = dict.fromkeys(BOUND_PARTS, 0.0)
        yield env.timeout(i * spacing)
        for t in range(tokens_per_sequence):
            start = env.now
            record = t == middle
            traced = record and i < TRACE_SEQUENCES
            for layer in range(cfg.layers):
                g = sys.group(layer)
                for s in STAGES:
                    t0 = env.now
                    yield from stage((layer, s), costs[layer][s], traced,
                                     stage_parts[s] if record else scratch, g)
                    if record:
                        stage_s[s] += env.now - t0
                if layer + 1 < cfg.layers and sys.group(layer + 1) != g:
                    t0 = env.now
                    yield from stage("forward", fwd, traced,
                                     stage_parts["forward"] if record else scratch, g)
                    if record:
                        stage_s["forward"] += env.now - t0
            t0 = env.now
            yield from stage("head", head, traced,
                             stage_parts["head"] if record else scratch, sys.groups - 1)
            if record:
                stage_s["head"] += env.now - t0
            latencies[t].append(env.now - start)
    

    # Sequences enter one bottleneck service time apart, as a scheduler admitting them
    # into a running pipeline would, so that tokens spread over the layer groups instead
    # of travelling as one convoy.
    bottleneck = bottleneck_s(sys, costs, head, fwd)
    spacing = bottleneck if sys.groups > 1 else 0.0
    for i in range(inflight):
        env.process(sequence(i))
    env.run()
    # Little's law on the middle round, which runs with the pipeline full on both sides.
    # With layer groups, a few rounds do not reach the steady state (tokens bunch and
    # spread between groups); the bottleneck law (throughput at most one token per
    # bottleneck time) bounds what they overstate.
    steady = latencies[tokens_per_sequence // 2]
    latency = max(sum(steady) / len(steady), inflight * bottleneck)

    # bytes one chip of the layer's group sends per token in each stage (every layer),
    # over all its links
    link_bytes = {s: sum(c[s].row_bytes * peers["row"] * bool(c[s].row_hops)
                         + c[s].col_bytes * peers["col"] * bool(c[s].col_hops) for c in costs)
                  for s in STAGES}
    link_bytes["head"] = (head.row_bytes * peers["row"] + head.col_bytes * peers["col"])
    if sys.groups > 1:
        link_bytes["forward"] = (sys.groups - 1) * fwd.fwd_bytes
    # busy fractions of one chip, the mean over the groups
    return PipelineReport(tokens=inflight, token_latency_s=latency, link_bytes=link_bytes,
                          busy_s={k: v / env.now / sys.groups for k, v in busy.items()},
                          kv_resident=kv_resident_fraction(cfg, sys, inflight, context),
                          stall_s=stall[0],
                          stage_s={k: v / inflight for k, v in stage_s.items()},
                          stage_bound={s: max(p, key=p.get) for s, p in stage_parts.items()},
                          seconds=env.now)
