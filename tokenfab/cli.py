"""The ``tokenfab`` command line. Errors in the user's input exit 2 with one line."""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys

from tokenfab import display
from tokenfab.errors import ToolError, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message):          # one line, exit 2 (argparse prints usage + error)
        import re
        from tokenfab.params import did_you_mean
        bad = re.match(r"argument command: invalid choice: '([^']*)' \(choose from (.*)\)",
                       message)
        if bad:                        # a mistyped subcommand: suggest the near one
            commands = [c.strip(" '") for c in bad.group(2).split(",")]
            message = (f"command must be one of {', '.join(commands)}, not "
                       f"{bad.group(1)!r}{did_you_mean(bad.group(1), commands)}")
        raise UsageError(message)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown once: not where the help already says it, nor when there is none."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default in (None, False) or \
                action.default is argparse.SUPPRESS:
            return text
        return super()._get_help_string(action)


def _choice(label: str, choices):
    """An argparse ``type`` that checks a closed set and suggests a near miss; the
    choices show in ``--help`` through the argument's ``metavar``."""
    from tokenfab.params import check_choice

    def convert(text):
        if label == "node" and text.strip().isdigit():
            text = text.strip() + "nm"
        try:
            check_choice(label, text, choices)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text
    return convert


def _closed_sets() -> dict:
    from tokenfab.cost_models import die, tech
    from tokenfab.fpga.flow import TARGETS
    from tokenfab.sim.runner import SIMULATORS
    return {"target": tuple(TARGETS), "simulator": SIMULATORS,
            "yield model": die.YIELD_MODELS,
            "node": tuple(f"{n}nm" for n in tech.nodes())}


def _progress(enabled: bool):
    """One updating line on a terminal; nothing when stderr is not a terminal."""
    if not enabled or not sys.stderr.isatty():
        return None

    def say(msg):
        width = shutil.get_terminal_size((100, 20)).columns - 1
        print(f"\r\033[K  .. {msg}"[:width + 8], end="", file=sys.stderr, flush=True)
    return say


def _done_progress(enabled: bool) -> None:
    if enabled and sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr, flush=True)


