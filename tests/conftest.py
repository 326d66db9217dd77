import shutil
from pathlib import Path

import pytest

from tokenfab.sim.runner import expose_tools

ROOT = Path(__file__).resolve().parent.parent
# Tool outputs stay under the repository's gitignored build/ (YoWASP cannot see /tmp).
BUILD = ROOT / "build" / "tests"

expose_tools()


@pytest.fixture(scope="session")
def build_dir() -> Path:
    BUILD.mkdir(parents=True, exist_ok=True)
    return BUILD


def has_icarus() -> bool:
    return shutil.which("iverilog") is not None


icarus = pytest.mark.skipif(not has_icarus(), reason="Icarus Verilog (optional) not installed")
