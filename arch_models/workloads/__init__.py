"""Model configs -> the operations of prefill and of each decode step.

A model is a shipped name (``configs/<name>.json``) or the path of a Hugging Face style
``config.json``. Dense, grouped-query, mixture-of-experts and multi-head latent attention
(DeepSeek-V3 style) models are understood. Operations carry shapes and element counts; the
bytes they move depend on the precisions of the system that runs them.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
from pathlib import Path

from tokenfab.errors import UsageError
from tokenfab.params import check_int

CONFIG_DIR = Path(__file__).parent / "configs"


def shipped_models() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    name: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    gated_ffn: bool = True
    experts: int = 0                 # routed experts (0: dense)
    experts_per_token: int = 0
    moe_intermediate: int = 0
    shared_experts: int = 0
    dense_layers: int = 0            # leading dense layers of a MoE model
    q_lora_rank: int = 0             # multi-head latent attention (0: standard attention)
    kv_lora_rank: int = 0
    qk_rope_dim: int = 0
    qk_nope_dim: int = 0
    v_head_dim: int = 0
    tie_embeddings: bool = False
    max_positions: int = 0           # max_position_embeddings (0: the config states none)
    sliding_window: int = 0          # tokens a sliding-window layer attends to (0: none)
    sliding_layers: tuple = ()       # per layer: does it use the sliding window?

    def window(self, layer: int) -> int:
        """Cached positions layer ``layer`` attends to at most (0: all)."""
        if self.sliding_window and layer < len(self.sliding_layers) \
                and self.sliding_layers[layer]:
            return self.sliding_window
        return 0

    def kv_cache_elems(self, batch: int, context: int) -> int:
        """KV-cache elements of ``batch`` sequences at ``context`` tokens (sliding-window
        layers keep only their window)."""
        per_seq = sum(min(context, self.window(layer) or context)
                      for layer in range(self.layers))
        return batch * per_seq * self.kv_elems_per_token

    @property
    def embedding_elems(self) -> int:
        """Input embedding table (the LM head is a linear layer; a tied one shares it)."""
        return 0 if self.tie_embeddings else self.vocab * self.hidden

    @property
    def mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def qk_dim(self) -> int:
        return self.qk_nope_dim + self.qk_rope_dim if self.mla else self.head_dim

    @property
    def v_dim(self) -> int:
        return self.v_head_dim if self.mla else self.head_dim

    @property
    def kv_elems_per_token(self) -> int:
        """KV-cache elements per token per layer."""
        if self.mla:
            return self.kv_lora_rank + self.qk_rope_dim
        return 2 * self.kv_heads * self.head_dim

    def linear_params(self, active_only: bool = False) -> int:
        """Weights of all linear layers including the LM head (no embeddings); with
        ``active_only`` those one token uses (the experts it is routed to)."""
        # A batch this large touches every expert.
        batch = 1 if active_only or not self.experts else 1000 * self.experts
        ops = decode_ops(self, batch=batch, kv_len=1)
        return sum(o.weight_elems for o in ops if isinstance(o, Linear))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_REQUIRED = {
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_hidden_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "num_attention_heads": ("num_attention_heads", "n_head"),
    "vocab_size": ("vocab_size",),
}


# Decoder-only transformer families whose configs this reader understands (dense, GQA,
# mixture-of-experts, multi-head latent attention); a config naming another model_type
# is refused with its name rather than modelled wrongly.
FAMILIES = ("llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe",
            "gemma", "gemma2", "gemma3_text", "phi", "phi3", "opt", "gpt2", "gpt_oss",
            "deepseek_v2", "deepseek_v3", "kimi_k2", "bitnet", "olmo", "olmo2",
            "granite", "internlm2", "starcoder2", "falcon")
NESTED = ("text_config", "llm_config", "language_config")


# Size limits of a model config (far above every published model; they keep a typo such
# as a million layers from running for hours).
MAX_LAYERS = 4096
MAX_DIM = 1 << 24


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


def parse_config(raw: dict, name: str = "model", origin: str = "config") -> ModelConfig:
    """Validate a Hugging Face style config dict; report every problem at once.

    ``null`` fields count as absent; a multimodal config's text model (``text_config``
    and similar) is read in place of the outer one."""
    if not isinstance(raw, dict):
        raise UsageError(f"{origin}: config must be a JSON object, not {type(raw).__name__}")
    for key in NESTED:
        if isinstance(raw.get(key), dict):
            raw = {**{k: v for k, v in raw.items() if k not in NESTED}, **raw[key]}
            break
    raw = {k: v for k, v in raw.items() if v is not None}
    family = raw.get("model_type")
    if family is not None and family not in FAMILIES:
        raise UsageError(f"{origin}: model_type {family!r} is not a supported architecture "
                         f"(supported: {', '.join(FAMILIES)})")
    errors = []

    def get(keys, default=None, required=False):
        for k in keys:
            if k in raw:
                v = raw[k]
                if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                    errors.append(f"{k} must be a non-negative integer, not {_short(v)}")
                    return default
                hi = MAX_LAYERS if k in _REQUIRED["num_hidden_layers"] else MAX_DIM
                if v > hi:
                    errors.append(f"{k} must be at most {hi:,} (tokenfab's limit; the "
                                  f"largest published models are far below it), not "
                                  f"{_short(v)}")
                    return default
                return v
        if required:
            errors.append(f"{keys[0]} is missing (or null)")
        return default

    hidden = get(_REQUIRED["hidden_size"], required=True)
    layers = get(_REQUIRED["num_hidden_layers"], required=True)
    heads = get(_REQUIRED["num_attention_heads"], required=True)
    vocab = get(_REQUIRED["vocab_size"], required=True)
    inter = get(("intermediate_size", "ffn_dim", "n_inner"))
    if inter is None and hidden:
        inter = 4 * hidden
    kv_heads = get(("num_key_value_heads",), default=heads)
    head_dim = get(("head_dim",))
    if head_dim is None and hidden and heads:
        head_dim = hidden // heads
    experts = get(("num_local_experts", "n_routed_experts", "num_experts"), default=0)
    topk = get(("num_experts_per_tok", "num_experts_per_token", "experts_per_token"),
               default=0)
    if experts and not topk:
        errors.append("num_experts_per_tok is missing for a mixture-of-experts model")
    if topk and experts and topk > experts:
        errors.append(f"num_experts_per_tok must be at most {experts}, not {topk}")
    for label, v in (("hidden_size", hidden), ("num_hidden_layers", layers),
                     ("num_attention_heads", heads), ("vocab_size", vocab),
                     ("num_key_value_heads", kv_heads), ("head_dim", head_dim),
                     ("intermediate_size", inter)):
        if v == 0:
            errors.append(f"{label} must be positive, not 0")
    if heads and kv_heads and heads % kv_heads:
        errors.append(f"num_key_value_heads must divide num_attention_heads ({heads}), "
                      f"not {kv_heads}")
    max_pos = get(("max_position_embeddings", "n_positions", "max_seq_len"), default=0)
    window = get(("sliding_window",), default=0) or 0
    if raw.get("use_sliding_window") is False:
        window = 0
    types = raw.get("layer_types")
    pattern = raw.get("sliding_window_pattern")
    if window and layers:
        if isinstance(types, list) and len(types) == layers:
            sliding = tuple(t == "sliding_attention" for t in types)
        elif types is not None:
            errors.append(f"layer_types must be a list of {layers} layer kinds")
            sliding = ()
        elif isinstance(pattern, int) and pattern > 0:      # Gemma 3: 5 local, 1 global
            sliding = tuple((i + 1) % pattern != 0 for i in range(layers))
        elif family == "gemma2":                              # Gemma 2: every other layer
            sliding = tuple(i % 2 == 0 for i in range(layers))
        else:                                                 # Mistral: every layer
            sliding = (True,) * layers
    else:
        sliding = ()
    act = str(raw.get("hidden_act", raw.get("activation_function", "silu")))
    gated = raw.get("model_type") not in ("opt", "gpt2") and act not in ("relu", "gelu_new")
    cfg = dict(
        name=name, hidden=hidden, intermediate=inter, layers=layers, heads=heads,
        kv_heads=kv_heads, head_dim=head_dim, vocab=vocab, gated_ffn=gated,
        experts=experts, experts_per_token=topk,
        moe_intermediate=get(("moe_intermediate_size",), default=inter or 0),
        shared_experts=get(("n_shared_experts",), default=0),
        dense_layers=get(("first_k_dense_replace",), default=0),
        q_lora_rank=get(("q_lora_rank",), default=0) or 0,
        kv_lora_rank=get(("kv_lora_rank",), default=0) or 0,
        qk_rope_dim=get(("qk_rope_head_dim",), default=0) or 0,
        qk_nope_dim=get(("qk_nope_head_dim",), default=0) or 0,
        v_head_dim=get(("v_head_dim",), default=0) or 0,
        tie_embeddings=bool(raw.get("tie_word_embeddings", False)),
        max_positions=max_pos, sliding_window=window if any(sliding) else 0,
        sliding_layers=sliding,
    )
    if errors:
        raise UsageError(f"{origin}: " + "; ".join(errors))
    return ModelConfig(**cfg)


HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


def hub_cache() -> Path:
    """The local Hugging Face hub cache (``HF_HUB_CACHE``, ``HF_HOME``/hub, or
    ``~/.cache/huggingface/hub``)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface"
    return Path(home) / "hub"