def _json_safe(obj):
    """Strict JSON: NaN and infinities become null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def _print_json(obj) -> None:
    """Every --json output: one strict JSON document."""
    print(json.dumps(_json_safe(obj), default=str, allow_nan=False))


def _emit(args, obj: dict, rows=None) -> None:
    if args.json:
        _print_json(obj)
    elif not args.quiet:
        print(display.table(rows) if rows is not None else display.nested(obj))


def _design(args):
    from tokenfab import api
    from tokenfab.params import parse_assignments
    from tokenfab.registry import get
    entry = get(args.design)
    return api.Design(args.design, **parse_assignments(entry.Params, args.param))


def _list_systems(args):
    from tokenfab import api
    from tokenfab.arch_models import systems
    if args.systems is True:
        names = systems.preset_names()
        if args.json:
            _print_json(names)
            return
        for n in names:
            s = systems.load(n)
            print(f"{n:<14} {s.template:<12} {s.description}")
        print(f"\n(designs that take these files: {', '.join(api.file_designs())}; "
              "--system PATH takes your own, --set PATH=VALUE changes a field)")
        return
    spec = systems.load(args.systems, args.set)
    if args.json:
        _print_json({"name": spec.name, "spec": spec.model_dump(),
                     "sources": spec.sources, "yaml": spec.to_yaml()})
        return
    print(f"{spec.name}: {spec.description}  [{spec.origin}]")
    rows = spec.fields()
    w = max(len(p) for p, _, _ in rows)
    for path, value, source in rows:
        print(f"  {path:<{w}}  {value!s:<14} {source}")


def cmd_list(args):
    if args.systems is not None:
        if args.design is not None or args.models or args.calibrations:
            raise UsageError("list takes a design, --models, --calibrations or --systems, "
                             "one at a time")
        return _list_systems(args)
    if args.set:
        raise UsageError("--set on list goes with --systems NAME")
    if args.design is not None and (args.models or args.calibrations):
        raise UsageError(f"list takes a design, --models or --calibrations, not both "
                         f"(got {args.design!r} with "
                         f"{'--models' if args.models else '--calibrations'})")
    if args.calibrations:
        from tokenfab.calibration import all_calibrations
        cals = [c.to_dict() for c in all_calibrations()]
        if args.json:
            _print_json(cals)
        else:
            for c in cals:
                print(f"{c['name']} = {c['value']:.6g}\n    fitted to: {c['fitted_to']}\n"
                      f"    drives: {c['drives']}")
        return
    if args.models:
        from tokenfab.arch_models.workloads import load_model, shipped_models
        names = shipped_models()
        if args.json:
            _print_json(names)
            return
        print(f"{'model':<22}{'params':>10}{'layers':>8}{'hidden':>8}{'context':>9}  kind")
        for n in names:
            c = load_model(n)
            kind = ("MoE " if c.experts else "dense ") + ("MLA" if c.mla else (
                "GQA" if c.kv_heads < c.heads else "MHA"))
            print(f"{n:<22}{c.linear_params() / 1e9:>9.2f}B{c.layers:>8}{c.hidden:>8}"
                  f"{c.max_positions or '-':>9}  {kind}")
        return
    if args.design:
        from tokenfab.params import describe
        from tokenfab.registry import get
        entry = get(args.design)
        rows = describe(entry.Params)
        if args.json:
            _print_json({"name": entry.name, "title": entry.title, "paper": entry.paper,
                         "params": rows})
            return
        print(f"{entry.name}: {entry.title}\npaper: {entry.paper}\n")
        w = max(len(r["name"]) for r in rows)
        for r in rows:
            print(f"  {r['name']:<{w}}  default {r['default']!s:<8} {r['allowed']:<22} "
                  f"{r['help']}")
        return
    from tokenfab.api import designs
    ds = designs()
    if args.json:
        _print_json([{k: d[k] for k in ("name", "title", "params", "paper")} for d in ds])
        return
    for d in ds:
        print(f"{d['name']:<16} {d['title']}\n{'':<16} paper: {d['paper']}")
        print(f"{'':<16} params: " + " ".join(f"{k}={v}" for k, v in d["params"].items()))
    from tokenfab.engines import ENGINES
    print("\nengines (tokenfab engine NAME: a whole layer through AXI DRAM):")
    for e in ENGINES.values():
        print(f"{e.name:<16} {e.title}\n{'':<16} params: " + " ".join(
            f"{k}={v}" for k, v in e.Params().to_dict().items()))


def cmd_rtl(args):
    d = _design(args)
    path = d.verilog(args.output, prefix=args.prefix, force=args.force)
    module = path.stem
    files = {k: str(path.parent / v) for k, v in (
        ("verilog", f"{module}.v"), ("manifest", f"{module}.manifest.json"),
        ("template", f"{module}_inst.v"), ("params_header", f"{module}_params.vh"),
        ("verilator_config", f"{module}.vlt"), ("filelist", f"{module}.f"),
        ("fusesoc_core", f"{module}.core"))}
    obj = {"design": d.name, "params": d.params.to_dict(), "top": module, **files}
    _emit(args, obj)


def cmd_verify(args):
    d = _design(args)
    show = not (args.json or args.quiet)
    # a format named implies a waveform
    waves = (True if args.waves_format == "auto" else args.waves_format) \
        if args.waves or args.waves_format != "auto" else False
    r = d.verify(vectors=args.vectors, simulator=args.simulator, seed=args.seed,
                 waves=waves, work_dir=args.work_dir, progress=_progress(show))
    _done_progress(show)
    obj = r.to_dict()
    _emit(args, obj, [("design", r.design), ("simulator", r.simulator),
                      ("vectors (tiles)", r.vectors), ("outputs checked", r.outputs),
                      ("mismatches", r.mismatches), ("rtl_cycles", r.rtl_cycles),
                      ("model_cycles", r.model_cycles), ("passed", r.passed)]
          + [(f"wrote {k}", v) for k, v in r.files.items()])
    if not r.passed:
        sys.exit(1)


def cmd_engine(args):
    from tokenfab.engines import Engine, get
    from tokenfab.params import parse_assignments
    entry = get(args.design)
    given = parse_assignments(entry.Params, args.param)
    if args.system is not None:
        eng = Engine.from_system(args.design, args.system, args.set or (), **given)
    elif args.set:
        raise UsageError("--set changes a system's fields: give --system too")
    else:
        eng = Engine(args.design, **given)
    shape = _ints(args.shape, 3, f"--shape takes 3 comma-separated integers, not "
                                 f"{args.shape!r}")
    mapping = (None if args.mapping == "best" else
               dict(zip(("mt", "nt", "kt", "order"), _ints(
                   args.mapping, 4, f"--mapping takes 4 comma-separated integers or best, "
                                    f"not {args.mapping!r}"))))
    show = not (args.json or args.quiet)
    sized, sized_lines = {}, []
    if eng.sizing is not None:
        z, p = eng.sizing, eng.params
        sized = {"system": z.to_dict()}
        sized_lines = [("system", z.system),
                       ("buffers (per bank)", f"buf_m={p.buf_m} buf_n={p.buf_n} "
                                              f"buf_k={p.buf_k}, units={p.units}, "
                                              f"{p.data_bits}-bit AXI")]
        sized_lines += [(f"{op} buffer", f"{z.used[op]:,} B of {z.rooms[op][1]:,.0f} B in "
                                         f"{z.rooms[op][0]}") for op in z.used]
    if args.cost:
        c = eng.cost(*shape, mapping, node=args.node, latency=args.latency,
                     interval=args.interval)
        obj = {**c.to_dict(), **sized}
        _emit(args, obj, sized_lines + [("engine", args.design), ("node", c.node),
                          ("layer M x K x N", "x".join(map(str, shape))),
                          ("cycles (model)", c.cycles), ("area_mm2", c.area_mm2)]
              + [(f"area {k}", v) for k, v in c.blocks_mm2.items()]
              + [(f"energy {k} (J)", v) for k, v in c.energy_j.items()]
              + [("energy_per_mac_j", c.energy_per_mac_j), ("power_w", obj["power_w"])])
        return
    if args.rtl:
        path = eng.rtl(args.rtl)
        _emit(args, {"engine": args.design, "verilog": str(path),
                     "manifest": str(path.with_suffix(".manifest.json"))},
              [("engine", args.design), ("verilog", str(path))])
        return
    if args.fpga:
        r = eng.fpga(args.fpga, progress=_progress(show))
        _done_progress(show)
        obj = r.to_dict()
        _emit(args, obj, [(k, obj[k]) for k in ("design", "target", "luts", "ffs", "dsps",
                                               "brams", "fmax_mhz")])
        return
    r = eng.run_layer(*shape, mapping, latency=args.latency,
                      interval=args.interval, random_stalls=args.random_stalls,
                      seed=args.seed, dram=args.dram, work_dir=args.work_dir)
    obj = {**r.to_dict(), **sized}
    mp = r.mapping
    _emit(args, obj, sized_lines + [
                      ("engine", r.engine), ("layer M x K x N", "x".join(map(str, shape))),
                      ("mapping", f"mt={mp['mt']} nt={mp['nt']} kt={mp['kt']} "
                                  f"order={mp['order']}" + (" (the engine's mapper)"
                                                            if mapping is None else "")),
                      ("memory", "cocotbext-axi AxiRam, random pauses" if r.dram != "rtl"
                       else f"latency {r.latency}, a beat every {r.interval} cycles"
                       + (" (random stalls)" if r.random_stalls else "")),
                      ("outputs checked", r.outputs), ("mismatches", r.mismatches),
                      ("rtl_cycles", r.rtl_cycles), ("model_cycles", r.model_cycles),
                      ("sim_cycles_per_s", round(r.sim_cycles_per_s)),
                      ("passed", r.passed)])
    if not r.passed:
        sys.exit(1)


def _ints(text: str, n: int, error: str) -> list[int]:
    """``n`` comma-separated integers, or a ``UsageError`` saying ``error``."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != n:
        raise UsageError(error)
    return values


