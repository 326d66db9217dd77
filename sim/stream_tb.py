"""cocotb testbench shared by every stream-in / stream-out design.

The Python side (``tokenfab.sim.runner``) writes a vector file: input beats as packed integers and
the golden model's expected output beats. This bench drives them into the generated
Verilog twice:

1. back to back (source always valid, sink always ready), counting the cycles from the
   first input handshake to the last output handshake: the figure the timing model must
   predict exactly;
2. with random source gaps and sink back-pressure, to check flow control.

Every output word is compared with the expected one; the results go to a JSON file that
the Python side reads (the cocotb test itself only fails on an internal error).
Ports follow Amaranth's naming: ``i_stream__payload``, ``i_stream__valid``, ...
Under Verilator only these ports (and ``clk``, ``rst``) are visible through VPI
(``tokenfab.sim.runner.PUBLIC_PORTS``); internal signals are in the waveform when ``waves`` is set.
"""
from __future__ import annotations

import json
import os
import random
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly


async def _reset(dut):
    dut.rst.value = 1
    dut.i_stream__valid.value = 0
    dut.o_stream__ready.value = 0
    for _ in range(3):
        await FallingEdge(dut.clk)
    dut.rst.value = 0
    await FallingEdge(dut.clk)


async def _back_to_back(dut, beats, n_out, max_cycles):
    """One await per cycle. With the sink always ready, ``i_stream__ready`` and
    ``o_stream__valid`` read at a falling edge are what the next rising edge sees: they
    depend on registers and on the (constant) sink ready only, not on what we drive now.
    Handles are looked up once and inputs written only when they change (speed)."""
    i_payload, i_valid, i_ready = dut.i_stream__payload, dut.i_stream__valid, dut.i_stream__ready
    o_payload, o_valid = dut.o_stream__payload, dut.o_stream__valid
    clk_fall = FallingEdge(dut.clk)
    outputs, cycle, first_in, last_out, i = [], 0, None, None, 0
    dut.o_stream__ready.value = 1
    driven = None
    while len(outputs) < n_out and cycle < max_cycles:
        in_ready = i_ready.value
        if o_valid.value:
            outputs.append(o_payload.value.to_unsigned())
            last_out = cycle
        if i < len(beats):
            if driven != i:
                i_payload.value = beats[i]
                if driven is None:
                    i_valid.value = 1
                driven = i
            if in_ready:
                first_in = cycle if first_in is None else first_in
                i += 1
        elif driven is not None:
            i_valid.value = 0
            driven = None
        await clk_fall
        cycle += 1
    i_valid.value = 0
    cycles = None if first_in is None or last_out is None else last_out - first_in
    return outputs, cycles, cycle


async def _with_backpressure(dut, beats, n_out, max_cycles, seed):
    rng = random.Random(seed)
    outputs, cycle, i = [], 0, 0
    while len(outputs) < n_out and cycle < max_cycles:
        await FallingEdge(dut.clk)
        cycle += 1
        valid = i < len(beats) and rng.random() < 0.7
        ready = rng.random() < 0.6
        if i < len(beats):
            dut.i_stream__payload.value = beats[i]
        dut.i_stream__valid.value = int(valid)
        dut.o_stream__ready.value = int(ready)
        await ReadOnly()
        if valid and dut.i_stream__ready.value:
            i += 1
        if ready and dut.o_stream__valid.value:
            outputs.append(dut.o_stream__payload.value.to_unsigned())
    return outputs


def _compare(outputs, expected):
    bad = [k for k, (o, e) in enumerate(zip(outputs, expected)) if o != e]
    missing = max(0, len(expected) - len(outputs))
    return {
        "outputs": len(outputs),
        "mismatches": len(bad) + missing,
        "first_mismatches": [{"index": k, "expected": hex(expected[k]), "got": hex(outputs[k])}
                             for k in bad[:5]],
    }


@cocotb.test()
async def stream_vectors(dut):
    with open(os.environ["TOKENFAB_VECTORS"]) as f:
        vec = json.load(f)
    beats = [int(h, 16) for h in vec["beats"]]
    expected = [int(h, 16) for h in vec["expected"]]
    max_cycles = int(vec["max_cycles"])

    Clock(dut.clk, 10, unit="ns").start()
    await _reset(dut)
    t0 = time.perf_counter()
    outputs, cycles, simulated = await _back_to_back(dut, beats, len(expected), max_cycles)
    wall = time.perf_counter() - t0
    result = {"back_to_back": dict(_compare(outputs, expected), cycles=cycles,
                                   simulated_cycles=simulated, wall_s=wall,
                                   timeout=len(outputs) < len(expected))}
    if vec.get("backpressure", True):
        await _reset(dut)
        outputs = await _with_backpressure(dut, beats, len(expected), 6 * max_cycles + 100,
                                           vec.get("seed", 1))
        result["backpressure"] = dict(_compare(outputs, expected),
                                      timeout=len(outputs) < len(expected))
    with open(os.environ["TOKENFAB_RESULTS"], "w") as f:
        json.dump(result, f)
