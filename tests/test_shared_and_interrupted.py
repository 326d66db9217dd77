"""Runs that share a folder, and runs that are interrupted (issue 16 §3): concurrent runs
take turns on a folder (``results.folder_lock``), builds are content-addressed and stamped
last, and a run killed at any point leaves nothing the next run takes for finished."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

CLI = [sys.executable, "-m", "tokenfab"]


def _cli(*args, **kw):
    return subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def test_folder_lock_serialises_and_dies_with_its_holder(tmp_path):
    """A second holder waits while the first holds the lock, and gets it as soon as the
    first process is killed (flock goes with the process)."""
    code = ("import sys, time; from tokenfab.results import folder_lock\n"
            "with folder_lock(sys.argv[1]):\n"
            "    print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    waiter = subprocess.Popen([sys.executable, "-c",
                               "import sys; from tokenfab.results import folder_lock\n"
                               "with folder_lock(sys.argv[1]): print('got it')",
                               str(tmp_path)], stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    assert waiter.poll() is None                     # still waiting for the lock
    holder.kill()
    holder.wait()
    out, _ = waiter.communicate(timeout=30)
    assert out.strip() == "got it"


def test_two_configurations_written_with_one_prefix_land_whole(tmp_path):
    """Two processes write different configurations under the same module name into one
    folder at once: whichever lands last, its Verilog and manifest belong together."""
    procs = [_cli("rtl", "lut-tensor-core", "-p", f"n={n}", "--prefix", "shared", "-o",
                  str(tmp_path), "--json", "--force") for n in (4, 8)] * 2
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    manifest = json.loads((tmp_path / "shared.manifest.json").read_text())
    import hashlib
    text = (tmp_path / "shared.v").read_bytes()
    assert hashlib.sha256(text).hexdigest() == manifest["sha256"]
    assert not list(tmp_path.glob(".shared*"))       # no temporary files left


@pytest.mark.slow
def test_concurrent_verifications_share_a_work_folder(tmp_path):
    """Two verifications of one configuration in one folder at once: one builds, the
    other waits for the build and reuses it; both pass and the build happens once."""
    args = ("verify", "mac-array", "-p", "m=1", "-p", "n=3", "-p", "k=2", "--vectors", "300",
            "-o", str(tmp_path), "--json")
    procs = [_cli(*args), _cli(*args)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    assert all(r["passed"] for r in results)
    builds = list(tmp_path.glob("*/verilator-*/.built"))
    assert len(builds) == 1


def _wait_for(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["build", "simulation"])
def test_a_killed_verification_is_rerun_cleanly(tmp_path, stage):
    """SIGKILL a real verification during the Verilator build, or during the cocotb
    simulation; the rerun does not take the half-done build or run for finished, and
    passes."""
    args = ("verify", "lut-tensor-core", "-p", "m=1", "-p", "n=5", "-p", "k=3",
            "--vectors", "20000" if stage == "simulation" else "50", "-o", str(tmp_path),
            "--json")
    proc = _cli(*args, start_new_session=True)
    if stage == "build":
        seen = _wait_for(lambda: list(tmp_path.glob("*/verilator-*/build.log")), 240)
    else:
        seen = _wait_for(lambda: list(tmp_path.glob("*/verilator-*/seed*/vectors.json")), 600)
    assert seen and proc.poll() is None, proc.communicate()
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)              # the run and every tool it started
    proc.wait()
    if stage == "build":
        assert not list(tmp_path.glob("*/verilator-*/.built"))
    else:
        assert not list(tmp_path.glob("*/verilator-*/seed*/results.json"))
    rerun = _cli(*args)
    out, err = rerun.communicate(timeout=900)
    assert rerun.returncode == 0, err
    r = json.loads(out)
    assert r["passed"] and r["vectors"] >= (20000 if stage == "simulation" else 50)
