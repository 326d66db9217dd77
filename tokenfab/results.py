"""The result schema of ``simulate``, the same for every design.

A design's timing model returns a :class:`SystemRun`: per phase (prefill; all decode steps)
one :class:`OpRow` per operation with its time, the bytes it moved and the events it
caused (MACs, unit steps, SRAM bytes, ...). The design's cost model returns a
:class:`Pricing`: joules per event and constant power draws, each in one energy category
and either on the chip or elsewhere in the system. :class:`SimulationResult` joins the two;
every total is the sum of the rows, so the breakdown always adds up.

This module is part of the small core every level may import.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
from pathlib import Path

from tokenfab.errors import UsageError

CATEGORIES = ("dram", "compute", "sram", "interconnect", "static")


class Frameable:
    """What every result class with a ``to_dict()`` offers: ``to_frame()`` (one row,
    nested values flattened with dots: ``energy_by_category_j.dram``), ``r["key"]`` and
    ``keys()``, every key in ``dir()`` (tab completion), a one-line ``repr`` of the
    headline figures and, in a notebook, a table of them with the bound, the
    calibrations and the assumptions. ``HEADLINE``: the keys shown first."""

    HEADLINE: tuple = ()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        # in the class's own namespace before @dataclass runs, which keeps it
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = Frameable.__repr__

    def to_frame(self):
        import pandas as pd
        return pd.json_normalize(self.to_dict(), sep=".")

    def keys(self) -> list:
        return list(self.to_dict())

    def __getitem__(self, key):
        d = self.to_dict()
        if key not in d:
            from tokenfab.params import did_you_mean
            raise KeyError(f"{type(self).__name__} has no {key!r}{did_you_mean(str(key), d)}")
        return d[key]

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.to_dict()))

    def headline(self) -> list[tuple[str, object]]:
        """The figures the repr and the notebook table show: ``HEADLINE``'s keys, or the
        first six numbers."""
        d = self.to_dict()
        keys = self.HEADLINE or [k for k, v in d.items() if isinstance(v, (int, float))
                                 and not isinstance(v, bool)][:6]
        return [(k, d[k]) for k in keys if d.get(k) is not None]

    def _title(self) -> str:
        d = self.to_dict()
        return " ".join(str(d[k]) for k in ("design", "model") if d.get(k))

    def __repr__(self):
        from tokenfab.display import cell
        figures = ", ".join(f"{k}={cell(k, v)}" for k, v in self.headline())
        return f"<{type(self).__name__} {self._title()}: {figures}>"

    def _repr_html_(self) -> str:
        from html import escape
        from tokenfab.display import cell
        d = self.to_dict()
        rows = [(k, cell(k, v)) for k, v in self.headline()]
        if isinstance(d.get("bound"), dict):
            rows.append(("bound", ", ".join(f"{k}: {v}" for k, v in d["bound"].items())))
        rows += [("calibrated", f"{c['name']} = {c['value']:.4g}")
                 for c in d.get("calibrations") or []]
        rows += [("assumes", a) for a in d.get("assumptions") or []]
        body = "".join(f"<tr><th style='text-align:left'>{escape(k)}</th>"
                       f"<td style='text-align:left'>{escape(str(v))}</td></tr>"
                       for k, v in rows)
        return (f"<table><caption style='text-align:left'><b>{escape(type(self).__name__)}"
                f"</b> {escape(self._title())}</caption>{body}</table>")

BOUNDS = ("compute", "memory", "interconnect", "vector", "host")


class GemmResult(Frameable):
    """One GEMM on one unit or array (``Design.gemm``): ``cycles``, ``rtl_cycles``,
    ``utilization``, ``mapping_efficiency``, ``folds`` and what the design adds (the
    systolic array's ``memory``), as keys and attributes."""

    HEADLINE = ("shape", "cycles", "rtl_cycles", "utilization", "mapping_efficiency", "folds")

    def __init__(self, figures: dict):
        self._figures = figures

    def __getattr__(self, name):
        if not name.startswith("_") and name in self._figures:
            return self._figures[name]
        raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}")

    def to_dict(self) -> dict:
        return dict(self._figures)


