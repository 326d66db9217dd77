import pytest

import tokenfab
from tokenfab.hw.lut_tensor_core.params import Params as LP
from tokenfab.hw.mac_array.params import Params as MP
from tokenfab.errors import UsageError
from tokenfab.params import parse_assignments


@pytest.mark.parametrize("kw, msg", [
    ({"m": 0}, "m must be an integer from 1 to 64, not 0"),
    ({"k": 1}, "k must be an integer from 2 to 8, not 1"),
    ({"weight_bits": 5}, "weight_bits must be an integer from 1 to 4, not 5"),
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
