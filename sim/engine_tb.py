"""cocotb bench of an engine with its simulation DRAM (``hw/common/axi.AxiMemory``).

Reads a job (``TOKENFAB_JOB``: runs, each with its DRAM image, the memory's latency,
interval and stall mode, the register writes and the output region) and, run after run in
one simulation, resets, loads DRAM through the back door, starts the engine over
AXI4-Lite, waits for ``done`` without stepping Python per cycle, and reads the cycle
counter and the output words back; writes them to ``TOKENFAB_RESULTS``.
"""
from __future__ import annotations

import json
import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge, Timer


async def _handshake(dut, ready: str) -> int:
    """Wait for the edge at which ``ready`` is high (sampled settled, before the edge)."""
    while True:
        await ReadOnly()
        seen = int(getattr(dut, ready).value)
        await RisingEdge(dut.clk)
        if seen:
            return seen


async def lite_write(dut, addr: int, value: int) -> None:
    dut.s_axil__awaddr.value = addr
    dut.s_axil__awvalid.value = 1
    dut.s_axil__wdata.value = value
    dut.s_axil__wvalid.value = 1
    dut.s_axil__bready.value = 1
    await _handshake(dut, "s_axil__awready")
    dut.s_axil__awvalid.value = 0
    dut.s_axil__wvalid.value = 0
    await _handshake(dut, "s_axil__bvalid")


async def lite_read(dut, addr: int) -> int:
    dut.s_axil__araddr.value = addr
    dut.s_axil__arvalid.value = 1
    dut.s_axil__rready.value = 1
    await _handshake(dut, "s_axil__arready")
    dut.s_axil__arvalid.value = 0
    while True:
        await ReadOnly()
        if int(dut.s_axil__rvalid.value):
            value = int(dut.s_axil__rdata.value)
            await RisingEdge(dut.clk)
            return value
        await RisingEdge(dut.clk)


async def start_and_wait(dut, job: dict) -> tuple[int, float]:
    """Write the run's registers, start the engine (CTRL), wait for ``done`` in one
    trigger; the CYCLES register and the wall time the engine ran."""
    for index, value in job["registers"]:
        await lite_write(dut, 4 * index, value)
    t0 = time.perf_counter()
    await lite_write(dut, 0, 1)                       # CTRL: start
    if not int(dut.done.value):
        ended = await First(RisingEdge(dut.done), Timer(10 * job["max_cycles"], unit="ns"))
        if not isinstance(ended, RisingEdge):
            raise RuntimeError(f"no done within {job['max_cycles']} cycles")
    wall = time.perf_counter() - t0
    return await lite_read(dut, 4 * job["cycles_register"]), wall


@cocotb.test()
async def run_job(dut):
    with open(os.environ["TOKENFAB_JOB"]) as f:
        job = json.load(f)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns", impl="gpi").start())
    for name in ("awvalid", "wvalid", "arvalid", "bready", "rready"):
        getattr(dut, f"s_axil__{name}").value = 0
    dut.bd_we.value = 0
    results = []
    for run in job["runs"]:
        results.append(await _run(dut, run, job["poison"]))
    with open(os.environ["TOKENFAB_RESULTS"], "w") as f:
        json.dump({"runs": results}, f)


async def _run(dut, job: dict, poison: int) -> dict:
    """One layer: reset (the engine and the memory's stall generator start afresh),
    ``poison`` over the output region (so no word of an earlier run passes for this
    one's), the image, the registers, start, wait for done, read back."""
    dut.latency.value = job["latency"]
    dut.interval.value = job["interval"]
    dut.random_stalls.value = int(job["random_stalls"])
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    out_region = range(job["out_base"], job["out_base"] + job["out_words"])
    for addr, word in [*((a, poison) for a in out_region), *job["image"]]:
        dut.bd_addr.value = addr
        dut.bd_wdata.value = int(word)
        dut.bd_we.value = 1
        await RisingEdge(dut.clk)
    dut.bd_we.value = 0
    cycles, wall = await start_and_wait(dut, job)
    out = []
    await RisingEdge(dut.clk)
    for addr in out_region:
        dut.bd_addr.value = addr
        await ReadOnly()
        out.append(str(int(dut.bd_rdata.value)))
        await RisingEdge(dut.clk)
    return {"cycles": cycles, "out": out, "wall_s": wall}