def cmd_simulate(args):
    d = _design(args)
    show = not (args.json or args.quiet)
    r = d.simulate(model=args.model, batch=args.batch, prompt=args.prompt, gen=args.gen,
                   system=args.system, progress=_progress(show),
                   trace=bool(args.trace), extend_context=args.extend_context,
                   allow_spill=args.allow_spill, overrides=args.set)
    _done_progress(show)
    obj = r.to_dict()
    written = {}
    if args.csv:
        written["csv"] = str(r.write_breakdown(args.csv, "csv"))
    if args.parquet:
        written["parquet"] = str(r.write_breakdown(args.parquet, "parquet"))
    if args.trace:
        written["trace"] = str(r.write_trace(args.trace))
    if args.breakdown:
        obj["breakdown"] = r.breakdown_rows()
    obj["files"] = written
    if args.json or args.quiet:
        _emit(args, obj)
        return
    keys = ["design", "model", "system", "chips", "batch", "prompt", "gen", "ttft_s",
            "prefill_tokens_per_s", "decode_tokens_per_s", "decode_latency_s",
            "prefill_energy_j", "decode_energy_j", "tokens_per_j", "prefill_tokens_per_j",
            "chip_power_w", "system_power_w", "peak_ops_per_s", "memory_bytes_per_s",
            "memory_capacity_bytes", "area_mm2"]
    # a phase that did not run has no rate: n/a, not 0
    skipped = ("decode_tokens_per_s", "decode_latency_s", "decode_energy_j") \
        if not obj["gen"] else ()
    rows = [(k, "n/a (gen 0: no decode)" if k in skipped else obj[k]) for k in keys]
    rows += [(f"energy_{k}_j", v) for k, v in obj["energy_by_category_j"].items()]
    rows += [(f"energy_level_{k}_j", v) for k, v in obj["energy_by_level_j"].items()]
    rows += [(f"bound ({ph})", b) for ph, b in obj["bound"].items()]
    rows += [("system is", obj["system_description"])]
    for k, v in r.companions.items():         # a design's own comparisons (SAIL)
        if isinstance(v, dict) and "decode_tokens_per_s" in v:
            rows.append((f"{k} decode_tokens_per_s", v["decode_tokens_per_s"]))
        elif not isinstance(v, (dict, list)):
            rows.append((k, v))
    print(display.table(rows))
    for line in obj["assumptions"]:
        print(f"assumes: {line}")
    for c in obj["calibrations"]:
        print(f"calibrated: {c['name']} = {c['value']:.6g} ({c['fitted_to']})")
    if args.breakdown:
        print(_breakdown_table(r.breakdown))
    for kind, path in written.items():
        print(f"wrote {kind}: {path}")


def _breakdown_table(df) -> str:
    cols = ["phase", "layer", "op", "engine", "count", "macs", "compute_s", "dram_bytes",
            "time_s", "stall_s", "compute_j", "dram_j", "energy_j", "bound"]
    levels = [c for c in df.columns if c.startswith("level_") and c != "level_dram_j"]
    table = df[cols + levels].to_string(index=False, float_format=lambda v: f"{v:.4g}")
    maps = df[df["mapping"] != ""][["phase", "layer", "op", "macs_per_dram_byte", "mapping"]]
    if len(maps):
        table += ("\nmappings (tile m x k x n per level, outermost first, and the loop "
                  "order its parent walks them in):\n"
                  + maps.to_string(index=False))
    return table