@dataclasses.dataclass
class OpRow:
    """One operation (or one distinct operation with ``count`` instances) of a phase."""
    phase: str
    layer: int
    op: str
    engine: str
    bound: str
    time_s: float              # the op's share of the phase time (rows add up to it)
    compute_s: float = 0.0     # the engine's busy time for this op
    macs: float = 0.0
    dram_bytes: float = 0.0
    count: float = 1.0
    events: dict = dataclasses.field(default_factory=dict)
    energy_j: dict = dataclasses.field(default_factory=dict)     # by category (priced)
    chip_energy_j: float = 0.0                                   # the on-chip part
    energy_range_j: tuple = (0.0, 0.0)     # total at every price's low and high end
    mapping: str = ""          # tiles per level and loop order (mapped GEMMs)
    stall_s: float = 0.0       # time beyond the units' own compute (memory, ports)
    energy_by_level_j: dict = dataclasses.field(default_factory=dict)   # priced

    def scaled(self, w: float) -> "OpRow":
        return dataclasses.replace(
            self, time_s=w * self.time_s, compute_s=w * self.compute_s, macs=w * self.macs,
            dram_bytes=w * self.dram_bytes, count=w * self.count, stall_s=w * self.stall_s,
            events={k: w * v for k, v in self.events.items()})

    def merge(self, other: "OpRow") -> None:
        """Add ``other`` (the same op in another sample) into this row."""
        for f in ("time_s", "compute_s", "macs", "dram_bytes", "count", "stall_s"):
            setattr(self, f, getattr(self, f) + getattr(other, f))
        for k, v in other.events.items():
            self.events[k] = self.events.get(k, 0.0) + v
        if other.time_s > self.time_s - other.time_s:      # the larger share decides
            self.bound = other.bound


@dataclasses.dataclass
class Phase:
    """``tokens`` tokens processed (prefill) or generated (decode) in ``seconds``."""
    name: str
    tokens: int
    seconds: float
    rows: list
    busy_s: dict               # engine -> busy seconds (utilisation = busy / seconds)

    @property
    def bound(self) -> str:
        share = {}
        for r in self.rows:
            share[r.bound] = share.get(r.bound, 0.0) + r.time_s
        return max(share, key=share.get) if share else "compute"

    @property
    def utilization(self) -> dict:
        return {k: (v / self.seconds if self.seconds else 0.0) for k, v in self.busy_s.items()}


def merge_samples(name: str, samples: list[tuple[float, "Phase"]], tokens: int) -> Phase:
    """A phase made of weighted sample phases (decode steps simulated at a few KV lengths,
    each standing for ``weight`` steps): the samples run the same operations in the same
    order, so rows at the same position are merged."""
    rows: dict = {}
    busy: dict = {}
    seconds = 0.0
    for w, ph in samples:
        seconds += w * ph.seconds
        for k, v in ph.busy_s.items():
            busy[k] = busy.get(k, 0.0) + w * v
        for key, r in enumerate(ph.rows):
            s = r.scaled(w)
            s.phase = name
            if key in rows:
                rows[key].merge(s)
            else:
                rows[key] = s
    return Phase(name, tokens, seconds, list(rows.values()), busy)


def interpolation_weights(n_steps: int, samples: list[int]) -> list[float]:
    """Weights ``w`` such that ``sum(w[i] * f(samples[i]))`` equals the sum over all steps
    ``0..n_steps-1`` of ``f`` interpolated linearly between the samples."""
    w = [0.0] * len(samples)
    for s in range(n_steps):
        j = next((i for i, x in enumerate(samples) if x >= s), len(samples) - 1)
        if samples[j] == s or j == 0:
            w[j] += 1.0
            continue
        lo, hi = samples[j - 1], samples[j]
        t = (s - lo) / (hi - lo)
        w[j - 1] += 1 - t
        w[j] += t
    return w


@dataclasses.dataclass
class SystemRun:
    """What a design's timing model returns for one request."""
    design: str
    params: dict
    model: str
    system: str
    system_description: str
    batch: int
    prompt: int
    gen: int
    prefill: Phase
    decode: Phase | None
    peak_ops_per_s: float
    memory_bytes_per_s: float
    memory_capacity_bytes: float
    chips: int = 1
    assumptions: list = dataclasses.field(default_factory=list)
    calibrations: list = dataclasses.field(default_factory=list)     # Calibration objects
    extra: dict = dataclasses.field(default_factory=dict)
    trace: list = dataclasses.field(default_factory=list)            # TraceEvent
    spec: object = None        # the system object the timing model ran (for pricing)
    config: object = None      # the ModelConfig it ran

    @property
    def phases(self) -> list[Phase]:
        return [self.prefill] + ([self.decode] if self.decode else [])


