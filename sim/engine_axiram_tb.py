"""cocotb bench of an engine against cocotbext-axi's ``AxiRam``, an AXI4 subordinate
written independently of ours (``hw/common/axi.AxiMemory``), with pseudo-random pauses on
all five channels: what the engine reads and writes must hold under another
implementation's reading of the protocol.

The job (``TOKENFAB_JOB``) is ``sim/engine_tb.py``'s; the memory's latency and interval
are the model's own and are not set here. Each run pauses the channels in about its
``pause_share`` of the cycles (0: AxiRam at full speed), seeded from ``pause_seed``.
"""
from __future__ import annotations

import itertools
import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles

from tokenfab.sim.engine_tb import start_and_wait


def _pauses(rng: random.Random, share: float):
    """Pause a channel in about ``share`` of the cycles, in runs of 1 to 3."""
    while True:
        if rng.random() < share:
            yield from itertools.repeat(1, rng.randint(1, 3))
        yield 0


@cocotb.test()
async def run_job(dut):
    from cocotbext.axi import AxiBus, AxiRam
    with open(os.environ["TOKENFAB_JOB"]) as f:
        job = json.load(f)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for name in ("awvalid", "wvalid", "arvalid", "bready", "rready"):
        getattr(dut, f"s_axil__{name}").value = 0
    ram = AxiRam(AxiBus.from_prefix(dut, "m_axi_"), dut.clk, dut.rst,
                 size=job["bytes"])
    rng = random.Random(job["pause_seed"])
    channels = (ram.write_if.aw_channel, ram.write_if.w_channel, ram.write_if.b_channel,
                ram.read_if.ar_channel, ram.read_if.r_channel)
    wb = job["word_bytes"]
    results = []
    for run in job["runs"]:
        for ch in channels:
            ch.set_pause_generator(_pauses(random.Random(rng.random()), run["pause_share"])
                                   if run["pause_share"] else None)
            if not run["pause_share"]:
                ch.pause = False        # the generator stopped may have left it paused
        dut.rst.value = 1
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        base, n = run["out_base"], run["out_words"]
        ram.write(base * wb, bytes([job["poison"] & 0xFF]) * (n * wb))
        for addr, word in run["image"]:
            ram.write(addr * wb, int(word).to_bytes(wb, "little"))
        cycles, wall = await start_and_wait(dut, run)
        data = ram.read(base * wb, n * wb)
        out = [str(int.from_bytes(data[i * wb:(i + 1) * wb], "little")) for i in range(n)]
        results.append({"cycles": cycles, "out": out, "wall_s": wall})
    with open(os.environ["TOKENFAB_RESULTS"], "w") as f:
        json.dump({"runs": results}, f)
