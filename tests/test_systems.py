"""Systems as data: the YAML system files, their schema and overrides, and the mapper that
tiles each GEMM onto the on-chip hierarchy."""
from __future__ import annotations

import itertools
import dataclasses
import json
import random
import subprocess
import sys

import pytest
import yaml

import tokenfab
from tokenfab.arch_models import systems
from tokenfab.arch_models.common import mapper
from tokenfab.arch_models.common.system import op_cost
from tokenfab.arch_models.common.tile_timing import gemm_tiles, sequence_cycles
from tokenfab.arch_models.systems import units
from tokenfab.arch_models.workloads import Linear, decode_ops, load_model
from tokenfab.errors import UsageError


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tokenfab", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


# ---------------------------------------------------------------- files and schema
def test_every_preset_loads_and_lists():
    names = systems.preset_names()
    assert {"asic", "a100", "mixpe-paper"} <= set(names)
    r = cli("list", "--systems", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == names


def test_list_one_system_shows_values_and_sources():
    r = cli("list", "--systems", "a100")
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if "levels.l2.capacity" in x)
    assert "40MiB" in line and "A100 whitepaper" in line
    cal = next(x for x in r.stdout.splitlines() if "kernels.efficiency" in x)
    assert "a100_efficiency" in cal


@pytest.mark.parametrize("kind,text,si", [
    ("size", "512KiB", 512 * 1024), ("size", "16GB", 16e9), ("size", "4MiB", 4 * 2**20),
    ("size", 4096, 4096), ("bandwidth", "819GB/s", 819e9),
    ("bandwidth", "1.5TB/s", 1.5e12), ("cycle_bandwidth", "256B/cycle", 256),
    ("frequency", "2GHz", 2e9), ("frequency", "500MHz", 5e8),
    ("energy", "1.2pJ", 1.2e-12), ("time", "100ns", 1e-7), ("area", "0.5mm2", 0.5e-6),
    ("node", "7nm", 7)])
def test_units_parse_to_si(kind, text, si):
    assert units.parse(kind, text) == pytest.approx(si)


@pytest.mark.parametrize("kind,text", [("size", "1MB/s"), ("bandwidth", "4MiB"),
                                       ("frequency", "2GB"), ("size", "-1KiB"),
                                       ("size", True), ("energy", "1pW")])
def test_units_refuse_the_wrong_kind(kind, text):
    with pytest.raises(ValueError, match="must be"):
        units.parse(kind, text)


def test_overrides_take_units_and_round_trip():
    s = systems.load("asic", ["memory.bandwidth=819GB/s", "levels.gbuf.capacity=1MiB",
                              "clock=2GHz"])
    assert (s.memory.bandwidth, s.level("gbuf").capacity, s.clock) == (819e9, 2**20, 2e9)
    assert s.sources["clock"] == "--set clock=2GHz"
    again = systems.from_dict(yaml.safe_load(s.to_yaml()), "round trip")
    assert again.model_dump() == s.model_dump()
    assert again.to_yaml() == s.to_yaml()
    assert again.sources == s.sources
    # the API takes a dict or a spec, and a dict override
    d = tokenfab.design("mac-array")
    spec = d.system(s)
    assert spec.clock_hz == 2e9 and spec.memory.bytes_per_s == 819e9
    assert d.system("asic", overrides={"clock": "2GHz"}).clock_hz == 2e9
    assert d.system(s.to_dict()).clock_hz == 2e9


@pytest.mark.parametrize("overrides,fragment", [
    (["levels.gbuf.capacity=1MB/s"],
     "levels.gbuf.capacity: must be a size such as 512KiB or 16GB, not '1MB/s'"),
    (["levels.l2.capacity=1MiB"], "no level 'l2' (levels: gbuf)"),
    (["memory.bandwdith=1GB/s"], "memory.bandwdith: unknown field; allowed: technology"),
    (["levels.gbuf.holds=[weights, cats]"], "levels.gbuf.holds[1]: must be"),
    (["clock=fast"], "clock: must be a frequency such as 1GHz, not 'fast'"),
    (["levels.gbuf.double_buffered=2"], "levels.gbuf.double_buffered: must be true or false"),
    (["template=tpu"], "template: must be"),
    (["clock"], "overrides takes PATH=VALUE"),
])
def test_bad_overrides_name_the_field(overrides, fragment):
    with pytest.raises(UsageError) as e:
        systems.load("asic", overrides)
    assert fragment in str(e.value)