@dataclasses.dataclass(frozen=True)
class Price:
    category: str
    value: float               # J per event, or W for a constant draw
    on_chip: bool
    low: float | None = None   # the sources' range where they spread (None: value)
    high: float | None = None
    # the memory level it is an access of, or 'sm': a GPU's SMs around its tensor cores
    level: str | None = None   # (energy_by_level_j)

    def __post_init__(self):
        if self.category not in CATEGORIES:
            raise ValueError(f"energy category must be one of {CATEGORIES}, not "
                             f"{self.category!r}")


@dataclasses.dataclass
class Pricing:
    """A design's cost model's view of a system: ``per_event`` J per event, ``power_w``
    constant draws of the whole system (all chips) while it runs."""
    per_event: dict
    power_w: dict
    area_mm2: float | None = None          # one chip
    fpga_resources: dict | None = None
    calibrations: list = dataclasses.field(default_factory=list)
    assumptions: list = dataclasses.field(default_factory=list)
    extra: dict = dataclasses.field(default_factory=dict)
    memory: dict | None = None     # the off-chip memory's technology and energy per bit

    def price(self, row: OpRow) -> None:
        missing = sorted(k for k, v in row.events.items() if v and k not in self.per_event)
        if missing:
            raise RuntimeError(f"no energy per event for {', '.join(missing)} "
                               f"(known: {', '.join(sorted(self.per_event))})")
        energy = dict.fromkeys(CATEGORIES, 0.0)
        by_level: dict = {}
        chip = lo = hi = 0.0
        terms = [(self.per_event[k], v) for k, v in row.events.items() if v]
        terms += [(p, row.time_s) for p in self.power_w.values()]
        for price, amount in terms:
            e = price.value * amount
            energy[price.category] += e
            if price.level:
                by_level[price.level] = by_level.get(price.level, 0.0) + e
            chip += e if price.on_chip else 0.0
            lo += (price.value if price.low is None else price.low) * amount
            hi += (price.value if price.high is None else price.high) * amount
        row.energy_j = energy
        row.energy_by_level_j = by_level
        row.chip_energy_j = chip
        row.energy_range_j = (lo, hi)


def _sum(rows, key) -> float:
    return math.fsum(getattr(r, key) for r in rows)


