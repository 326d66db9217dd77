import json

import pytest

from tokenfab.arch_models.workloads import (Attention, Linear, decode_ops, load_model,
                                            parse_config, prefill_ops,
                                            shipped_models)
from tokenfab.errors import UsageError

CONFIGS = (__import__("pathlib").Path(__import__("tokenfab.arch_models.workloads").arch_models
           .workloads.__file__).parent / "configs")

# Published totals (linear weights incl. LM head, no embeddings), billions.
PUBLISHED = {"llama-2-7b": 6.6, "llama-2-13b": 12.9, "llama-2-70b": 68.7, "llama-3-8b": 7.5,
             "qwq-32b": 32.0, "gpt-oss-120b": 116.2, "deepseek-v3": 670.0, "kimi-k2": 1025.0,
             "bitnet-b1.58-large": 0.73, "bitnet-b1.58-3b": 3.32}


def test_required_models_are_shipped():
    need = {"llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "opt-6.7b",
            "bitnet-b1.58-large", "bitnet-b1.58-3b", "bitnet-b1.58-2b-4t", "qwq-32b",
            "gpt-oss-120b", "deepseek-v3", "kimi-k2"}
    assert need <= set(shipped_models())


@pytest.mark.parametrize("name,billions", PUBLISHED.items())
def test_parameter_counts_match_published_sizes(name, billions):
    assert load_model(name).linear_params() / 1e9 == pytest.approx(billions, rel=0.02)


def test_bitnet_large_dims():
    c = load_model("bitnet-b1.58-large")
    assert (c.hidden, c.intermediate, c.layers) == (1536, 4096, 24)


def test_decode_shapes_llama_7b():
    c = load_model("llama-2-7b")
    ops = decode_ops(c, batch=4, kv_len=100)
    lin = [o for o in ops if isinstance(o, Linear)]
    assert {(o.name, o.m, o.n, o.k) for o in lin if o.layer == 0} == {
        ("q", 4, 4096, 4096), ("k", 4, 4096, 4096), ("v", 4, 4096, 4096),
        ("o", 4, 4096, 4096), ("gate", 4, 11008, 4096), ("up", 4, 11008, 4096),
        ("down", 4, 4096, 11008)}
    att = [o for o in ops if isinstance(o, Attention)][0]
    assert att.kv_read_elems == 4 * 100 * 2 * 32 * 128
    assert ops[-1].name == "lm_head" and ops[-1].n == 32000


def test_prefill_causal_attention_counts_pairs():
    c = load_model("llama-2-7b")
    att = [o for o in prefill_ops(c, 1, 8) if isinstance(o, Attention)][0]
    assert att.scores == 32 * 8 * 9 // 2


def test_moe_touches_topk_experts_per_token():
    c = load_model("gpt-oss-120b")
    ops = decode_ops(c, batch=1, kv_len=10)
    up = [o for o in ops if o.name == "expert_up" and o.layer == 0][0]
    assert up.count == 4 and up.m == 1 and up.n == 2880


def test_user_config_path(tmp_path):
    cfg = {"hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
           "num_attention_heads": 4, "vocab_size": 1000}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    m = load_model(str(path))
    assert m.kv_heads == 4 and m.head_dim == 64


def test_bad_config_reports_every_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"hidden_size": -1, "num_attention_heads": "x"}))
    with pytest.raises(UsageError) as exc:
        load_model(str(path))
    msg = str(exc.value)
    for part in ["hidden_size must be a non-negative integer", "num_hidden_layers is missing",
                 "num_attention_heads must be a non-negative integer", "vocab_size is missing"]:
        assert part in msg