def cmd_gemm(args):
    M, K, N = _ints(args.shape, 3,
                    f"shape must be three integers M,K,N, not {args.shape!r}")
    d = _design(args)
    out = d.gemm(M, K, N, sram=args.sram, bandwidth=args.bandwidth, drain=args.drain).to_dict()
    rows = [(k, v) for k, v in out.items() if not isinstance(v, (dict, list))]
    for k, v in out.get("memory", {}).items():     # the memory system's figures
        if isinstance(v, dict):
            rows += [(f"{k}.{op}", x) for op, x in v.items()]
        elif not isinstance(v, list):
            rows.append((k, v))
    _emit(args, out, rows)


def cmd_fpga(args):
    d = _design(args)
    show = not (args.json or args.quiet)
    r = d.fpga(target=args.target, dsp=not args.no_dsp, place=not args.no_place,
               work_dir=args.work_dir, progress=_progress(show), timeout=args.timeout)
    _done_progress(show)
    obj = r.to_dict()
    keys = ["design", "target", "luts", "ffs", "dsps", "brams", "urams", "fmax_mhz"]
    _emit(args, obj, [(k, obj[k]) for k in keys]
          + [(f"wrote {k}", v) for k, v in r.files.items()])


def cmd_asic(args):
    d = _design(args)
    show = not (args.json or args.quiet)
    r = d.asic(liberty=args.liberty, clock=args.clock, work_dir=args.work_dir,
               progress=_progress(show), beats=args.beats, utilisation=args.utilisation,
               seed=args.seed)
    _done_progress(show)
    obj = r.to_dict()
    cp = r.critical_path
    rows = [(k, obj[k]) for k in ("design", "library", "corner", "clock_ns", "area_um2",
                                  "cells", "flip_flops", "fmax_mhz", "slack_ns",
                                  "leakage_w", "dynamic_w", "total_w")]
    pw = r.power
    rows += [(f"energy per {k}", f"{v:.4g} pJ") for k, v in pw["energy_per_op_pj"].items()]
    rows += [("energy per beat", f"{pw['energy_per_beat_pj']:.4g} pJ"),
             ("stimulus", f"{pw['beats']} beats in {pw['cycles']} cycles (utilisation "
                          f"{pw['utilisation']:g}), gate-level outputs = golden"),
             ("power internal / switching", f"{pw['internal_w']:.4g} / "
                                            f"{pw['switching_w']:.4g} W")]
    rows += [("critical path", f"{cp['delay_ns']:.3f} ns (setup {cp['setup_ns']:.3f}) from "
                               f"{cp['start']} to {cp['end']}, {len(cp['cells'])} cells")]
    rows += [(f"area {k}", f"{v:,.0f} um2") for k, v in r.area_by_module_um2.items()]
    rows += [(f"wrote {k}", v) for k, v in r.files.items()]
    _emit(args, obj, rows)


def cmd_cost(args):
    d = _design(args)
    if args.sensitivity:
        from tokenfab.cost_models import sensitivity as sens
        show = not (args.json or args.quiet)
        r = d.sensitivity(node=args.node, model=args.model, system=args.system,
                          volume=args.volume, overrides=args.set, progress=_progress(show))
        _done_progress(show)
        if args.json:
            _print_json(r)
        elif not args.quiet:
            print(sens.text(r))
        return
    show = not (args.json or args.quiet) and args.liberty is not None
    r = d.cost(node=args.node, model=args.model, system=args.system, volume=args.volume,
               rtl_area=args.rtl_area, overrides=args.set, liberty=args.liberty,
               work_dir=args.work_dir, progress=_progress(show))
    _done_progress(show)
    _emit(args, r.to_dict())


def cmd_compare(args):
    from tokenfab import api
    from tokenfab.compare import FIGURES, compare
    from tokenfab.params import parse_assignments
    from tokenfab.registry import get
    a = api.Design(args.a, **parse_assignments(get(args.a).Params, args.a_param))
    b = api.Design(args.b, **parse_assignments(get(args.b).Params, args.b_param))
    r = compare(a, b, iso=args.iso, model=args.model, system=args.system, node=args.node,
                overrides=args.set)
    if args.json:
        _print_json(r)
        return
    if args.quiet:
        return
    width = max(len(k) for k in FIGURES)
    print(f"{'':<{width}}  {'A: ' + args.a:>22}  {'B: ' + args.b:>22}  {'B / A':>8}")
    for k in FIGURES:
        ratio = r["b_over_a"].get(k)
        print(f"{k:<{width}}  {display.cell(k, r['a'][k]):>22}  "
              f"{display.cell(k, r['b'][k]):>22}  {'' if ratio is None else f'{ratio:.3g}':>8}")
    print(f"\niso-{r['iso']}: {r['scaling']}; {r['model']} on {r['system']}")


def cmd_die(args):
    from tokenfab.cost_models.die import die_cost
    r = die_cost(args.area, args.node, d0_per_cm2=args.d0, yield_model=args.yield_model,
                 wafer_price_usd=args.wafer_price)
    _emit(args, r.to_dict())