class SimulationResult(Frameable):
    """A priced :class:`SystemRun`: every key of the CLI contract, and ``.breakdown``."""

    HEADLINE = ("system", "ttft_s", "decode_tokens_per_s", "tokens_per_j", "system_power_w",
                "chip_power_w", "energy_j")

    def __init__(self, run: SystemRun, pricing: Pricing):
        self.run = run
        self.pricing = pricing
        self._dict = None
        self.companions = {}       # top-level keys a design adds (SAIL: its baseline)
        for ph in run.phases:
            for r in ph.rows:
                pricing.price(r)

    # -- per phase ----------------------------------------------------------------------
    @staticmethod
    def energy_by_category(phase: Phase | None) -> dict:
        out = dict.fromkeys(CATEGORIES, 0.0)
        for r in phase.rows if phase else []:
            for k, v in r.energy_j.items():
                out[k] += v
        return out

    def energy_by_level(self) -> dict:
        out: dict = {}
        for ph in self.run.phases:
            for r in ph.rows:
                for k, v in r.energy_by_level_j.items():
                    out[k] = out.get(k, 0.0) + v
        return out

    @classmethod
    def phase_energy(cls, phase: Phase | None) -> float:
        return math.fsum(cls.energy_by_category(phase).values())

    def __getattr__(self, name):
        """Every key of :meth:`to_dict` is also an attribute (``r.ttft_s``)."""
        if name.startswith("_") or name in ("run", "pricing", "companions"):
            raise AttributeError(name)
        d = self.to_dict()
        if name in d:
            return d[name]
        raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}")

    def _build_dict(self) -> dict:
        run, pre, dec = self.run, self.run.prefill, self.run.decode
        pre_j, dec_j = self.phase_energy(pre), self.phase_energy(dec)
        by_cat = {k: a + b for (k, a), b in zip(self.energy_by_category(pre).items(),
                                                self.energy_by_category(dec).values())}
        main = dec if dec and dec.seconds else pre
        main_j = dec_j if main is dec else pre_j
        chip_j = _sum(main.rows, "chip_energy_j")
        decode_latency = dec.seconds / run.gen if dec and run.gen else 0.0
        lo_j = math.fsum(r.energy_range_j[0] for r in main.rows)
        hi_j = math.fsum(r.energy_range_j[1] for r in main.rows)
        cals = {c.name: c for c in list(run.calibrations) + list(self.pricing.calibrations)}
        out = {
            "design": run.design, "params": run.params, "model": run.model,
            "system": run.system, "system_description": run.system_description,
            "batch": run.batch, "prompt": run.prompt, "gen": run.gen, "chips": run.chips,
            "ttft_s": pre.seconds,
            "prefill_tokens_per_s": pre.tokens / pre.seconds,
            "decode_tokens_per_s": run.batch / decode_latency if decode_latency else 0.0,
            "decode_latency_s": decode_latency,
            "prefill_energy_j": pre_j, "decode_energy_j": dec_j, "energy_j": pre_j + dec_j,
            "tokens_per_j": (dec.tokens / dec_j if dec and dec_j else 0.0),
            "prefill_tokens_per_j": pre.tokens / pre_j,
            # tokens/J with every price at the high and at the low end of its sources
            "tokens_per_j_low": main.tokens / hi_j if hi_j else 0.0,
            "tokens_per_j_high": main.tokens / lo_j if lo_j else 0.0,
            "memory_energy": self.pricing.memory,
            "energy_by_category_j": by_cat,
            # each memory level's accesses (on-chip levels and DRAM; on a GPU also its
            # SMs' work around the tensor cores, "sm"), both phases
            "energy_by_level_j": self.energy_by_level(),
            "chip_power_w": chip_j / main.seconds / run.chips,
            "system_power_w": main_j / main.seconds,
            "peak_ops_per_s": run.peak_ops_per_s,
            "memory_bytes_per_s": run.memory_bytes_per_s,
            "memory_capacity_bytes": run.memory_capacity_bytes,
            "area_mm2": self.pricing.area_mm2,
            "fpga_resources": self.pricing.fpga_resources,
            "utilization": {ph.name: ph.utilization for ph in run.phases},
            "bound": {ph.name: ph.bound for ph in run.phases},
            "assumptions": list(run.assumptions) + list(self.pricing.assumptions),
            "calibrations": [{"name": c.name, "value": c.value, "fitted_to": c.fitted_to}
                             for c in cals.values()],
            "extra": {**run.extra, **self.pricing.extra},
        }
        if not (dec and run.gen):
            out["tokens_per_j"] = out["prefill_tokens_per_j"]
        return out

    def to_dict(self) -> dict:
        if getattr(self, "_dict", None) is None:
            self._dict = self._build_dict()
        return {**self._dict, **self.companions}

    # -- tables -------------------------------------------------------------------------
    def breakdown_rows(self) -> list[dict]:
        rows = []
        for ph in self.run.phases:
            for r in ph.rows:
                d = {"phase": r.phase, "layer": r.layer, "op": r.op, "engine": r.engine,
                     "count": r.count, "macs": r.macs, "compute_s": r.compute_s,
                     "dram_bytes": r.dram_bytes, "time_s": r.time_s, "bound": r.bound,
                     "stall_s": r.stall_s, "mapping": r.mapping,
                     # reuse the mapping reaches: MACs per byte crossing DRAM
                     "macs_per_dram_byte": r.macs / r.dram_bytes if r.dram_bytes else 0.0}
                d.update({f"{k}_j": v for k, v in r.energy_j.items()})
                d.update({f"level_{k}_j": v for k, v in r.energy_by_level_j.items()})
                d.update({f"{k}": v for k, v in r.events.items()
                          if k.endswith(("_read_bytes", "_write_bytes"))})
                d["energy_j"] = math.fsum(r.energy_j.values())
                rows.append(d)
        return rows

    @property
    def breakdown(self):
        """One row per operation and phase, as a pandas DataFrame."""
        import pandas as pd
        return pd.DataFrame(self.breakdown_rows())

    def write_breakdown(self, path, fmt: str) -> Path:
        path = Path(path)
        df = self.breakdown
        write_atomic(path, lambda tmp: (df.to_csv(tmp, index=False) if fmt == "csv"
                                        else df.to_parquet(tmp, index=False)))
        return path

    def write_trace(self, path) -> Path:
        return write_trace(self.run.trace, path,
                           [r for ph in self.run.phases for r in ph.rows])


# -- traces ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TraceEvent:
    phase: str       # a process in the viewer
    track: str       # an engine, DMA or link: a thread in the viewer
    name: str
    start_s: float
    dur_s: float
    layer: int | None = None    # the operation's layer, where the slice is one operation's
    bytes: float = 0.0          # what a DMA slice moves


