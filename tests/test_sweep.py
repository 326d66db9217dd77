"""Sweeps: the spec is validated at once, points run and are cached by content hash,
refusals and failures do not stop a sweep, a killed sweep resumes with no point lost or
computed twice, and the Pareto front."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import numpy as np
import pytest

import tokenfab
from tokenfab import sweeps as sw
from tokenfab.cli import main

SMALL = {"model": "llama-2-7b", "prompt": 16, "gen": 2}


def _spec(axes, levels=("simulate",), objectives=None, **design):
    return {"sweep": {"levels": list(levels), "objectives": objectives or {}},
            "design": [{"name": "lut-tensor-core", "axes": axes, **design}],
            "workload": [SMALL]}


def test_every_spec_error_is_reported_at_once_with_its_place(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("""
[sweep]
levels = ["simulate", "synth"]
objectives = { "simulate.tokens_per_j" = "most" }
colour = "red"

[[design]]
name = "lut-tensor-core"
axes = { n = [16, 32], weigth_bits = [1, 2], k = { range = [4, 2] } }

[[design]]
name = "ltc"

[[workload]]
model = "llama-2-7b"
batch = [1, -4]
tokens = 3
""")
    with pytest.raises(tokenfab.UsageError) as exc:
        sw.load_spec(bad)
    msg = str(exc.value)
    for place in ("sweep.levels", "sweep.objectives", "sweep.colour",
                  "design[0].axes.weigth_bits", "did you mean 'weight_bits'",
                  "design[0].axes.k: range needs low <= high", "design[1].name",
                  "workload[0].batch", "workload[0].tokens"):
        assert place in msg, place
    assert "8 error(s)" in msg


@pytest.mark.parametrize("text, fragment", [
    ("[[design]\nname=", "is not valid TOML"),
    ("[[design]]\nname = 'mac-array'\nsample = { method = 'sobol' }",
     "sample.method: must be one of grid, random, lhs"),
    ("[[design]]\nname = 'mac-array'\naxes = { n = [] }", "an empty list has no values"),
])
def test_malformed_specs(tmp_path, text, fragment):
    f = tmp_path / "s.toml"
    f.write_text(text)
    with pytest.raises(tokenfab.UsageError, match=fragment):
        sw.load_spec(f)


def test_grid_points_run_and_are_cached(tmp_path):
    spec = _spec({"n": [16, 32], "weight_bits": [1, 2]}, levels=("simulate", "cost"),
                 objectives={"simulate.decode_tokens_per_s": "max",
                             "cost.area_mm2": "min"})
    df = tokenfab.sweep(spec, out=tmp_path / "s")
    assert len(df) == 4 and (df["status"] == "ok").all() and df.attrs["computed"] == 4
    assert sorted(zip(df["p.n"], df["p.weight_bits"])) == [(16, 1), (16, 2), (32, 1),
                                                            (32, 2)]
    for col in ("simulate.decode_tokens_per_s", "cost.area_mm2", "wall_s", "hash",
                "tokenfab_version", "code", "git_commit", "version_amaranth"):
        assert col in df.columns, col
    on_disk = pd.read_parquet(tmp_path / "s" / "results.parquet")
    assert on_disk["hash"].tolist() == df["hash"].tolist()
    # the same model at the same parameters: what the API gives directly
    direct = tokenfab.design("lut-tensor-core", n=32, weight_bits=2).simulate(**SMALL)
    row = df[(df["p.n"] == 32) & (df["p.weight_bits"] == 2)].iloc[0]
    assert row["simulate.decode_tokens_per_s"] == direct.decode_tokens_per_s
    again = tokenfab.sweep(spec, out=tmp_path / "s")
    assert again.attrs["computed"] == 0
    assert again["simulate.decode_tokens_per_s"].tolist() == \
        df["simulate.decode_tokens_per_s"].tolist()
    bigger = _spec({"n": [16, 32, 64], "weight_bits": [1, 2]})
    with pytest.raises(tokenfab.UsageError, match="already holds another sweep"):
        tokenfab.sweep(bigger, out=tmp_path / "s")
    # the simulate-only points differ in levels from the cached ones: all six computed
    assert tokenfab.sweep(bigger, out=tmp_path / "s", resume=True).attrs["computed"] == 6


def test_refused_and_failed_points_do_not_stop_the_sweep(tmp_path):
    spec = {"design": [{"name": "mixpe", "axes": {"dequant": ["pe", "edge"]},
                        "params": {"rows": 8, "cols": 8, "group": 16}}],
            "workload": [SMALL, {**SMALL, "prompt": 5000}]}
    df = tokenfab.sweep(spec, out=tmp_path / "s")
    assert df["status"].tolist().count("ok") == 1
    refused = df[df["status"] == "refused"]["message"].tolist()
    assert any("dequant 'edge'" in m for m in refused)
    assert any("max_position_embeddings" in m for m in refused)
    # a model no point could load is an error of the spec, reported before any point runs
    spec["workload"][1] = {**SMALL, "model": "no-such-model"}
    with pytest.raises(tokenfab.UsageError, match="workload.1..model.*'no-such-model'"):
        tokenfab.sweep(spec, out=tmp_path / "s2")
    assert not (tmp_path / "s2").exists()


def test_pareto_front():
    df = pd.DataFrame({"status": ["ok"] * 4 + ["refused"], "a": [1, 2, 3, 2, 0],
                       "b": [3, 2, 1, 3, 9]})
    front = sw.pareto(df, {"a": "min", "b": "min"})
    assert sorted(zip(front["a"], front["b"])) == [(1, 3), (2, 2), (3, 1)]
    with pytest.raises(tokenfab.UsageError, match="objective 'c' is not a result column"):
        sw.pareto(df, {"c": "min"})


def test_random_and_latin_hypercube_samples_are_seeded():
    def points(method, seed):
        spec = {"sweep": {"seed": seed},
                "design": [{"name": "lut-tensor-core", "sample": {"method": method, "n": 7},
                            "axes": {"n": {"range": [8, 56, 8]}, "k": [2, 3, 4, 5, 6, 7, 8]}}]}
        return [(p.params["n"], p.params["k"]) for p in sw.load_spec(spec).points]
    assert points("lhs", 1) == points("lhs", 1) != points("lhs", 2)
    lhs = points("lhs", 3)
    assert sorted(n for n, _ in lhs) == list(range(8, 57, 8))   # every stratum once
    assert sorted(k for _, k in lhs) == list(range(2, 9))
    assert len(points("random", 1)) == 7


def test_quick_sweep_from_the_command_line(tmp_path, capsys):
    assert main(["sweep", "lut-tensor-core", "-p", "n=16,32", "-p", "weight_bits=1,2",
                 "--prompt", "16", "--gen", "2", "--out", str(tmp_path / "q"),
                 "--objective", "simulate.tokens_per_j=max", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["points"] == 4 and r["ok"] == 4 and r["computed"] == 4 and r["pareto"]
    assert main(["sweep", "lut-tensor-core", "-p", "n=16,x", "--out",
                 str(tmp_path / "q2")]) == 2
    assert "n must be an integer, not 'x'" in capsys.readouterr().err


def test_search_finds_a_pareto_front(tmp_path, capsys):
    """NSGA-II over a MAC array's axes: every trial is a cached point, the front is
    non-dominated among the trials, and the same seed repeats the same trials."""
    argv = ["sweep", "mac-array", "-p", "n=4,8,16,32,64", "-p", "weight_bits=1,2,4",
            "-p", "array_scale=1,2,4", "--prompt", "16", "--gen", "2",
            "--objective", "simulate.tokens_per_j=max",
            "--objective", "simulate.decode_tokens_per_s=max", "--search", "8", "--json"]
    assert main(argv + ["--out", str(tmp_path / "a")]) == 0
    a = json.loads(capsys.readouterr().out)
    assert a["trials"] == 8 and a["pareto"] and a["ok"] == 8
    assert a["results"] == str(tmp_path / "a" / "search.parquet")
    assert (tmp_path / "a" / "study.db").exists()
    assert main(argv + ["--out", str(tmp_path / "a")]) == 0        # the study resumes:
    again = json.loads(capsys.readouterr().out)                   # nothing left to run
    assert again["computed"] == 0 and again["trials"] == 8 and again["pareto"] == a["pareto"]
    more = argv[:-3] + ["--search", "10", "--json", "--out", str(tmp_path / "a")]
    assert main(more) == 0                                        # two more trials
    grown = json.loads(capsys.readouterr().out)
    assert grown["trials"] == 10 and grown["computed"] <= 2
    import pandas as pd
    assert len(pd.read_parquet(tmp_path / "a" / "search.parquet")) == 10


def _running_with(text: str) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if text in (d / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


@pytest.mark.slow
def test_a_sweep_killed_with_sigkill_resumes_with_no_point_lost_or_repeated(tmp_path):
    """A real sweep is killed with SIGKILL after some points are written; the re-run
    computes exactly the missing ones, leaves no temporary file, and the results hold
    every point once."""
    spec = tmp_path / "kill.toml"
    spec.write_text("""
