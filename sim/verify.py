"""``verify``: the generated Verilog under cocotb against the golden model and the timing
model."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from tokenfab.rtl import export
from tokenfab.sim import runner
from tokenfab.params import check_int, params_key
from tokenfab.results import Frameable


@dataclasses.dataclass
class VerifyResult(Frameable):
    HEADLINE = ("simulator", "vectors", "outputs", "mismatches", "rtl_cycles", "model_cycles")

    design: str
    params: dict
    simulator: str
    vectors: int
    outputs: int
    mismatches: int
    rtl_cycles: int | None
    model_cycles: int
    timeouts: bool
    first_mismatches: list
    sim_cycles_per_s: float | None
    cases: list[str]
    files: dict = dataclasses.field(default_factory=dict)   # what the run wrote, by kind

    @property
    def cycles_match(self) -> bool:
        return self.rtl_cycles == self.model_cycles

    @property
    def passed(self) -> bool:
        return self.mismatches == 0 and self.cycles_match and not self.timeouts

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["passed"] = self.passed
        d["cycles_match"] = self.cycles_match
        return d


def case_names(cases) -> list[str]:
    """The named cases, then the random ones as one entry with their count."""
    named = [name for name, _ in cases if not name.startswith("random")]
    randoms = len(cases) - len(named)
    return named + ([f"random x {randoms}"] if randoms else [])


def expected_cycles(entry, params, beats) -> int:
    """The timing model's cycles for ``beats`` back to back. A design whose cycles depend
    on the beats themselves (a systolic array's folds end at data-dependent beats) gives
    its formula the beats; the others take the count."""
    if hasattr(entry.timing, "beats_cycles"):
        return entry.timing.beats_cycles(params, beats)
    return entry.timing.unit_cycles(params, len(beats))


def gtkwave_save(top: str, port_list: list[dict], wave) -> str:
    """A GTKWave save file for ``wave``: clock and reset, then each stream as a group of
    its handshake and its payload's fields (as the manifest names them, most significant
    bit first; signed fields in signed decimal)."""
    lines = [f"[*] tokenfab: {top}", f'[dumpfile] "{Path(wave).resolve()}"',
             "[timestart] 0", "@28", f"{top}.clk", f"{top}.rst"]
    streams: dict = {}
    for p in port_list:
        if p["name"] not in ("clk", "rst"):
            streams.setdefault(p["name"].split("__")[0], []).append(p)
    for stream, members in streams.items():
        lines += ["@200", f"-{stream}"]
        for p in members:
            if not p.get("fields"):
                lines += ["@28", f"{top}.{p['name']}"]
                continue
            for f in p["fields"]:
                bits = " ".join(f"{top}.{p['name']}[{b}]"
                                for b in range(f["offset"] + f["width"] - 1, f["offset"] - 1, -1))
                dot = "" if f["name"].startswith("[") else "."
                lines += ["@424" if f.get("signed") else "@24",
                          f"#{{{stream}{dot}{f['name']}}} {bits}"]
    return "\n".join(lines + [""])


def verify(entry, params, *, vectors: int = 200, simulator: str = "verilator", seed: int = 1,
           work_dir="build/verify", waves=False, backpressure: bool = True,
           progress=None) -> VerifyResult:
    check_int("vectors", vectors, 1, 10_000_000)
    check_int("seed", seed, 0, 2**32 - 1)
    runner.check_simulator(simulator)
    waves = runner.wave_format(waves, simulator) or False
    say = progress or (lambda msg: None)
    tb = entry.testbench
    design_dir = Path(work_dir) / f"{entry.name}-{params_key(params, 10)}"
    # The stimulus and the expected words first: a configuration the bench cannot drive
    # is refused before anything is written.
    rng = np.random.default_rng(seed)
    cases = tb.cases(params, vectors, rng)
    beats = [b for _, bs in cases for b in bs]
    expected = tb.expected(params, beats)
    model_cycles = expected_cycles(entry, params, beats)
    say(f"{entry.name}: generating Verilog")
    v_path = export.write(entry, params, design_dir / "rtl")
    vec = {
        "beats": [hex(tb.pack_in(params, b)) for b in beats],
        "expected": [hex(tb.pack_out(params, o)) for o in expected],
        "max_cycles": 2 * model_cycles + 100,
        "backpressure": backpressure,
        "seed": seed,
    }
    say(f"{entry.name}: building {simulator} model")
    build_dir = runner.build(v_path, v_path.stem, design_dir, simulator, waves)
    say(f"{entry.name}: simulating {len(beats)} tiles")
    res = runner.run_vectors(build_dir, v_path.stem, vec, simulator=simulator, waves=waves,
                             tag=f"seed{seed}-n{len(beats)}")
    wave = res.get("files", {}).get("waveform")
    if wave:                     # the ports and fields as the manifest beside the .v has them
        import json
        manifest = json.loads(v_path.with_name(f"{v_path.stem}.manifest.json").read_text())
        gtkw = Path(wave).with_suffix(".gtkw")
        gtkw.write_text(gtkwave_save(v_path.stem, manifest["ports"], wave))
        res["files"]["gtkwave_save"] = str(gtkw)
    b2b = res["back_to_back"]
    bp = res.get("backpressure", {"mismatches": 0, "timeout": False, "first_mismatches": []})
    rate = (b2b["simulated_cycles"] / b2b["wall_s"]) if b2b.get("wall_s") else None
    return VerifyResult(
        design=entry.name, params=params.to_dict(), simulator=simulator, vectors=len(beats),
        outputs=len(expected), mismatches=b2b["mismatches"] + bp["mismatches"],
        rtl_cycles=b2b["cycles"], model_cycles=model_cycles,
        timeouts=bool(b2b["timeout"] or bp["timeout"]),
        first_mismatches=b2b["first_mismatches"] + bp["first_mismatches"],
        sim_cycles_per_s=rate, cases=case_names(cases),
        files={"verilog": str(v_path.resolve()), "build": str(build_dir),
               **res.get("files", {})})