def cmd_demo(args):
    from tokenfab.demo import run_demo
    run_demo(json_out=args.json, vectors=args.vectors, work_dir=args.work_dir,
             quiet=args.quiet)


def _sweep_spec(args) -> dict | str:
    """A TOML path, or a quick sweep of one design from ``-p key=v1,v2`` axes."""
    from pathlib import Path
    from tokenfab import registry
    from tokenfab.params import parse_assignments
    target = args.spec
    if target.endswith(".toml") or Path(target).is_file():
        if args.param:
            raise UsageError("-p axes are for a quick sweep of one design; a spec file "
                             "holds its axes itself")
        return target
    from tokenfab import engines
    try:
        entry = engines.get(target) if target in engines.ENGINES else registry.get(target)
    except UsageError as exc:
        raise UsageError(f"{exc}; or an engine: {', '.join(engines.ENGINES)}") from None
    axes = {}
    for item in args.param or []:
        key, eq, text = item.partition("=")
        if not eq:
            raise UsageError(f"a sweep axis must be written KEY=V1,V2,..., not {item!r}")
        if key.strip().startswith("system."):      # a field of the system file
            axes[key.strip()] = [v.strip() for v in text.split(",")]
            continue
        values = [parse_assignments(entry.Params, [f"{key}={v}"]) for v in text.split(",")]
        axes[next(iter(values[0]))] = [next(iter(v.values())) for v in values]
    levels = [lv.strip() for lv in args.levels.split(",")]
    objectives = {}
    for item in args.objective or []:
        col, _, how = item.partition("=")
        objectives[col.strip()] = how.strip()
    return {"sweep": {"levels": levels, "objectives": objectives},
            "design": [{"name": entry.name, "axes": axes}],
            "workload": [{"model": args.model, "batch": args.batch, "prompt": args.prompt,
                          "gen": args.gen, **({"system": args.system} if args.system
                                                else {}),
                          **({"set": list(args.set)} if args.set else {}),
                          **({"layer": args.layer} if args.layer else {})}]}


def cmd_sweep(args):
    import time
    from tokenfab import sweeps as sw
    raw = _sweep_spec(args)
    spec = sw.load_spec(raw, source=args.spec)
    t0 = time.time()
    # the sweep's own bar (done/total, not-ok points, ETA) on a terminal; elsewhere a
    # silent callback, so that a Dask run still prints its dashboard's address (-q: none)
    say = (None if args.quiet else sw.progress_bar()
           if not args.json and sys.stderr.isatty() else (lambda done, total, row: None))
    if args.search is not None:
        df = sw.search(raw, args.search, out=args.out, progress=say,
                       fmt="csv" if args.csv else "parquet")
    else:
        df = sw.sweep(spec, out=args.out, workers=args.workers, resume=args.resume,
                      progress=say, fmt="csv" if args.csv else "parquet",
                      scheduler=args.scheduler)
    status = df["status"].value_counts().to_dict()
    summary = {"points": len(df), "ok": status.get("ok", 0),
               "refused": status.get("refused", 0), "failed": status.get("failed", 0),
               "computed": df.attrs["computed"], "cached": len(df) - df.attrs["computed"],
               "results": df.attrs["results"], "wall_s": round(time.time() - t0, 3)}
    front = df.attrs.get("pareto")            # search computed it; a grid sweep did not
    if front is None and spec.objectives:
        front = sw.pareto(df, spec.objectives)
    if args.search is not None:
        summary["trials"] = summary.pop("points")
    if args.json:
        out = dict(summary)
        if front is not None:
            out["pareto"] = json.loads(front.to_json(orient="records"))
        _print_json(out)
        return
    if args.quiet:
        return
    for k, v in summary.items():
        print(f"{k:<10} {v}")
    bad = df[df["status"] != "ok"]
    for _, r in bad.head(5).iterrows():
        print(f"{r['status']:<8} {r['design']} {r['message']}")
    if front is not None:
        cols = ["design"] + [c for c in df.columns if c.startswith("p.")
                             and df[c].nunique() > 1] + list(spec.objectives)
        print(f"Pareto front over {', '.join(f'{c} ({h})' for c, h in spec.objectives.items())}:")
        print(front[cols].to_string(index=False))


def _add_set(sp) -> None:
    sp.add_argument("--set", action="append", metavar="PATH=VALUE",
                    help="override a field of the system file, repeatable: "
                         "memory.bandwidth=819GB/s, levels.gbuf.capacity=1MiB, clock=2GHz "
                         "(SI and binary prefixes)")


