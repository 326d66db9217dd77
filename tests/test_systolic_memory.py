"""The systolic array behind SCALE-Sim's memory system (``systolic_array.memory``):
mechanisms and limits. The agreement with SCALE-Sim's own runs is in test_peers.py."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tokenfab import api
from tokenfab.arch_models.systolic_array import memory, timing
from tokenfab.errors import UsageError

BIG = (1 << 20, 1 << 20, 1 << 20)


@pytest.mark.parametrize("df", ["os", "ws", "is"])
@pytest.mark.parametrize("R,C,M,K,N", [(16, 16, 64, 256, 256), (8, 4, 37, 29, 50),
                                       (4, 8, 1, 100, 9)])
def test_unlimited_bandwidth_gives_the_compute_cycles(df, R, C, M, K, N):
    """With ports far faster than the array, the only extra cycles are the prologue
    (the first half of each read SRAM) and the last outputs' drain: the compute span is
    SCALE-Sim's compute report (its total_cycles + 1)."""
    r = memory.gemm_with_memory(R, C, df, M, K, N, BIG, 1e9)
    assert r["compute_cycles"] == timing.scalesim(R, C, df, M, K, N)["cycles"] + 1
    assert r["read_stall_cycles"] == r["write_stall_cycles"] == 0
    assert r["total_cycles"] == r["compute_cycles"] + r["prologue_cycles"] + \
        r["drain_tail_cycles"] and r["prologue_cycles"] <= 1 and r["drain_tail_cycles"] <= 1


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_outputs_written_are_every_folds(df):
    M, K, N, R, C = 40, 70, 33, 16, 8
    r = memory.gemm_with_memory(R, C, df, M, K, N, BIG, 4)
    rows, cols, _ = timing.fold_dims(df, M, K, N)
    row_folds = -(-rows // R)
    # OS writes each output once; WS and IS write each row fold's partial sums
    assert r["dram_words"]["ofmap"] == (M * N if df == "os" else M * N * row_folds)


@pytest.mark.parametrize("drain", memory.DRAINS)
@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_less_bandwidth_never_runs_faster(df, drain):
    M, K, N = 64, 96, 80
    by_bw = [memory.gemm_with_memory(16, 16, df, M, K, N, (8192, 8192, 1024), bw,
                                     drain)["total_cycles"] for bw in (64, 16, 4, 1)]
    assert by_bw == sorted(by_bw) and by_bw[-1] > by_bw[0]


def test_a_larger_ofmap_half_drains_later():
    """The ofmap port moves whole halves: a larger SRAM starts its first drain later and
    leaves more for the end (SCALE-Sim shows the same: OS 48x96x200 at 2 words a cycle
    takes 14,837 cycles with 1 KiB and 17,950 with 16 KiB)."""
    small, large = (memory.gemm_with_memory(16, 16, "os", 48, 96, 200,
                                            (1 << 14, 1 << 16, o), 2)
                    for o in (1024, 16384))
    assert large["drain_tail_cycles"] > small["drain_tail_cycles"]
    assert large["total_cycles"] > small["total_cycles"]


def test_an_ofmap_bound_gemm_runs_at_the_port():
    """WS writes 16 partial-sum words a cycle while it streams; at 2 words a cycle the
    port decides: total = prologue + every written word / 2, within a fold's fill and
    the last half's drain."""
    r = memory.gemm_with_memory(16, 16, "ws", 256, 128, 256, (1 << 16, 1 << 16, 1024), 2)
    bound = r["prologue_cycles"] + r["dram_words"]["ofmap"] / 2
    assert bound <= r["total_cycles"] <= bound + 16 * 16 + 1024


def test_a_streamed_operand_is_fetched_once_per_pass_of_the_fold_order():
    """OS walks the row folds (M) inside the column folds (N): an ifmap that does not fit
    half its SRAM is read once per column fold, the filter once; more SRAM makes the
    ifmap resident and cuts its traffic to one read."""
    M, K, N = 64, 256, 256
    small = memory.gemm_with_memory(16, 16, "os", M, K, N, (16384, 16384, 16384), 8)
    assert small["dram_words"]["ifmap"] == M * K * (N // 16)
    assert small["dram_words"]["filter"] == K * N
    big = memory.gemm_with_memory(16, 16, "os", M, K, N, (32768, 16384 * 16, 16384), 8)
    assert big["dram_words"]["ifmap"] == M * K and "ifmap" in big["resident"]
    assert big["total_cycles"] < small["total_cycles"]


def test_a_slice_that_cannot_be_double_buffered_is_refused():
    with pytest.raises(UsageError, match=r"ifmap SRAM \(4096 words\) cannot double-buffer "
                       r"one fold's ifmap slice \(4096 words\).*needs at least 8192"):
        memory.gemm_with_memory(16, 16, "os", 64, 256, 256, (4096, 1 << 20, 4096), 8)


@pytest.mark.parametrize("kw,match", [
    ({"sram": "64KiB,64KiB", "bandwidth": 8}, "three sizes"),
    ({"sram": "64KiB,64KiB,1MB/s", "bandwidth": 8}, "must be a size such as"),
    ({"sram": "64KiB,64KiB,4KiB", "bandwidth": "8GB/s"}, "bytes per cycle such as"),
    ({"sram": "64KiB,64KiB,4KiB"}, "go together"),
    ({"sram": "64KiB,64KiB,4KiB", "bandwidth": 8, "drain": "lazy"}, "drain must be one of"),
])
def test_bad_memory_arguments_name_the_value(kw, match):
    with pytest.raises(UsageError, match=match):
        api.design("systolic-array").gemm(64, 64, 64, **kw)


def test_other_designs_refuse_sram():
    with pytest.raises(UsageError, match="mac-array maps onto a system file"):
        api.design("mac-array").gemm(64, 64, 64, sram="64KiB,64KiB,4KiB", bandwidth=8)


def test_the_api_prices_words_at_the_arrays_widths():
    """Through the API sizes are bytes: INT8 operands and 32-bit partial sums make the
    ofmap word four bytes, so the same SRAMs and port carry a quarter of the words an
    8-bit accumulator would write, and the ofmap-bound GEMM takes about four times as
    long."""
    kw = dict(sram=("16KiB", "64KiB", "4KiB"), bandwidth="8B/cycle")
    wide = api.design("systolic-array", dataflow="ws").gemm(128, 128, 256, **kw)["memory"]
    narrow = api.design("systolic-array", dataflow="ws", acc_bits=8).gemm(
        128, 128, 256, **kw)["memory"]
    assert wide["dram_bytes"]["ofmap"] == 4 * narrow["dram_bytes"]["ofmap"]
    assert 3.0 < wide["total_cycles"] / narrow["total_cycles"] < 4.2


def test_cli_gemm_with_memory(tmp_path):
    cmd = [sys.executable, "-m", "tokenfab", "gemm", "systolic-array", "-p", "dataflow=ws",
           "--shape", "64,256,256", "--sram", "64KiB,64KiB,4KiB", "--bandwidth", "8",
           "--json"]
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    assert out["memory"]["total_cycles"] > out["cycles"]
    bad = subprocess.run(cmd[:-3] + ["--bandwidth", "fast"], capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