def hub_config(repo_id: str) -> Path:
    """``config.json`` of ``repo_id`` in the local cache (its ``main`` revision, else the
    newest snapshot); never downloads."""
    root = hub_cache() / f"models--{repo_id.replace('/', '--')}"
    ref = root / "refs" / "main"
    candidates = []
    if ref.exists():
        candidates.append(root / "snapshots" / ref.read_text().strip() / "config.json")
    snaps = root / "snapshots"
    if snaps.is_dir():
        candidates += sorted(snaps.glob("*/config.json"), key=lambda p: p.stat().st_mtime,
                             reverse=True)
    for c in candidates:
        if c.exists():
            return c
    raise UsageError(f"model {repo_id!r} is not in the local Hugging Face cache ({root}); "
                     "download it first (huggingface-cli download "
                     f"{repo_id} config.json) or give the path of its config.json")


def load_model(model) -> ModelConfig:
    """A shipped model name, the path of a ``config.json`` (or its folder), a Hub id
    found in the local Hugging Face cache, a config dict (``name`` or ``_name_or_path``
    names it), a ``transformers`` config object (anything with ``to_dict()``) or a
    :class:`ModelConfig`."""
    if isinstance(model, ModelConfig):
        return model
    if not isinstance(model, (str, Path, dict)) and callable(getattr(model, "to_dict", None)):
        model = model.to_dict()
    if isinstance(model, dict):
        name = str(model.get("name") or model.get("_name_or_path") or "model").split("/")[-1]
        return parse_config(model, name=name or "model", origin="a config dict")
    if not isinstance(model, (str, Path)):
        raise UsageError(f"model must be a shipped name, a path, a Hub id, a config dict or "
                         f"a transformers config, not {model!r} ({type(model).__name__})")
    text = str(model)
    shipped = CONFIG_DIR / f"{text}.json"
    if shipped.exists():
        path, name = shipped, text
    elif HUB_ID.match(text) and not text.endswith(".json") and not Path(text).exists():
        path, name = hub_config(text), text.split("/")[-1]
    else:
        path = Path(text)
        if not (path.suffix == ".json" or path.is_dir()):
            close = difflib.get_close_matches(text, shipped_models(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"model must be one of {', '.join(shipped_models())}, the path "
                             f"of a config.json or a Hub id in the local cache, not "
                             f"{text!r}{hint}")
        if path.is_dir():
            path = path / "config.json"
        if not path.exists():
            raise UsageError(f"model config file does not exist: {str(path)!r}")
        name = path.parent.name if path.name == "config.json" else path.stem
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except ValueError as exc:            # an integer of thousands of digits
        raise UsageError(f"{path}: a number in it is too long to read ({exc})") from None
    return parse_config(raw, name=name, origin=str(path))


# --- operations -------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Linear:
    """``count`` independent GEMMs of ``[m, k] x [k, n]`` (``count`` > 1 for experts)."""
    name: str
    layer: int
    m: int
    n: int
    k: int
    count: int = 1

    @property
    def macs(self) -> int:
        return self.m * self.n * self.k * self.count

    @property
    def weight_elems(self) -> int:
        return self.n * self.k * self.count


@dataclasses.dataclass(frozen=True)
class Attention:
    """Scaled dot-product attention of ``q_len`` new tokens against ``kv_len`` cached ones
    (the new ones included), for each of ``batch`` sequences."""
    name: str
    layer: int
    batch: int
    heads: int
    kv_heads: int
    q_len: int
    kv_len: int
    qk_dim: int
    v_dim: int
    kv_elems_per_token: int
    causal: bool = True
    window: int = 0                  # sliding window (0: attend to every cached token)

    @property
    def kv_span(self) -> int:
        """Cached tokens held and read per sequence."""
        return min(self.kv_len, self.window) if self.window else self.kv_len

    @property
    def scores(self) -> int:
        """Query-key pairs computed (causal masking and the window skipped)."""
        if self.causal and self.q_len > 1:
            start = self.kv_len - self.q_len
            # query i (0-based) sees start + i + 1 keys, at most the window
            full = self.q_len * start + self.q_len * (self.q_len + 1) // 2
            if self.window:
                w = self.window
                # keys seen by query i: min(start + i + 1, w); count the capped ones
                first_capped = max(0, w - start)          # queries with i + 1 + start > w
                capped = max(0, self.q_len - first_capped)
                over = sum(range(start + first_capped + 1 - w, start + self.q_len + 1 - w)) \
                    if capped else 0
                full -= over
            pairs = full
        else:
            pairs = self.q_len * self.kv_span
        return self.batch * self.heads * pairs

    @property
    def macs(self) -> int:
        return self.scores * (self.qk_dim + self.v_dim)

    @property
    def kv_read_elems(self) -> int:
        return self.batch * self.kv_span * self.kv_elems_per_token

    @property
    def kv_write_elems(self) -> int:
        return self.batch * self.q_len * self.kv_elems_per_token


@dataclasses.dataclass(frozen=True)
class Elementwise:
    """Norms, activations, residual adds, rotary embedding: ``elements`` outputs, each
    reading ``inputs`` operands and costing ``flops`` operations."""
    name: str
    layer: int
    elements: int
    inputs: int = 1
    flops: int = 1


def _layer_ops(cfg: ModelConfig, layer: int, tokens: int, batch: int, q_len: int,
               kv_len: int) -> list:
    h = cfg.hidden
    ops = [Elementwise("attn_norm", layer, tokens * h, 1, 4)]
    if cfg.mla:
        if cfg.q_lora_rank:
            ops += [Linear("q_a", layer, tokens, cfg.q_lora_rank, h),
                    Linear("q_b", layer, tokens, cfg.heads * cfg.qk_dim, cfg.q_lora_rank)]
        else:
            ops.append(Linear("q", layer, tokens, cfg.heads * cfg.qk_dim, h))
        ops += [Linear("kv_a", layer, tokens, cfg.kv_lora_rank + cfg.qk_rope_dim, h),
                Linear("kv_b", layer, tokens, cfg.heads * (cfg.qk_nope_dim + cfg.v_dim),
                       cfg.kv_lora_rank)]
    else:
        ops += [Linear("q", layer, tokens, cfg.heads * cfg.head_dim, h),
                Linear("k", layer, tokens, cfg.kv_heads * cfg.head_dim, h),
                Linear("v", layer, tokens, cfg.kv_heads * cfg.head_dim, h)]
    ops.append(Elementwise("rope", layer, tokens * (cfg.heads + cfg.kv_heads) * cfg.qk_dim,
                           1, 4))
    ops.append(Attention("attention", layer, batch, cfg.heads, cfg.kv_heads, q_len, kv_len,
                         cfg.qk_dim, cfg.v_dim, cfg.kv_elems_per_token,
                         window=cfg.window(layer)))
    ops.append(Linear("o", layer, tokens, h, cfg.heads * cfg.v_dim))
    ops.append(Elementwise("residual", layer, tokens * h, 2, 1))
    ops.append(Elementwise("ffn_norm", layer, tokens * h, 1, 4))
    moe = cfg.experts and layer >= cfg.dense_layers
    if moe:
        ops.append(Linear("router", layer, tokens, cfg.experts, h))
        # Expected number of distinct experts the batch's tokens select.
        picks = tokens * cfg.experts_per_token
        active = min(cfg.experts, math.ceil(
            cfg.experts * (1 - (1 - cfg.experts_per_token / cfg.experts) ** tokens)))
        rows = max(1, math.ceil(picks / active))
        inter = cfg.moe_intermediate
        ups = ["gate", "up"] if cfg.gated_ffn else ["up"]
        for nm in ups:
            ops.append(Linear(f"expert_{nm}", layer, rows, inter, h, count=active))
        ops.append(Elementwise("expert_act", layer, picks * inter, len(ups), 4))
        ops.append(Linear("expert_down", layer, rows, h, inter, count=active))
        if cfg.shared_experts:
            si = inter * cfg.shared_experts
            for nm in ups:
                ops.append(Linear(f"shared_{nm}", layer, tokens, si, h))
            ops.append(Elementwise("shared_act", layer, tokens * si, len(ups), 4))
            ops.append(Linear("shared_down", layer, tokens, h, si))
    else:
        ups = ["gate", "up"] if cfg.gated_ffn else ["up"]
        for nm in ups:
            ops.append(Linear(nm, layer, tokens, cfg.intermediate, h))
        ops.append(Elementwise("act", layer, tokens * cfg.intermediate, len(ups), 4))
        ops.append(Linear("down", layer, tokens, h, cfg.intermediate))
    ops.append(Elementwise("residual", layer, tokens * h, 2, 1))
    return ops


def _head_ops(cfg: ModelConfig, rows: int) -> list:
    return [Elementwise("final_norm", cfg.layers, rows * cfg.hidden, 1, 4),
            Linear("lm_head", cfg.layers, rows, cfg.vocab, cfg.hidden)]


def prefill_ops(cfg: ModelConfig, batch: int, prompt: int) -> list:
    """One forward pass over ``batch`` prompts of ``prompt`` tokens; logits of the last
    token of each sequence only."""
    tokens = batch * prompt
    ops = []
    for layer in range(cfg.layers):
        ops += _layer_ops(cfg, layer, tokens, batch, prompt, prompt)
    return ops + _head_ops(cfg, batch)


def decode_ops(cfg: ModelConfig, batch: int, kv_len: int) -> list:
    """One decode step: one new token per sequence, attending to ``kv_len`` tokens."""
    ops = []
    for layer in range(cfg.layers):
        ops += _layer_ops(cfg, layer, batch, batch, 1, kv_len)
    return ops + _head_ops(cfg, batch)


@dataclasses.dataclass(frozen=True)
class Request:
    """``batch`` sequences of ``prompt`` tokens, each generating ``gen`` more.

    ``extend_context``: run past the model's ``max_position_embeddings`` on purpose
    (long-context studies); otherwise such a request is refused. ``allow_spill``: model
    what does not fit a system's memory as extra traffic instead of refusing it.
    """
    model: ModelConfig
    batch: int = 1
    prompt: int = 512
    gen: int = 128
    extend_context: bool = False
    allow_spill: bool = False

    def __post_init__(self):
        check_int("batch", self.batch, 1, 1 << 20)
        check_int("prompt", self.prompt, 1, 1 << 24)
        check_int("gen", self.gen, 0, 1 << 24)
        limit = self.model.max_positions
        if limit and self.context > limit and not self.extend_context:
            raise UsageError(
                f"context {self.context} (prompt {self.prompt} + gen {self.gen}) exceeds "
                f"{self.model.name}'s max_position_embeddings {limit}; pass "
                "--extend-context (extend_context=True) to study it anyway")

    @property
    def context(self) -> int:
        return self.prompt + self.gen

    def assumptions(self, honours_window: bool = True) -> list[str]:
        cfg = self.model
        out = []
        if cfg.max_positions and self.context > cfg.max_positions:
            out.append(f"context {self.context} extended past the model's limit of "
                       f"{cfg.max_positions} on request (--extend-context)")
        elif not cfg.max_positions:
            out.append("the model config states no context limit; none checked")
        if cfg.sliding_window and honours_window:
            n = sum(cfg.sliding_layers)
            out.append(f"sliding_window {cfg.sliding_window} honoured on {n} of "
                       f"{cfg.layers} layers (KV cache and attention capped)")
        return out


def kv_cache_bytes(cfg: ModelConfig, batch: int, context: int, kv_bytes: float) -> float:
    return cfg.kv_cache_elems(batch, context) * kv_bytes


def fmt_bytes(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"