def write_trace(events: list, path, rows=()) -> Path:
    """Chrome/Perfetto trace (JSON array format): phases as processes, engines as tracks.
    A slice's args name its operation and layer and, from the run's ``rows``, the
    operation's bound, DRAM bytes and energy; DMA slices add their bytes and a counter
    track of the DRAM bandwidth they draw."""
    if not events:
        raise UsageError("this run recorded no trace (ask for it with trace=True)")
    by_op = {(r.phase, r.layer, r.op): r for r in rows}
    pids = {p: i + 1 for i, p in enumerate(dict.fromkeys(e.phase for e in events))}
    tids = {t: i + 1 for i, t in enumerate(dict.fromkeys(e.track for e in events))}
    out = []
    for p, pid in pids.items():
        out.append({"name": "process_name", "ph": "M", "pid": pid, "args": {"name": p}})
        for t, tid in tids.items():
            out.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                        "args": {"name": t}})
    for e in events:
        args = {"op": e.name}
        if e.layer is not None:
            args["layer"] = e.layer
            r = by_op.get((e.phase, e.layer, e.name))
            if r is not None:
                args.update(bound=r.bound, op_dram_bytes=r.dram_bytes,
                            op_energy_j=math.fsum(r.energy_j.values()))
        if e.bytes:
            args["bytes"] = e.bytes
        out.append({"name": e.name, "ph": "X", "pid": pids[e.phase], "tid": tids[e.track],
                    "ts": e.start_s * 1e6, "dur": e.dur_s * 1e6, "args": args})
        if e.bytes and e.dur_s:
            for ts, gbps in ((e.start_s, e.bytes / e.dur_s / 1e9), (e.start_s + e.dur_s, 0)):
                out.append({"name": "DRAM bandwidth", "ph": "C", "pid": pids[e.phase],
                            "ts": ts * 1e6, "args": {"GB/s": gbps}})
    path = Path(path)
    write_atomic(path, lambda tmp: Path(tmp).write_text(json.dumps({"traceEvents": out})))
    return path


def make_dir(folder, what: str = "folder") -> Path:
    """Create ``folder`` (and its parents) or refuse with a ``UsageError`` naming it:
    a part of the path that is a file, no permission, a name too long."""
    folder = Path(folder)
    why = _mkdir(folder)
    if why:
        raise UsageError(f"cannot create the {what} {str(folder)!r}: {why}")
    return folder


def _mkdir(folder: Path) -> str | None:
    """Create ``folder`` and its parents; ``None``, or why it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        return "a part of its path is a file, not a folder"
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


@contextlib.contextmanager
def folder_lock(folder):
    """Hold an exclusive lock on ``folder`` for the block: runs that share a folder take
    turns, and a run that dies releases the lock with its process. The lock file lives
    in ``~/.cache/tokenfab/locks`` (named by the folder's path), never in the folder
    (``filelock``: flock on Linux and macOS, msvcrt on Windows)."""
    import hashlib
    import os
    from filelock import FileLock
    folder = make_dir(folder)
    locks = make_dir(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                     / "tokenfab" / "locks")
    name = hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:32]
    with FileLock(str(locks / f"{name}.lock"), mode=0o666 & ~_umask()):
        yield


def cached_result(record: Path, key: str) -> dict | None:
    """The ``result`` a tool run saved in ``record`` when it was for inputs ``key``
    (None: no record, another key, or a damaged file: run the tools again)."""
    import json
    try:
        saved = json.loads(Path(record).read_text())
        return saved["result"] if saved.get("key") == key else None
    except (OSError, ValueError, TypeError, KeyError):
        return None


def save_result(record: Path, key: str, result: dict) -> None:
    import json
    write_atomic(Path(record), lambda tmp: Path(tmp).write_text(
        json.dumps({"key": key, "result": result})))


def write_atomic(path: Path, writer) -> None:
    """``writer(tmp_path)`` then rename: the file appears whole or not at all."""
    import os
    import tempfile
    why = _mkdir(path.parent)
    if why:
        raise UsageError(f"cannot write {str(path)!r}: {why}")
    if path.is_dir():
        raise UsageError(f"cannot write {str(path)!r}: it is a folder; give a file name")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise UsageError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        writer(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    import os
    mask = os.umask(0)
    os.umask(mask)
    return mask
