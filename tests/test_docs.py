"""The docs site builds with `mkdocs build --strict` (a warning fails it), executing every
notebook at its small sizes (a cell that raises fails the build), and what it generates
is there: every subcommand's help, each design's parameters, calibrations and paper
checks, the API reference, the spec formats and the notebooks with their plots."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tokenfab import registry
from tokenfab.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _text(path: Path) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "TOKENFAB_NOTEBOOK_SMALL": "1", "DISABLE_MKDOCS_2_WARNING": "true",
           "NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-4000:]
    return out


@pytest.mark.slow
def test_the_site_builds_strict_with_every_page(site):
    cli = _text(site / "cli" / "index.html")
    sub = next(a for a in build_parser()._actions if isinstance(a.choices, dict))
    for name in sub.choices:
        assert f"usage: tokenfab {name}" in cli
    for name, entry in registry.DESIGNS.items():
        page = _text(site / "designs" / name / "index.html")
        assert "Paper checks" in page and "Parameters" in page
        for field in entry.Params.__dataclass_fields__:
            assert field in page
    assert "die_cost" in _text(site / "api" / "index.html")
    specs = _text(site / "specs" / "index.html")
    assert "double_buffered" in specs and "lut_tensor_core_weight_bits.toml" in specs
    assert "hnlpu_link_efficiency" in _text(site / "calibrations" / "index.html")
    predictions = _text(site / "predictions" / "index.html")
    assert "test_system_model.py::test_predicted_table1_latencies" in predictions
    assert "test_hnlpu.py::test_throughput_at_2k_is_the_calibration_point" in predictions


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_notebook_is_rendered_executed_with_its_plots(site, path):
    page = (site / "notebooks" / path.stem / "index.html").read_text(encoding="utf-8")
    assert "data:image/png" in page           # outputs exist only if the build ran it
    assert "Traceback" not in page