def test_energy_written_in_a_file_needs_a_source(tmp_path):
    raw = yaml.safe_load((systems.HERE / "asic.yaml").read_text())
    raw["levels"][0]["read_energy"] = "0.5pJ"
    with pytest.raises(UsageError, match="levels.gbuf.read_energy: a value written in the "
                                         "file must carry its source"):
        systems.from_dict(raw)
    raw["levels"][0]["read_energy"] = {"value": "0.5pJ", "source": "my CACTI run"}
    assert systems.from_dict(raw).levels[0].read_energy == pytest.approx(0.5e-12, rel=1e-6, abs=0)


def test_a_users_file_runs_simulate_cost_and_breakdown(tmp_path):
    raw = yaml.safe_load((systems.HERE / "asic.yaml").read_text())
    raw["name"] = "mine"
    raw["levels"][0]["capacity"] = "256KiB"
    raw["memory"]["bandwidth"] = "64GB/s"
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    r = cli("simulate", "mac-array", "--system", str(path), "--prompt", "64", "--gen", "2",
            "--set", "clock=2GHz", "--json", "--breakdown")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["system"] == "mine" and out["memory_bytes_per_s"] == 64e9
    assert set(out["energy_by_level_j"]) == {"gbuf", "dram"}
    q = next(x for x in out["breakdown"] if x["op"] == "q" and x["phase"] == "prefill")
    assert q["mapping"].startswith("gbuf ") and "unit" in q["mapping"]
    assert any("overridden: clock=2GHz" in a for a in out["assumptions"])
    r = cli("cost", "mac-array", "--system", str(path), "--set", "node=7nm", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["node"] == "7nm"


@pytest.mark.parametrize("args,fragment", [
    (("simulate", "mac-array", "--set", "levels.gbuf.capacity=1MB/s"),
     "levels.gbuf.capacity: must be a size"),
    (("simulate", "sail", "--set", "levels.llc.capacity=1MB/s"),
     "levels.llc.capacity: must be a size"),
    (("simulate", "lut-tensor-core", "--system", "mixpe-paper"),
     "template 'mixpe-paper' is not one this design runs on"),
    (("simulate", "mac-array", "--system", "nope.yaml"), "'nope.yaml' does not exist"),
    (("simulate", "mac-array", "--system", "asci"), "(did you mean 'asic'?)"),
    (("list", "--systems", "asic", "--set", "clock=1"), None),
    (("simulate", "mac-array", "--set", "clock=1GHz", "--set", "clock=2GHz"), "given twice"),
])
def test_cli_refuses_bad_systems_in_one_line(tmp_path, args, fragment):
    r = cli(*args, cwd=tmp_path)
    if fragment is None:            # a valid override of a listed file
        assert r.returncode == 0, r.stderr
        return
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], r.stderr
    assert "Traceback" not in r.stderr and not list(tmp_path.iterdir())


