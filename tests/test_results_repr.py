"""Results made for notebooks: every result class has a one-line repr of its headline
figures and an HTML table (with the bound, calibrations and assumptions), its keys are
readable as ``r["key"]`` and listed by ``dir()``; long calls take ``progress=True``;
models have a public API and ``simulate(model=...)`` takes a config dict or object."""
from __future__ import annotations

import json

import pytest

import tokenfab
from tokenfab import display
from tokenfab.cost_models import die, nre, tco


@pytest.fixture(scope="module")
def sim():
    return tokenfab.design("lut-tensor-core").simulate(prompt=16, gen=2)


def _results():
    return {
        "simulate": lambda: tokenfab.design("mac-array").simulate(prompt=16, gen=2),
        "gemm": lambda: tokenfab.design("systolic-array").gemm(64, 64, 64),
        "cost": lambda: tokenfab.design("lut-tensor-core").cost(),
        "cost hnlpu": lambda: tokenfab.design("hnlpu").cost(),
        "cost sail": lambda: tokenfab.design("sail").cost(),
        "cost tellme": lambda: tokenfab.design("tellme").cost(),
        "die": lambda: die.die_cost(827.08, "5nm"),
        "nre": lambda: nre.design_nre(5, 1e7),
        "tco": lambda: tco.tco(1000.0, 100.0),
    }


@pytest.mark.parametrize("kind", list(_results()))
def test_every_result_reads_like_a_mapping_and_shows_itself(kind):
    r = _results()[kind]()
    d = r.to_dict()
    text = repr(r)
    assert text.startswith(f"<{type(r).__name__}") and "\n" not in text and len(text) < 400
    assert r.headline() and all(k in d for k, _ in r.headline())
    html = r._repr_html_()
    assert html.startswith("<table>") and html.count("<tr>") >= len(r.headline())
    for key in d:
        assert r[key] is d[key] or r[key] == d[key]
        assert key in dir(r)
    assert r.keys() == list(d)
    with pytest.raises(KeyError, match="has no 'nonexistent_key'"):
        r["nonexistent_key"]


def test_the_simulation_repr_and_table(sim):
    assert f"tokens_per_j={display.cell('tokens_per_j', sim.tokens_per_j)}" in repr(sim)
    html = sim._repr_html_()
    assert "<th style='text-align:left'>bound</th>" in html and "decode: " in html
    assert "calibrated" in html and "assumes" in html and "gate_activity" in html
    with pytest.raises(KeyError, match=r"did you mean 'tokens_per_j'"):
        sim["tokens_per_jj"]


def test_units_never_hide_a_factor_of_a_thousand():
    assert display.cell("tokens_per_j", 0.6527) == "0.6527 tok/J"
    assert display.cell("decode_tokens_per_s", 250366.0) == "250,366 tok/s"
    assert display.cell("usd_per_mtoken", 0.155) == "0.155 USD/Mtok"
    assert display.cell("energy_per_mac_j", 1.674e-13) == "167.4 fJ"
    assert display.cell("chip_power_w", 3.345) == "3.345 W"


def test_progress_true_reports_on_stderr(capsys):
    a = tokenfab.design("mac-array").simulate(prompt=16, gen=2, progress=True)
    err = capsys.readouterr().err
    assert ".. " in err and "[00:0" in err             # tqdm: the step and the time
    b = tokenfab.design("mac-array").simulate(prompt=16, gen=2)
    assert a.to_dict() == b.to_dict()
    with pytest.raises(tokenfab.UsageError, match="progress must be None, True or a callable"):
        tokenfab.design("mac-array").simulate(progress="yes")


def test_models_have_a_public_api():
    names = tokenfab.models.list()
    assert "llama-2-7b" in names and names == sorted(names)
    cfg = tokenfab.models.load("llama-2-7b")
    assert tokenfab.models.load(cfg) is cfg and cfg.linear_params() > 6e9


def test_simulate_takes_a_config_dict_or_object(tmp_path):
    path = tmp_path / "config.json"
    ref = tokenfab.design("mac-array").simulate(model="llama-2-7b", prompt=16, gen=2)
    from tokenfab.arch_models.workloads import CONFIG_DIR
    raw = json.loads((CONFIG_DIR / "llama-2-7b.json").read_text())

    class HFConfig:                       # what transformers' PretrainedConfig offers
        def to_dict(self):
            return dict(raw, _name_or_path="meta-llama/Llama-2-7b-hf")

    for model in (raw, HFConfig()):
        r = tokenfab.design("mac-array").simulate(model=model, prompt=16, gen=2)
        assert r.tokens_per_j == ref.tokens_per_j and r.ttft_s == ref.ttft_s
    assert tokenfab.design("mac-array").simulate(model=HFConfig(), prompt=16,
                                                 gen=2).model == "Llama-2-7b-hf"
    path.write_text(json.dumps(raw))
    assert tokenfab.design("mac-array").simulate(model=path, prompt=16,
                                                 gen=2).tokens_per_j == ref.tokens_per_j
    with pytest.raises(tokenfab.UsageError, match=r"a config dict or a transformers config, "
                                                  r"not 3 \(int\)"):
        tokenfab.design("mac-array").simulate(model=3)


def test_api_errors_name_keywords_and_cli_errors_flags(capsys):
    from tokenfab.cli import main
    with pytest.raises(tokenfab.UsageError, match=r"^allow_spill=True is not modelled for HNLPU"):
        tokenfab.design("hnlpu").simulate(allow_spill=True)
    assert main(["simulate", "hnlpu", "--allow-spill"]) == 2
    assert "error: --allow-spill is not modelled for HNLPU" in capsys.readouterr().err
    with pytest.raises(tokenfab.UsageError, match="overrides clock is given twice"):
        tokenfab.design("mac-array").simulate(overrides=["clock=1GHz", "clock=2GHz"])
    assert main(["simulate", "mac-array", "--set", "clock=1GHz", "--set", "clock=2GHz"]) == 2
    assert "error: --set clock is given twice" in capsys.readouterr().err
    # wrapped in another message, the option keeps both spellings
    with pytest.raises(tokenfab.UsageError, match="pass allow_spill=True to stream"):
        tokenfab.design("mac-array").simulate(model="llama-2-70b", prompt=64, gen=2)
    assert main(["simulate", "mac-array", "--model", "llama-2-70b", "--prompt", "64"]) == 2
    assert "pass --allow-spill to stream" in capsys.readouterr().err