def test_malformed_json(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{nope")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_model(str(path))


def test_unknown_model():
    with pytest.raises(UsageError, match="model must be one of"):
        load_model("gpt-5")


# ---------------------------------------------------------------- any Hugging Face config
LLAMA = {"model_type": "llama", "hidden_size": 512, "intermediate_size": 1024,
         "num_hidden_layers": 4, "num_attention_heads": 8, "num_key_value_heads": 2,
         "vocab_size": 1000, "max_position_embeddings": 2048}


def test_null_fields_count_as_absent():
    cfg = parse_config({**LLAMA, "head_dim": None, "sliding_window": None,
                        "num_key_value_heads": None})
    assert cfg.head_dim == 64 and cfg.kv_heads == 8 and cfg.sliding_window == 0


def test_text_config_of_a_multimodal_model_is_read():
    cfg = parse_config({"model_type": "llava", "vision_config": {"hidden_size": 1024},
                        "text_config": LLAMA})
    assert cfg.hidden == 512 and cfg.layers == 4


@pytest.mark.parametrize("family, extra, check", [
    ("mistral", {"sliding_window": 256}, lambda c: all(c.sliding_layers)),
    ("qwen2", {"sliding_window": 256, "use_sliding_window": False},
     lambda c: c.sliding_window == 0),
    ("gemma2", {"sliding_window": 256, "head_dim": 128, "hidden_activation":
                "gelu_pytorch_tanh"}, lambda c: c.sliding_layers == (True, False) * 2),
    ("gemma3_text", {"sliding_window": 256, "sliding_window_pattern": 2},
     lambda c: c.sliding_layers == (True, False) * 2),
    ("phi3", {}, lambda c: c.gated_ffn),
    ("phi", {"hidden_act": "gelu_new"}, lambda c: not c.gated_ffn),
])
def test_other_families_with_the_same_structure(family, extra, check):
    cfg = parse_config({**LLAMA, "model_type": family, **extra})
    assert check(cfg)


def test_unsupported_architecture_is_refused_by_name():
    with pytest.raises(UsageError, match="model_type 'mamba' is not a supported"):
        parse_config({**LLAMA, "model_type": "mamba"})


def test_hub_id_from_the_local_cache(tmp_path, monkeypatch):
    snap = tmp_path / "models--Qwen--Qwen2-7B" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps({**LLAMA, "model_type": "qwen2"}))
    (tmp_path / "models--Qwen--Qwen2-7B" / "refs").mkdir()
    (tmp_path / "models--Qwen--Qwen2-7B" / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    cfg = load_model("Qwen/Qwen2-7B")
    assert cfg.name == "Qwen2-7B" and cfg.hidden == 512
    with pytest.raises(UsageError, match="'Qwen/Qwen2-72B' is not in the local Hugging Face"):
        load_model("Qwen/Qwen2-72B")


def test_a_missing_config_path_is_not_taken_for_a_hub_id(tmp_path):
    with pytest.raises(UsageError, match="model config file does not exist"):
        load_model("nowhere/config.json")


def test_a_typo_gets_a_suggestion():
    with pytest.raises(UsageError, match=r"did you mean 'llama-2-7b'\?"):
        load_model("llama2-7b")


def test_config_that_is_not_utf8(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_bytes(b"\xff\xfe{}")
    with pytest.raises(UsageError, match="not UTF-8 text"):
        load_model(bad)


BAD_CONFIGS = [
    ({"num_key_value_heads": 0}, "num_key_value_heads must be positive"),
    ({"head_dim": 0}, "head_dim must be positive"),
    ({"intermediate_size": 0}, "intermediate_size must be positive"),
    ({"hidden_size": None}, "hidden_size is missing"),
    ({"num_hidden_layers": 1_000_000}, "num_hidden_layers must be at most 4,096"),
    ({"hidden_size": int("9" * 400)}, "hidden_size must be at most 16,777,216"),
    ({"vocab_size": -5}, "vocab_size must be a non-negative integer"),
    ({"num_hidden_layers": 32.5}, "num_hidden_layers must be a non-negative integer"),
]


@pytest.mark.parametrize("change, fragment", BAD_CONFIGS, ids=[f for _, f in BAD_CONFIGS])
def test_absurd_configs_are_refused_in_one_line(change, fragment, tmp_path, capsys):
    from tokenfab.cli import main
    raw = json.loads((CONFIGS / "llama-2-7b.json").read_text())
    raw.update(change)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    code = main(["simulate", "mac-array", "--model", str(path), "--prompt", "8", "--gen", "1"])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("text, fragment", [
    (lambda raw: ('{"hidden_size": ' + "9" * 5000 + "}").encode(), "too long to read"),
    (lambda raw: raw.encode("utf-16"), "not UTF-8 text"),
    (lambda raw: b"{hidden_size: 5", "not valid JSON")])
def test_unreadable_configs_are_refused(text, fragment, tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(text((CONFIGS / "llama-2-7b.json").read_text()))
    with pytest.raises(UsageError, match=fragment):
        load_model(path)