def build_parser() -> argparse.ArgumentParser:
    from tokenfab import __version__
    sets = _closed_sets()
    p = _Parser(prog="tokenfab", description="Design, generate, verify, simulate and cost "
                "accelerators for low-bit LLM inference.")
    p.add_argument("--version", action="version", version=f"tokenfab {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add(name, fn, help_, design=True):
        sp = sub.add_parser(name, help=help_, description=help_,
                            formatter_class=_HelpFormatter)
        if design:
            sp.add_argument("design", help="design name (tokenfab list)")
            sp.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                            help="design parameter, repeatable")
        sp.add_argument("--json", action="store_true", help="print one JSON object")
        sp.add_argument("-q", "--quiet", action="store_true",
                        help="no progress line and no table (errors and --json still print)")
        sp.set_defaults(fn=fn)
        return sp

    sp = add("list", cmd_list, "designs, their parameters and defaults", design=False)
    sp.add_argument("design", nargs="?", default=None,
                    help="one design: each parameter's meaning, allowed values and default")
    sp.add_argument("--models", action="store_true", help="list the shipped models instead")
    sp.add_argument("--calibrations", action="store_true",
                    help="list every constant fitted to a published figure")
    sp.add_argument("--systems", nargs="?", const=True, default=None, metavar="NAME|PATH",
                    help="the shipped system files; with NAME (or a YAML path) every field "
                         "of one, its value and its source")
    _add_set(sp)
    sp = add("rtl", cmd_rtl, "write Verilog and manifest.json")
    sp.add_argument("-o", "--output", default="build/rtl", help="output folder")
    sp.add_argument("--prefix", default=None,
                    help="module name (default: the design and its non-default parameters)")
    sp.add_argument("--force", action="store_true",
                    help="replace a --prefix module another configuration wrote there")
    sp = add("verify", cmd_verify, "cocotb on the generated Verilog against the golden model")
    sp.add_argument("--vectors", type=int, default=200, help="input tiles to drive")
    sp.add_argument("--simulator", default="verilator",
                    type=_choice("simulator", sets["simulator"]),
                    metavar="{" + ",".join(sets["simulator"]) + "}", help="cocotb simulator")
    sp.add_argument("--seed", type=int, default=1, help="seed of the random vectors")
    sp.add_argument("--waves", action="store_true", help="write a waveform (its path is "
                    "printed)")
    sp.add_argument("--waves-format", default="auto",
                    type=_choice("waveform format", ("auto", "fst", "vcd")),
                    metavar="{auto,fst,vcd}",
                    help="auto: FST where the simulator can write it, else VCD; fst or "
                         "vcd implies --waves")
    sp.add_argument("-o", "--work-dir", default="build/verify",
                    help="folder for the Verilog, the simulator build, logs and waveforms")
    sp = add("engine", cmd_engine, "run a whole GEMM layer through an engine (units, "
             "buffers, AXI DMA) against its simulation DRAM: output and cycles against the "
             "golden and timing models")
    sp.add_argument("--shape", default="5,20,50", help="M,K,N of the layer")
    sp.add_argument("--mapping", default="best",
                    help="MT,NT,KT,ORDER: buffer tile in unit tiles, 0 row blocks outer or "
                         "1 column blocks outer; best: the tile and order the engine's "
                         "timing model predicts fastest")
    sp.add_argument("--latency", type=int, default=None,
                    help="DRAM cycles from a read request to its first beat (default: the "
                         "system's memory latency, else 8)")
    sp.add_argument("--interval", type=int, default=None,
                    help="DRAM cycles between beats, 1: one word a cycle (default: the "
                         "system's memory bandwidth per word, else 1)")
    sp.add_argument("--system", default=None,
                    help="size the engine from a system (a shipped name, list --systems, or "
                         "your YAML file): buffers from the levels holding each operand, "
                         "units from engines.count, the AXI port from the memory's bus, "
                         "latency and interval from its memory; -p parameters win")
    _add_set(sp)
    sp.add_argument("--random-stalls", action="store_true",
                    help="space beats by a pseudo-random 1 to 2 x interval - 1 cycles")
    sp.add_argument("--seed", type=int, default=1, help="seed of the random operands")
    sp.add_argument("--dram", default="rtl",
                    help="rtl: the simulation DRAM of --latency, --interval and "
                         "--random-stalls, whose cycles the model predicts; axiram: "
                         "cocotbext-axi's AxiRam with random pauses on every channel (an "
                         "independent AXI model; output checked, cycles reported)")
    sp.add_argument("--fpga", default=None, metavar="TARGET",
                    help="instead, Yosys and nextpnr on the engine for TARGET")
    sp.add_argument("--cost", action="store_true",
                    help="instead, area by block and the layer's energy at the model's "
                         "cycles (no RTL run)")
    sp.add_argument("--node", default=None,
                    help="process node of --cost (default: the system's, else 28nm)")
    sp.add_argument("--rtl", default=None, metavar="DIR",
                    help="instead, write the engine's Verilog, manifest (AXI interfaces, "
                         "register map, DRAM layout) and integration files into DIR")
    sp.add_argument("-o", "--work-dir", default="build/engine",
                    help="folder for the Verilog, the simulator build and the run's files")
    sp = add("simulate", cmd_simulate, "run a model's prefill and decode on a system")
    sp.add_argument("--model", default="llama-2-7b",
                    help="shipped name (list --models), config.json path or cached Hub id")
    sp.add_argument("--system", default=None,
                    help="system: a shipped file (list --systems: asic, a100 for the tile "
                         "designs, asic or mixpe-paper for systolic-array and mixpe) or "
                         "the path of your YAML file; hnlpu, kv260 (tellme), graviton2 "
                         "(sail) are presets of those designs; none: the design's first")
    _add_set(sp)
    sp.add_argument("--batch", type=int, default=1, help="sequences served together")
    sp.add_argument("--prompt", type=int, default=512, help="prompt tokens per sequence")
    sp.add_argument("--gen", type=int, default=128, help="generated tokens (0: prefill only)")
    sp.add_argument("--breakdown", action="store_true",
                    help="one row per operation and phase (time, bytes, energy, bound)")
    sp.add_argument("--csv", metavar="PATH", help="write the breakdown as CSV")
    sp.add_argument("--parquet", metavar="PATH", help="write the breakdown as Parquet")
    sp.add_argument("--trace", metavar="PATH",
                    help="write a Chrome/Perfetto trace of one prefill and one decode step")
    sp.add_argument("--extend-context", action="store_true",
                    help="allow a context past the model's max_position_embeddings")
    sp.add_argument("--allow-spill", action="store_true",
                    help="model weights that do not fit off-chip memory as host traffic")
    sp = add("gemm", cmd_gemm, "cycles of one GEMM A[M,K] x B[K,N] on one unit or array")
    sp.add_argument("--shape", required=True, metavar="M,K,N",
                    help="A is M x K (M tokens), B is K x N")
    sp.add_argument("--sram", metavar="I,F,O", default=None,
                    help="systolic-array: ifmap, filter and ofmap SRAM sizes (64KiB,64KiB,"
                         "32KiB); with --bandwidth, the cycles behind SCALE-Sim's memory")
    sp.add_argument("--bandwidth", metavar="B/CYCLE", default=None,
                    help="bytes per cycle of each SRAM's DRAM port (16 or 16B/cycle)")
    sp.add_argument("--drain", default="when-full", choices=("when-full", "on-write"),
                    help="ofmap drain controller: when-full (re-arms on completion) or "
                         "on-write (SCALE-Sim's)")
    sp = add("fpga", cmd_fpga, "Yosys + nextpnr: LUTs, FFs, DSPs, BRAMs, Fmax")
    sp.add_argument("--target", default="ecp5-25k", type=_choice("target", sets["target"]),
                    metavar="{" + ",".join(sets["target"]) + "}",
                    help="ice40-up5k, ecp5-25k, ecp5-85k (place and route), kv260 (Yosys "
                         "resource estimates)")
    sp.add_argument("--no-dsp", action="store_true", help="map multipliers to logic")
    sp.add_argument("--no-place", action="store_true",
                    help="synthesis only: Yosys resources, no nextpnr (no Fmax)")
    sp.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                    help="stop the tools after this long (default: no limit)")
    sp.add_argument("-o", "--work-dir", default="build/fpga",
                    help="folder for the wrapped Verilog, logs and reports")
    sp = add("asic", cmd_asic, "Yosys + ABC onto a Liberty library: area, critical path, "
             "Fmax, power and energy per operation")
    sp.add_argument("--liberty", required=True, metavar="PATH",
                    help="the standard-cell library (.lib or .lib.gz), e.g. your PDK's")
    sp.add_argument("--clock", default="5ns", help="clock period (5ns) or frequency (200MHz)")
    sp.add_argument("--beats", type=int, default=64,
                    help="random input beats the power run drives (default: 64)")
    sp.add_argument("--utilisation", type=float, default=1.0,
                    help="probability a beat is offered each cycle (default: 1, back to "
                         "back)")
    sp.add_argument("--seed", type=int, default=1, help="stimulus seed (default: 1)")
    sp.add_argument("-o", "--work-dir", default="build/asic",
                    help="folder for the script, log, mapped netlist, SDC and activities")
    sp = add("cost", cmd_cost, "area, power, die cost, NRE, TCO and tokens/J")
    sp.add_argument("--node", default=None, type=_choice("node", sets["node"]),
                    metavar="{" + ",".join(sets["node"]) + "}",
                    help="technology node (none: 28nm; HNLPU 5nm, TeLLMe 16nm)")
    sp.add_argument("--model", default=None, help="also report tokens/J on this model")
    sp.add_argument("--system", default=None,
                    help="system file or preset (default: the design's first; see "
                         "simulate --help)")
    _add_set(sp)
    sp.add_argument("--volume", type=int, default=10_000,
                    help="units the NRE is spread over (for $ per million tokens)")
    sp.add_argument("--rtl-area", action="store_true",
                    help="also estimate the unit's area with Yosys on its Verilog")
    sp.add_argument("--liberty", default=None, metavar="PATH",
                    help="price the units from their circuit synthesised onto this Liberty "
                         "library (.lib or .lib.gz; tokenfab asic at the system's clock) "
                         "instead of their component counts; memories keep their SRAM "
                         "model; the library is taken as the system's node")
    sp.add_argument("-o", "--work-dir", default="build/asic",
                    help="with --liberty: folder for the synthesis (as tokenfab asic)")
    sp.add_argument("--sensitivity", action="store_true",
                    help="how tokens/J, chip power, area and $/Mtok move with each weak "
                         "(confidence W) datum the cost reads, at its sources' range or at "
                         "half and twice its value")
    sp = add("compare", cmd_compare, "two tile designs on one system, the second scaled to "
             "the first's area or throughput", design=False)
    sp.add_argument("a", help="design A (tokenfab list)")
    sp.add_argument("b", help="design B, scaled to A")
    sp.add_argument("-A", "--a-param", action="append", metavar="KEY=VALUE",
                    help="a parameter of design A, repeatable")
    sp.add_argument("-B", "--b-param", action="append", metavar="KEY=VALUE",
                    help="a parameter of design B, repeatable")
    sp.add_argument("--iso", default="area", choices=("area", "throughput"),
                    help="scale B's unit count to A's units' area or peak operations/s")
    sp.add_argument("--model", default="llama-2-7b", help="the model both run (as cost)")
    sp.add_argument("--system", default=None, help="the system both run on (default: A's "
                    "first)")
    sp.add_argument("--node", default=None, type=_choice("node", sets["node"]),
                    metavar="{" + ",".join(sets["node"]) + "}", help="technology node")
    _add_set(sp)
    sp = add("die", cmd_die, "gross dies, yield, good dies and cost per good die",
             design=False)
    sp.add_argument("--area", type=float, required=True, metavar="MM2", help="die area, mm2")
    sp.add_argument("--node", default="5nm", type=_choice("node", sets["node"]),
                    metavar="{" + ",".join(sets["node"]) + "}", help="technology node")
    sp.add_argument("--d0", type=float, default=None, metavar="PER_CM2",
                    help="defect density (default: the node's)")
    sp.add_argument("--yield-model", default="murphy",
                    type=_choice("yield model", sets["yield model"]),
                    metavar="{" + ",".join(sets["yield model"]) + "}",
                    help="poisson, murphy, negative-binomial or seeds")
    sp.add_argument("--wafer-price", type=float, default=None, metavar="USD",
                    help="wafer price (default: the node's)")
    sp = add("sweep", cmd_sweep, "run a design-space sweep: points cached, resumable, one "
             "row each", design=False)
    sp.add_argument("spec", metavar="SPEC.toml|DESIGN",
                    help="a sweep spec, or a design for a quick sweep over -p axes")
    sp.add_argument("-p", "--param", action="append", metavar="KEY=V1,V2",
                    help="quick sweep: a parameter axis, repeatable (a grid over all)")
    sp.add_argument("--model", default="llama-2-7b", help="quick sweep: the model")
    sp.add_argument("--batch", type=int, default=1, help="quick sweep: sequences")
    sp.add_argument("--prompt", type=int, default=512, help="quick sweep: prompt tokens")
    sp.add_argument("--gen", type=int, default=128, help="quick sweep: generated tokens")
    sp.add_argument("--layer", default=None, metavar="M,K,N",
                    help="quick sweep of an engine: the GEMM layer its points run")
    sp.add_argument("--system", default=None,
                    help="quick sweep: the system file or preset (-p system.FIELD=A,B "
                         "sweeps a field of it)")
    _add_set(sp)
    sp.add_argument("--levels", default="simulate",
                    help="quick sweep: comma-separated levels of simulate, cost, fpga, verify")
    sp.add_argument("--objective", action="append", metavar="COLUMN=min|max",
                    help="quick sweep: an objective for the Pareto front, repeatable")
    sp.add_argument("--out", default="build/sweep",
                    help="folder for the cached points and results.parquet")
    sp.add_argument("--workers", type=int, default=None,
                    help="run on a Dask LocalCluster of N worker processes (default: a "
                         "local process pool across the cores)")
    sp.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786")
    sp.add_argument("--resume", action="store_true",
                    help="add to the sweep already in --out, keeping its cached points")
    sp.add_argument("--csv", action="store_true", help="write results.csv, not Parquet")
    sp.add_argument("--search", type=int, default=None, metavar="TRIALS",
                    help="instead of the grid, an NSGA-II search (Optuna) of TRIALS per "
                         "design towards the objectives; prints the Pareto front")
    sp = add("demo", cmd_demo, "every design on defaults: Verilog, verify, simulate, cost",
             design=False)
    sp.add_argument("--vectors", type=int, default=100, help="input beats per design")
    sp.add_argument("-o", "--work-dir", default="build/demo",
                    help="folder for the Verilog, builds, logs and demo.png")
    return p


def threading_main() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def _sigterm(signum, frame):
    raise KeyboardInterrupt       # unwind: tools started by this run are stopped on the way


def main(argv=None) -> int:
    import signal
    previous = signal.signal(signal.SIGTERM, _sigterm) if threading_main() else None
    try:
        return _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv) -> int:
    if not (sys.argv[1:] if argv is None else argv):      # bare `tokenfab`: the help
        build_parser().print_help()
        return 0
    try:
        args = build_parser().parse_args(argv)
        args.fn(args)
    except UsageError as exc:
        print(f"tokenfab: error: {exc.for_cli().splitlines()[0]}", file=sys.stderr)
        return 2
    except ToolError as exc:
        print(f"tokenfab: tool failed: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:            # output piped into head and the like
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:             # a path the user gave that cannot be written or read
        where = f" {exc.filename!r}" if exc.filename else ""
        print(f"tokenfab: error: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