[[design]]
name = "lut-tensor-core"
axes = { n = [8, 16, 32, 64], weight_bits = [1, 2, 3, 4], k = [2, 4] }

[[workload]]
model = "llama-2-7b"
prompt = 64
gen = 4
""")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "tokenfab", "sweep", str(spec), "--out", str(out), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    points = out / "points"
    deadline = time.time() + 120
    while time.time() < deadline:
        if points.exists() and len(list(points.glob("*.json"))) >= 5:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # its pool workers die with it (no process still holds the spec on its command line)
    deadline = time.time() + 10
    while time.time() < deadline and _running_with(str(spec)):
        time.sleep(0.1)
    assert not _running_with(str(spec))
    before = {f.name: f.stat().st_mtime_ns for f in points.glob("*.json")}
    assert 5 <= len(before) < 32 and not (out / "results.parquet").exists()
    r = subprocess.run(cmd + ["--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["points"] == 32 and summary["computed"] == 32 - len(before)
    assert {f.name: f.stat().st_mtime_ns for f in points.glob("*.json")
            if f.name in before} == before                   # none recomputed
    assert not [f for f in out.rglob(".*") if f.is_file()]  # no temp file left behind
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 32 and df["hash"].is_unique and (df["status"] == "ok").all()


@pytest.mark.slow
def test_dask_local_cluster_survives_a_killed_worker(tmp_path):
    """A real LocalCluster of two workers runs a sweep with a synthesis point; one worker
    is SIGKILLed after the first results; every point completes exactly once."""
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    spec = {"sweep": {"levels": ["simulate"]},
            "design": [{"name": "mac-array", "axes": {"n": [2, 4, 8, 16, 32, 64],
                                                      "weight_bits": [1, 2]}}],
            "workload": [SMALL]}
    synth = {"sweep": {"levels": ["fpga"], "fpga_target": "kv260"},
             "design": [{"name": "mac-array", "params": {"n": 2}}]}
    killed = []

    def progress(done, total, row):
        if row is not None and not killed:
            pids = client.run(os.getpid)
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
    try:
        df = tokenfab.sweep(spec, out=tmp_path / "d", progress=progress,
                            scheduler=cluster.scheduler_address)
        syn = tokenfab.sweep(synth, out=tmp_path / "syn", scheduler=cluster.scheduler_address)
    finally:
        client.close()
        cluster.close()
    assert killed
    assert len(df) == 12 and df["hash"].is_unique and (df["status"] == "ok").all()
    assert df.attrs["computed"] == 12
    assert len(list((tmp_path / "d" / "points").glob("*.json"))) == 12
    assert syn["status"].tolist() == ["ok"] and syn["fpga.luts"].iloc[0] > 100


def test_cost_points_take_a_node_and_a_volume(tmp_path):
    """A volume axis in the workload and the cost level's node: the NRE spreads over the
    units built, so the cost per token falls with volume."""
    df = tokenfab.sweep({"sweep": {"levels": ["cost"], "cost_node": "7nm"},
                         "design": [{"name": "mac-array"}],
                         "workload": [{"model": "llama-2-7b", "prompt": 16, "gen": 2,
                                       "volume": [100, 1_000_000]}]}, out=tmp_path / "sw")
    assert (df["status"] == "ok").all() and set(df["cost.node"]) == {"7nm"}
    usd = df.set_index("volume")["cost.usd_per_mtoken"]
    assert usd[100] > usd[1_000_000]


def test_area_points_run_yosys_on_the_generated_verilog(tmp_path):
    df = tokenfab.sweep({"sweep": {"levels": ["area"], "cost_node": "5nm"},
                         "design": [{"name": "hnlpu", "params": {"cols": 2},
                                     "axes": {"rows": [4, 8]}}],
                         "workload": [{"prompt": 1, "gen": 0}]}, out=tmp_path / "sw")
    assert (df["status"] == "ok").all() and set(df["area.node"]) == {"5nm"}
    t = df.set_index("p.rows")["area.transistors"]
    assert 0 < t[4] < t[8]


def test_progress_true_draws_a_tqdm_bar(tmp_path, capsys):
    spec = {"sweep": {"levels": ["simulate"]},
            "design": [{"name": "mac-array", "axes": {"n": [2, 4]}}], "workload": [SMALL]}
    df = tokenfab.sweep(spec, out=tmp_path / "s", progress=True)
    err = capsys.readouterr().err
    assert len(df) == 2 and "2/2" in err and "point" in err


@pytest.mark.parametrize("objectives", [1, 2, 3, 4])
def test_the_pareto_front_is_every_row_no_other_beats(objectives):
    """Against the definition, row by row, with many ties and repeated rows."""
    from tokenfab.sweeps import nondominated
    rng = np.random.default_rng(objectives)
    for n, high in ((1, 5), (60, 3), (300, 8), (500, 1000)):
        vals = rng.integers(0, high, (n, objectives)).astype(float)
        want = [not any((b <= a).all() and (b < a).any() for b in vals) for a in vals]
        assert nondominated(vals).tolist() == want
        assert nondominated(vals, block=7).tolist() == want


def test_an_unknown_objective_is_refused_before_any_point_runs(tmp_path, capsys):
    spec = {"sweep": {"levels": ["simulate"], "objectives": {"simulate.tokens_per_jj": "max"}},
            "design": [{"name": "mac-array", "axes": {"n": [16, 32]}}], "workload": [SMALL]}
    with pytest.raises(tokenfab.UsageError, match=r"objective 'simulate.tokens_per_jj' is "
                                                  r"not a column this sweep gives \(did you "
                                                  r"mean 'simulate.tokens_per_j'\?\)"):
        tokenfab.sweep(spec, out=tmp_path / "s")
    assert not (tmp_path / "s").exists()
    assert main(["sweep", "mac-array", "-p", "n=16,32", "--levels", "fpga", "--objective",
                 "fpga.lut=min", "--out", str(tmp_path / "f")]) == 2
    assert "did you mean 'fpga.luts'" in capsys.readouterr().err
    assert not (tmp_path / "f").exists()


def test_a_script_without_a_main_guard_gets_one_line(tmp_path):
    """Dask's workers import the script again; without `if __name__ == "__main__":` the
    sweep would start again inside them. The script stops with one line saying so."""
    script = tmp_path / "noguard.py"
    script.write_text(
        "import tokenfab\n"
        f"spec = {{'sweep': {{'levels': ['simulate']}}, 'design': [{{'name': 'mac-array', "
        f"'axes': {{'n': [2, 4]}}}}], 'workload': [{SMALL!r}]}}\n"
        f"tokenfab.sweep(spec, out={str(tmp_path / 'out')!r}, workers=1)\n")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith(
        "tokenfab.errors.UsageError: the Dask workers could not start: they start by "
        "importing your script again")


def test_a_local_cluster_prints_its_dashboard_and_it_answers(tmp_path, capsys):
    """workers=N starts a LocalCluster whose dashboard address is printed as it starts;
    while points run, the page answers."""
    import re
    import urllib.request
    seen = []

    def progress(done, total, row):
        if row is not None and not seen:
            err = capsys.readouterr().err
            link = re.search(r"Dask dashboard: (http://127\.0\.0\.1:\d+/status)", err)
            assert link, err
            with urllib.request.urlopen(link.group(1), timeout=60) as page:
                seen.append((link.group(1), page.status))
    df = tokenfab.sweep({"sweep": {"levels": ["simulate"]},
                         "design": [{"name": "mac-array", "axes": {"n": [2, 4]}}],
                         "workload": [SMALL]}, out=tmp_path / "d", workers=1,
                        progress=progress)
    assert seen and seen[0][1] == 200
    assert df.attrs["dashboard"] == seen[0][0]


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parent.parent / "examples"
                                         / "sweeps").glob("*.toml")), ids=lambda p: p.stem)
def test_the_shipped_example_specs_load_and_their_objectives_exist(path):
    from tokenfab import sweeps
    s = sweeps.load_spec(path)
    assert len(s.points) >= 6 and s.objectives
    sweeps.check_objectives(s)
