import json

import pytest

import tokenfab
from tokenfab.cost_models import components, tech
from tokenfab.errors import UsageError


def test_tech_data_is_complete_and_sourced():
    data = tech.tech()
    assert set(tech.nodes()) >= {5, 7, 16, 28, 45}
    assert data["gates_28nm"]["fa_area"]["confidence"] == "D"


def test_bad_tech_file_reports_every_error(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"g": {"a": {"value": "x", "unit": "um2", "source": "s",
                                           "confidence": "S"},
                                     "b": {"value": 1, "unit": "furlong", "source": "",
                                           "confidence": "Q"}}}))
    with pytest.raises(UsageError) as exc:
        tech.load_file(bad)
    msg = str(exc.value)
    for part in ["g.a.value must be a number", "g.b.source must be a non-empty string",
                 "g.b.confidence must be one of", "g.b.unit must be one of"]:
        assert part in msg


def test_full_adder_area_by_hand():
    c = components.Components(components.adder(10), components.register(0), 1)
    assert c.area_m2(28) == pytest.approx(10 * 4.79e-12)
    # 7 nm: area factor 0.059 / 0.377 against 28 nm
    assert c.area_m2(7) == pytest.approx(10 * 4.79e-12 * 0.059 / 0.377)


def test_energy_per_step_by_hand():
    c = components.Components(components.adder(4), components.register(8), 2)
    # activity 0.25 x (4 FA x 3.40 fJ + 8 DFF x 1.70 fJ / 2 steps per tile)
    assert c.energy_per_step_j(28) == pytest.approx(0.25 * (4 * 3.40 + 8 * 1.70 / 2) * 1e-15)


@pytest.mark.parametrize("weight_bits", [1, 2])
def test_lut_smaller_and_lower_power_than_mac_at_28nm(weight_bits):
    ltc = tokenfab.design("lut-tensor-core", weight_bits=weight_bits).cost(node="28nm")
    mac = tokenfab.design("mac-array", weight_bits=weight_bits).cost(node="28nm")
    assert ltc.area_mm2 < mac.area_mm2
    assert ltc.energy_per_mac_j < mac.energy_per_mac_j
    if weight_bits == 1:
        assert ltc.chip_peak_power_w < mac.chip_peak_power_w


def test_lut_advantage_shrinks_with_weight_bits():
    e = [tokenfab.design("lut-tensor-core", weight_bits=b).cost().energy_per_mac_j
         for b in (1, 2, 3, 4)]
    assert e == sorted(e)
