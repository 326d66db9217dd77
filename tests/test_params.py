import pytest

import tokenfab
from tokenfab.hw.lut_tensor_core.params import Params as LP
from tokenfab.hw.mac_array.params import Params as MP
from tokenfab.errors import UsageError
from tokenfab.params import parse_assignments


@pytest.mark.parametrize("kw, msg", [
    ({"m": 0}, "m must be an integer from 1 to 64, not 0"),
    ({"k": 1}, "k must be an integer from 2 to 8, not 1"),
    ({"weight_bits": 9}, "weight_bits must be an integer from 1 to 8, not 9"),
    ({"act_bits": 8.0}, "act_bits must be an integer, not 8.0"),
    ({"acc_bits": True}, "acc_bits must be an integer, not True"),
])
def test_lut_params_reject_bad_values(kw, msg):
    with pytest.raises(UsageError, match=msg):
        LP(**kw)


def test_params_are_keyword_only_and_frozen():
    with pytest.raises(TypeError):
        LP(2, 64)
    p = LP()
    with pytest.raises(AttributeError):
        p.m = 3


def test_mac_allows_wider_weights():
    assert MP(weight_bits=8).weight_bits == 8
    with pytest.raises(UsageError, match="weight_bits must be an integer from 1 to 8"):
        MP(weight_bits=9)


def test_cli_assignments_are_typed_and_checked():
    assert parse_assignments(LP, ["n=32", "weight_bits=0x2"]) == {"n": 32, "weight_bits": 2}
    with pytest.raises(UsageError, match="parameter must be one of .*not 'q'"):
        parse_assignments(LP, ["q=1"])
    with pytest.raises(UsageError, match="n must be an integer, not 'many'"):
        parse_assignments(LP, ["n=many"])
    with pytest.raises(UsageError, match="key=value"):
        parse_assignments(LP, ["n"])


def test_api_design_validates():
    d = tokenfab.design("lut-tensor-core", n=32, weight_bits=2)
    assert d.params.n == 32
    with pytest.raises(UsageError, match="design must be one of"):
        tokenfab.design("tpu")
    with pytest.raises(UsageError, match="parameter must be one of"):
        tokenfab.design("mac-array", bogus=1)


def test_numpy_scalars_and_paths_are_taken_as_plain_values(tmp_path):
    """A notebook's sweep passes numpy integers and floats and pathlib paths; they are
    accepted where a plain int, float or str is, and stored as plain values."""
    import json
    from pathlib import Path

    import numpy as np

    import tokenfab
    d = tokenfab.design("lut-tensor-core", n=np.int64(16), weight_bits=np.int32(2))
    assert type(d.params.n) is int and d.params.n == 16
    t = tokenfab.design("tellme", clock_mhz=np.float32(200.0))
    assert type(t.params.clock_mhz) is float
    w = tmp_path / "w.npy"
    np.save(w, np.full((8, 3), 0.5))
    h = tokenfab.design("hnlpu", rows=8, cols=3, weights=Path(w))
    assert h.params.weights == str(w)
    r = d.simulate(model="llama-2-7b", batch=np.int64(2), prompt=np.int32(16),
                   gen=np.int64(2)).to_dict()
    json.dumps(r, allow_nan=False)
    assert type(r["batch"]) is int
    assert d.gemm(np.int64(2), 16, 64)["cycles"] > 0


@pytest.mark.parametrize("call, fragment", [
    (lambda t: t.design("lut-tensor-core", n=16.0), "n must be an integer, not 16.0"),
    (lambda t: t.design("lut-tensor-core").simulate(batch=2.5), "batch must be an integer"),
    (lambda t: t.design("lut-tensor-core").verify(seed=-3), "seed must be an integer from 0"),
    (lambda t: t.design("lut-tensor-core").cost(volume=-1), "volume must be an integer of at"),
    (lambda t: t.design("tellme", clock_mhz=float("nan")), "clock_mhz must be a finite"),
])
def test_bad_numbers_raise_the_documented_error(call, fragment):
    import tokenfab
    with pytest.raises(tokenfab.UsageError, match=fragment):
        call(tokenfab)