def test_malformed_yaml_and_wrong_engine_design(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nclock: [1GHz\n")
    with pytest.raises(UsageError, match="is not valid YAML at line"):
        systems.load(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(UsageError, match="must be a mapping of fields"):
        systems.load(bad)
    with pytest.raises(UsageError, match="engines.design is 'mixpe'; it runs that design, "
                                         "not 'mac-array'"):
        tokenfab.design("mac-array").system("asic", overrides=["engines.design=mixpe"])


# ---------------------------------------------------------------- the mapper
GBUF = frozenset({"weights", "activations", "outputs"})


def _brute(problem, tiles, orders):
    """Fills and drains per (level, operand) by walking the loop nest: ``tiles`` from the
    buffer level to the unit, ``orders`` how each parent walks them. A level refetches an
    operand whenever the tile it needs differs from the one it holds."""
    full = (problem.m, problem.k, problem.n)
    dims = "mkn"
    rel = mapper.RELEVANT
    held = {}
    visits = {}
    moved = {}

    def tile_of(op, origin, tile):
        return tuple((origin[dims.index(d)], min(tile[dims.index(d)],
                                                 full[dims.index(d)] - origin[dims.index(d)]))
                     for d in rel[op])

    def touch(level, op, origin, tile):
        want = tile_of(op, origin, tile)
        if held.get((level, op)) == want:
            return
        size = 1
        for _, extent in want:
            size *= extent
        size *= problem.bytes_of(op)
        if op == "outputs":
            old = held.get((level, op))
            if old is not None:
                moved[(level, "drain")] = moved.get((level, "drain"), 0) + 1
            n = visits.get((level, want), 0)
            visits[(level, want)] = n + 1
            if n:                      # a partial sum comes back
                moved[(level, op)] = moved.get((level, op), 0) + size
        else:
            moved[(level, op)] = moved.get((level, op), 0) + size
        held[(level, op)] = want

    def walk(depth, origin, parent):
        if depth == len(tiles):
            return
        tile = tiles[depth]
        order = orders[depth]
        ranges = [range(origin[dims.index(d)], origin[dims.index(d)] + parent[dims.index(d)],
                        tile[dims.index(d)]) for d in order]
        for idx in itertools.product(*ranges):
            o = list(origin)
            for d, v in zip(order, idx):
                o[dims.index(d)] = v
            ext = tuple(min(tile[i], origin[i] + parent[i] - o[i]) for i in range(3))
            for op in ("activations", "weights", "outputs"):
                touch(depth, op, tuple(o), tile)
            walk(depth + 1, tuple(o), ext)

    walk(0, (0, 0, 0), full)
    return moved


@pytest.mark.parametrize("shape,gbuf,unit,orders", [
    ((6, 10, 12), (4, 4, 8), (2, 2, 4), ("mkn", "mnk")),
    ((6, 10, 12), (4, 4, 8), (2, 2, 4), ("knm", "mnk")),
    ((5, 9, 7), (2, 9, 4), (1, 3, 2), ("nmk", "kmn")),
    ((8, 8, 8), (8, 4, 2), (2, 2, 2), ("kmn", "nkm")),
])
def test_fetch_model_matches_a_walk_of_the_loop_nest(shape, gbuf, unit, orders):
    """The analytic refetch count (Timeloop's reasoning) against an explicit walk of the
    same nest, ragged edges included: every operand's fills at the buffer exactly. At the
    unit the walk also keeps a tile across the boundary of two buffer tiles when the
    last tile of one is the first of the next; the model does not (it is never below
    the walk, and within 5% on these nests)."""
    m, k, n = shape
    p = mapper.Problem(m, k, n, 1, (1.0, 2.0, 1.0), 1.0, False)
    lv = (mapper.LevelSpec("gbuf", 1e12, GBUF, False, 1e9),)
    nest = mapper._Nest(p, mapper.tiers(lv), unit, orders[1], (), [1e9, 1e9], [1, 1])
    traffic = nest.traffic([gbuf, unit], [orders[0], orders[1]])
    walked = _brute(p, [gbuf, unit], list(orders))
    fills = traffic[(0, "gbuf")][2]
    expect = sum(walked.get((0, op), 0) for op in ("activations", "weights", "outputs"))
    assert fills == pytest.approx(expect)
    # what the unit reads from the buffer: its fills of every operand
    reads_by_unit = traffic[(0, "gbuf")][0] - traffic[(0, "gbuf")][3]
    expect_unit = sum(walked.get((1, op), 0) for op in ("activations", "weights", "outputs"))
    assert expect_unit * (1 - 1e-12) <= reads_by_unit <= 1.05 * expect_unit


def _gate(cap):
    lv = (mapper.LevelSpec("gbuf", cap, GBUF, True, 2048e9),)
    p = mapper.Problem(2048, 4096, 11008, 1, (1.0, 0.25, 1.0), 4.0, True)
    return p, lv, mapper.map_gemm(p, lv, (2, 4, 64), "mnk", 128e9, 0.02, units=16)


def test_dram_traffic_responds_to_capacity():
    """The issue's example: llama-2-7b's prefill gate GEMM (2048 x 4096 x 11008, 2-bit
    weights, INT8 activations) moves several times more DRAM bytes with a 64 KiB buffer
    than with 4 MiB, and only the weights once a buffer holds the activations whole."""
    moved = {cap: _gate(cap)[2].dram_bytes for cap in (64 * 1024, 2**20, 4 * 2**20, 2**26)}
    assert moved[64 * 1024] > 3 * moved[4 * 2**20]
    assert moved[64 * 1024] > moved[2**20] > moved[4 * 2**20] > moved[2**26]
    p, _, big = _gate(2**26)
    assert big.resident == ("activations", "outputs")
    assert big.dram_bytes == pytest.approx(4096 * 11008 * 0.25)


def test_mappings_respect_capacity_and_the_lower_bound():
    rng = random.Random(5)
    for _ in range(40):
        m, k, n = (rng.choice([1, 3, 16, 100, 512, 2048]) for _ in range(3))
        cap = rng.choice([16 * 1024, 256 * 1024, 4 * 2**20])
        lv = (mapper.LevelSpec("gbuf", cap, GBUF, rng.random() < 0.5, 1e12),)
        p = mapper.Problem(m, k, n, 1, (1.0, 0.5, 2.0), 4.0, rng.random() < 0.5)
        try:
            mp = mapper.map_gemm(p, lv, (2, 4, 8), "mnk", 1e11, 1e-3, units=4)
        except UsageError as exc:
            assert "cannot hold one tile" in str(exc)
            continue
        for level in mp.levels[:-1]:
            assert level.footprint <= cap
        floor = mapper.trivial_bytes(p) - sum(p.size(o) * p.bytes_of(o) for o in mp.resident)
        assert mp.dram_bytes >= floor * (1 - 1e-12)


def test_a_level_too_small_for_one_tile_is_refused():
    lv = (mapper.LevelSpec("gbuf", 64, GBUF, True, 1e12),)
    p = mapper.Problem(64, 64, 64, 1, (1.0, 1.0, 1.0), 4.0, False)
    with pytest.raises(UsageError, match="level gbuf .* cannot hold one tile of a "
                                         "64x64x64 GEMM"):
        mapper.map_gemm(p, lv, (2, 4, 64), "mnk", 1e11, 1e-3, units=1)


def test_a_hierarchy_too_small_names_the_operation():
    with pytest.raises(UsageError, match=r"system asic: q of layer 0 \(64 x 4096 x 4096\): "
                                         r"level gbuf .* cannot hold one tile"):
        tokenfab.design("mac-array").simulate(prompt=64, gen=1,
                                              overrides=["levels.gbuf.capacity=64B"])


FILE_RUNS = [("lut-tensor-core", "asic"), ("lut-tensor-core", "a100"), ("mac-array", "asic"),
             ("mac-array", "a100"), ("systolic-array", "asic"),
             ("systolic-array", "mixpe-paper"), ("mixpe", "asic"), ("mixpe", "mixpe-paper")]


@pytest.mark.parametrize("design,system", FILE_RUNS)
@pytest.mark.parametrize("batch", [1, 8])
def test_every_design_runs_on_every_file_it_takes(design, system, batch):
    """Decode at batch 1 and 8 and a prefill, on each shipped file a design runs on:
    the rows add up, every mapped GEMM has a mapping, and DRAM moves at least the
    weights once per pass."""
    kw = {"dtype": "fp16"} if (design, system) == ("systolic-array", "mixpe-paper") else {}
    r = tokenfab.design(design, **kw).simulate(model="llama-2-7b", batch=batch, prompt=32,
                                               gen=2, system=system)
    for ph in r.run.phases:
        assert sum(x.time_s for x in ph.rows) == pytest.approx(ph.seconds)
        linear = [x for x in ph.rows if x.op in ("q", "gate", "down", "lm_head")]
        assert linear and all(x.mapping for x in linear)
    assert r.to_dict()["energy_by_level_j"]["dram"] > 0


def test_random_hierarchies_map_or_refuse():
    """Random capacities, widths and operand splits on the asic file: every run either
    maps every GEMM within capacity or refuses with the level named."""
    rng = random.Random(11)
    d = tokenfab.design("mac-array")
    for _ in range(12):
        holds = rng.choice([["weights", "activations", "outputs"],
                            ["weights"], ["activations", "outputs"]])
        levels = [{"name": "a", "kind": "sram", "capacity": rng.choice(
                      ["2KiB", "64KiB", "1MiB", "64MiB"]), "holds": holds,
                   "double_buffered": rng.random() < 0.5}]
        rest = [o for o in ("weights", "activations", "outputs") if o not in holds]
        if rest:
            levels.append({"name": "b", "kind": "sram", "capacity": rng.choice(
                ["4KiB", "256KiB", "8MiB"]), "holds": rest})
        try:
            r = d.simulate(prompt=rng.choice([1, 48, 300]), gen=1, batch=rng.choice([1, 3]),
                           overrides={"levels": levels})
        except UsageError as exc:
            assert "cannot hold one tile" in str(exc)
            continue
        assert r.to_dict()["energy_by_level_j"]["dram"] > 0


def test_trivial_mapping_keeps_the_old_model_on_decode():
    """Where everything fits (a decode step on the asic file) the mapped system gives the
    unit formula's cycles and the weights once from DRAM: what the model gave before it
    had a hierarchy."""
    d = tokenfab.design("lut-tensor-core")
    spec = d.system()
    cfg = load_model("llama-2-7b")
    for op in decode_ops(cfg, batch=1, kv_len=600):
        if not isinstance(op, Linear):
            continue
        c = op_cost(spec, op)
        m, n, k = spec.tile
        tiles = gemm_tiles(op.m, op.n, op.k, m, n, k) * op.count
        cycles = sequence_cycles(-(-tiles // spec.units), spec.cycles_per_tile)
        assert c.unit_s == cycles / spec.clock_hz
        assert c.dram_bytes == op.weight_elems * spec.weight_bits / 8


def test_the_energy_objective_moves_no_more_dram_bytes():
    d = tokenfab.design("mac-array")
    lat = d.simulate(prompt=1024, gen=1, overrides=["levels.gbuf.capacity=256KiB"])
    eng = d.simulate(prompt=1024, gen=1, overrides=["levels.gbuf.capacity=256KiB",
                                                    "mapper.objective=energy"])
    dram = [r.to_dict()["energy_by_level_j"]["dram"] for r in (lat, eng)]
    assert dram[1] <= dram[0] * (1 + 1e-9)
    assert eng.to_dict()["ttft_s"] >= lat.to_dict()["ttft_s"] * (1 - 1e-9)
    with pytest.raises(UsageError, match="mapper.objective: must be 'latency', 'energy' or "
                                         "'edp'"):
        d.system(overrides=["mapper.objective=power"])


@pytest.mark.parametrize("M,K,N,kib", [(2048, 4096, 11008, 256), (1, 4096, 4096, 64)])
def test_the_edp_objective_minimises_the_product(M, K, N, kib):
    """On these GEMMs the EDP mapping's latency x weighted bytes is no larger than the
    latency mapping's or the energy mapping's (the search is a heuristic: this is a
    check on two shapes, not a proof; on the first the energy search itself lands 2.5%
    above the latency mapping's bytes)."""
    gb = frozenset({"weights", "activations", "outputs"})
    p = mapper.Problem(M, K, N, 1, (1.0, 0.5, 2.0), 4.0, False)
    lv = (mapper.LevelSpec("rf", 8192, frozenset({"outputs"}), False, 512e9),
          mapper.LevelSpec("gbuf", kib * 1024, gb, True, 256e9))
    dram, comp = 50e9, 2 * M * K * N / 1e13
    product = {}
    for obj in ("latency", "energy", "edp"):
        mp = mapper.map_gemm(p, lv, (16, 16, 16), "mnk", dram, comp, obj, units=4)
        lat = max([comp, mp.dram_bytes / dram, *mp.boundary_s.values()])
        product[obj] = lat * mp.score[1]
    assert product["edp"] <= min(product.values()) * (1 + 1e-9)
    r = tokenfab.design("mac-array").simulate(prompt=64, gen=1,
                                              overrides=["mapper.objective=edp"])
    assert r.to_dict()["ttft_s"] > 0


def test_memory_latency_is_paid_once_per_operation_that_reads_dram():
    d = tokenfab.design("mac-array")
    base = d.simulate(prompt=16, gen=1)
    slow = d.simulate(prompt=16, gen=1, overrides=["memory.latency=1us"])
    ops = [r for r in base.run.decode.rows if r.dram_bytes]
    extra = slow.to_dict()["decode_latency_s"] - base.to_dict()["decode_latency_s"]
    # each DRAM-reading op waits 1 us before its first fill; where compute hides part
    # of it the step grows by less, never by more
    assert 0.5 * len(ops) * 1e-6 <= extra <= len(ops) * 1e-6 * (1 + 1e-9)


def test_shrinking_the_buffer_raises_traffic_and_time():
    d = tokenfab.design("mac-array")
    runs = {cap: d.simulate(prompt=1024, gen=1, overrides=[f"levels.gbuf.capacity={cap}"])
            for cap in ("32KiB", "4MiB")}
    small, big = (runs[c].to_dict() for c in ("32KiB", "4MiB"))
    assert small["energy_by_level_j"]["dram"] > 2 * big["energy_by_level_j"]["dram"]
    assert small["ttft_s"] > big["ttft_s"]
    rows = runs["32KiB"].breakdown
    gate = rows[(rows.op == "gate") & (rows.phase == "prefill")].iloc[0]
    assert gate.bound in ("memory", "gbuf") and gate.stall_s > 0


def test_sweep_takes_a_system_field_as_an_axis(tmp_path):
    df = tokenfab.sweep({"sweep": {"levels": ["simulate"]},
                         "design": [{"name": "mac-array",
                                     "axes": {"system.levels.gbuf.capacity":
                                              ["64KiB", "4MiB"]}}],
                         "workload": [{"prompt": 128, "gen": 2}]},
                        out=tmp_path / "sw", workers=None)
    assert list(df["s.levels.gbuf.capacity"]) == ["64KiB", "4MiB"]
    dram = df["simulate.energy_by_level_j.dram"].tolist()
    assert dram[0] > dram[1]
    assert "value: 64KiB" in df["system_spec"].iloc[0]
    with pytest.raises(UsageError, match="levels.gbuf.capacity: must be a size"):
        tokenfab.sweep({"design": [{"name": "mac-array",
                                    "axes": {"system.levels.gbuf.capacity": ["1MB/s"]}}]},
                       out=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


# ---------------------------------------------------------------- attention on the hierarchy
def test_attention_query_block_by_hand():
    """FlashAttention-2 tiling on a 256 KiB double-buffered level, d = 128, FP16 Q, K, V
    and FP32 accumulators: two K/V blocks of 64 keys take 2 x 64 x 256 x 2 = 65,536
    bytes; a query row takes 128 x 2 + 128 x 4 + 64 x 4 = 1,024; so 192 rows, and 1,000
    query rows read the K/V cache ceil(1000 / 192) = 6 times."""
    lv = mapper.LevelSpec("gbuf", 256 * 1024, frozenset({"activations"}), True, 1e12)
    mp = mapper.map_attention(1000, 4096, 128, 128, 2.0, 2.0, 4.0, lv)
    assert (mp.block_rows, mp.block_keys, mp.passes) == (192, 64, 6)
    # 64 KiB: blocks of 32 keys leave room for 32 rows (65,536 - 32,768) / 896 = 36
    small = mapper.map_attention(1000, 4096, 128, 128, 2.0, 2.0, 4.0,
                                 dataclasses.replace(lv, capacity=65536))
    assert (small.block_keys, small.block_rows) == (32, 36)
    with pytest.raises(UsageError, match="cannot hold one query row"):
        mapper.map_attention(1000, 4096, 128, 128, 2.0, 2.0, 4.0,
                             dataclasses.replace(lv, capacity=1024))


def test_causal_query_blocks_read_the_keys_up_to_their_end():
    """8 new tokens against 8 keys, blocks of 2 queries: the blocks read 2, 4, 6 and 8
    keys, 2.5 reads of the cache."""
    from tokenfab.arch_models.common.system import map_attention
    from tokenfab.arch_models.workloads import Attention
    # INT8 Q, K, V on the asic file: two K/V blocks of 8 keys (4,096 bytes) and two
    # query rows of 128 + 512 + 32 = 672 bytes
    spec = tokenfab.design("mac-array").system(overrides=["levels.gbuf.capacity=5500"])
    op = Attention("attention", 0, 1, 1, 1, 8, 8, 128, 128, 256)
    mp = map_attention(spec, op)
    assert mp.block_rows == 2 and mp.passes == pytest.approx((2 + 4 + 6 + 8) / 8)
    assert map_attention(dataclasses.replace(spec, materialize_scores=True), op) is None


def test_a_smaller_buffer_reads_the_kv_cache_more_often():
    """Where the query block fits whole (4 MiB, a 2K llama-2-7b prompt) attention reads
    the K/V cache once, as before; an 8K llama-3-8b prompt on smaller buffers reads it
    several times (FlashAttention's IO grows as N^2 d^2 / M) and the breakdown says so."""
    d = tokenfab.design("mac-array")
    r = d.simulate(model="llama-2-7b", prompt=2048, gen=1).breakdown
    att = r[(r.op == "attention") & (r.phase == "prefill")].iloc[0]
    assert "K/V read 1x" in att["mapping"]
    moved = []
    for cap in ("4MiB", "256KiB"):
        b = d.simulate(model="llama-3-8b", prompt=8000, gen=1,
                       overrides={"levels.gbuf.capacity": cap}).breakdown
        a = b[(b.op == "attention") & (b.phase == "prefill")].iloc[0]
        moved.append(a["dram_bytes"])
    assert moved[1] > 5 * moved[0]


@pytest.mark.parametrize("design", ["hnlpu", "tellme", "sail", "mac-array"])
def test_cost_takes_the_systems_overrides_on_every_design(design):
    """`cost D --set ...` reaches the run: HNLPU, TeLLMe and SAIL, whose cost packages
    build their own result, dropped the overrides before (the same tokens/J either way)."""
    d = tokenfab.design(design)
    assert d.cost(overrides=["clock=0.5GHz"]).tokens_per_j != d.cost().tokens_per_j


def test_the_level_figures_a_file_gives_are_used_or_refused():
    """A level's read_energy, write_energy and area are the file's own figures: HNLPU's
    attention buffer takes all three (and its bank size from the file, not a constant),
    SAIL's LLC slice its read energy, TeLLMe's URAM and BRAM their energies; a figure a
    model would not read is refused naming the level, rather than ignored."""
    kw = dict(model="gpt-oss-120b", batch=216, prompt=2048, gen=1)
    hnlpu = tokenfab.design("hnlpu")
    r = hnlpu.simulate(**kw, overrides=["levels.attention_buffer.read_energy=1pJ",
                                        "levels.attention_buffer.write_energy=3pJ"])
    assert r.pricing.per_event["kv_buffer_read_bits"].value == pytest.approx(1e-12 / 8)
    assert r.pricing.per_event["kv_buffer_write_bits"].value == pytest.approx(3e-12 / 8)
    from tokenfab.cost_models import energy
    half = hnlpu.simulate(**kw, overrides=["levels.attention_buffer.capacity=8KB",
                                           "levels.attention_buffer.instances=40000"])
    assert half.pricing.per_event["kv_buffer_read_bits"].value == pytest.approx(
        energy.sram_energy_per_bit(8e3, 5), rel=1e-12)
    c = hnlpu.cost(overrides=["levels.attention_buffer.area=2000um2"])
    assert c.area_breakdown_mm2["attention_buffer"] == pytest.approx(20000 * 2000e-6)
    sail = tokenfab.design("sail").simulate(model="bitnet-b1.58-large", prompt=8, gen=2,
                                            overrides=["levels.llc.read_energy=3pJ"])
    line = sail.pricing.per_event["slice_line_accesses"].value
    from tokenfab.cost_models.sail import LINE_BITS
    assert line == pytest.approx(LINE_BITS / 8 * 3e-12)
    for design, figure in [("sail", "levels.llc.area=1mm2"),
                           ("sail", "levels.llc.write_energy=1pJ"),
                           ("tellme", "levels.uram.area=1mm2"),
                           ("tellme", "levels.bram.area=1mm2")]:
        level, name = figure.split("=")[0].split(".")[1:]
        with pytest.raises(UsageError, match=f"level {level}'s {name} is not used by the "
                                             f"{design} model"):
            tokenfab.design(design).simulate(model="bitnet-b1.58-large", prompt=8, gen=2,
                                             overrides=[figure])


@pytest.mark.parametrize("design,override,fragment", [
    ("tellme", "mapper.objective=energy", "mapper.objective is 'energy', which the tellme "
                                          "model does not read"),
    ("tellme", "memory.efficiency=0.5", "memory.efficiency is 0.5, which the tellme model"),
    ("tellme", "engines.count=2", "engines.count is 2, which the tellme model"),
    ("sail", "kernels.efficiency=0.5", "kernels.efficiency is 0.5, which the sail model"),
    ("sail", "memory.latency=100ns", "memory.latency is 1e-07, which the sail model"),
    ("hnlpu", "vector_unit.efficiency=0.5", "vector_unit.efficiency is 0.5, which the hnlpu"),
    ("hnlpu", "memory.technology=lpddr5", "the HNLPU model prices HBM3-class stacks"),
    ("sail", "levels.llc.double_buffered=false", "level llc's double_buffered is false, "
                                                 "which the sail model does not read"),
])
def test_a_field_a_design_does_not_read_is_refused(design, override, fragment):
    """TeLLMe, SAIL and HNLPU time their work with their own models: the mapper's and the
    kernels' settings and the fields they do not use are refused, not ignored (each ran
    unchanged with them before)."""
    with pytest.raises(UsageError, match=fragment):
        tokenfab.design(design).simulate(model="bitnet-b1.58-large", prompt=8, gen=2,
                                         overrides=[override])


def test_tellme_and_sail_price_the_memory_their_file_names():
    """memory.technology is read (both priced DDR4 whatever the file said): TeLLMe's DDR
    bytes and SAIL's DRAM bytes take LPDDR5's energy, and TeLLMe's static draw is fitted
    again so its decode still draws 4.8 W."""
    from tokenfab.cost_models import energy
    lp = energy.dram_price("lpddr5").value
    t = tokenfab.design("tellme").simulate(model="bitnet-b1.58-large", prompt=64, gen=128,
                                           overrides=["memory.technology=lpddr5"])
    assert t.pricing.per_event["ddr_bytes"].value == lp != energy.dram_price("ddr4").value
    assert t.to_dict()["system_power_w"] == pytest.approx(4.8, rel=1e-9)
    s = tokenfab.design("sail").simulate(model="bitnet-b1.58-large", prompt=8, gen=2,
                                         overrides=["memory.technology=lpddr5"])
    assert s.pricing.per_event["dram_bytes"].value == lp
