import os
import shutil
import time
from pathlib import Path

import pytest

from tokenfab.sim.runner import expose_tools

ROOT = Path(__file__).resolve().parent.parent
# Tool outputs stay under the repository's gitignored build/ (YoWASP cannot see /tmp).
BUILD = ROOT / "build" / "tests"

expose_tools()


def pytest_configure(config):
    """One verification seed per run, rotating (the workers inherit it); set
    TOKENFAB_VERIFY_SEED to replay a run."""
    os.environ.setdefault("TOKENFAB_VERIFY_SEED", str(time.time_ns() % 2**32))


def pytest_report_header(config):
    seed = os.environ["TOKENFAB_VERIFY_SEED"]
    return f"verification seed {seed} (replay: TOKENFAB_VERIFY_SEED={seed})"


@pytest.fixture(scope="session")
def build_dir() -> Path:
    BUILD.mkdir(parents=True, exist_ok=True)
    return BUILD


def has_icarus() -> bool:
    return shutil.which("iverilog") is not None


icarus = pytest.mark.skipif(not has_icarus(), reason="Icarus Verilog (optional) not installed")
