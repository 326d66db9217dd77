"""The mapper against the peer that does this job: ZigZag's best mappings, recorded by
``benchmarks/peers/zigzag_reference.py`` (ZigZag is never run here; CI reads the data)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokenfab.arch_models.common import mapper

DATA = json.loads((Path(__file__).parent / "data" / "zigzag_reference.json").read_text())
RECORDS = DATA["records"]
GBUF = frozenset({"weights", "activations", "outputs"})
OPS = ("activations", "weights", "outputs")


def _problem(rec):
    # INT8 operands, 32-bit partial sums, each GEMM alone (its input from DRAM)
    return mapper.Problem(rec["M"], rec["K"], rec["N"], 1, (1.0, 1.0, 1.0), 4.0, False)


def _zigzag_dram(rec, unit: str = "bytes") -> dict:
    """What each operand moves at DRAM in ZigZag's mapping: (read, written), in bytes
    or in elements (accesses)."""
    out = {}
    for op, dirs in rec["levels"]["dram"].items():
        rd, wr = dirs["rd_out_to_low"], dirs["wr_in_by_low"]
        if unit == "elements":
            out[op] = (rd["elements"], wr["elements"])
        else:
            out[op] = (rd["elements"] * rd["bits"] / 8, wr["elements"] * wr["bits"] / 8)
    return out


def test_the_reference_covers_the_issue():
    shapes = {r["shape"] for r in RECORDS}
    assert len(shapes) >= 20 and {r["gbuf_kib"] for r in RECORDS} == {64, 256, 1024}
    assert any(r["M"] == 1 for r in RECORDS) and any(r["M"] >= 512 for r in RECORDS)
    assert any(s.startswith("70b") for s in shapes) and any(s.startswith("7b") for s in shapes)


def _ours(rec) -> float:
    """tokenfab's own search on the same machine: a 16 x 16 array splitting N and K,
    one double-buffered buffer, DRAM; minimal energy like ZigZag's."""
    lv = (mapper.LevelSpec("gbuf", rec["gbuf_kib"] * 1024, GBUF, True, 1e15),)
    return mapper.map_gemm(_problem(rec), lv, (1, 16, 16), "mnk", 1e15, 0.0, "energy",
                           units=1).dram_bytes


def _theirs(rec) -> float:
    return sum(r + w for r, w in _zigzag_dram(rec).values())


EXHAUSTIVE = [r for r in RECORDS if r["engine"] == "loma"]
SAMPLED = [r for r in RECORDS if r["engine"] == "salsa"]
# ZigZag's best here keeps a different tile of each operand in the one buffer (its
# "uneven" mappings); tokenfab has one tile per level and moves 10.7% more.
UNEVEN = {("7b-lm_head-M512", 1024)}


@pytest.mark.parametrize("rec", EXHAUSTIVE, ids=lambda r: f"{r['shape']}-{r['gbuf_kib']}KiB")
def test_decode_mappings_move_what_zigzags_best_moves(rec):
    """Where ZigZag's LOMA search is exhaustive (decode and batched decode: few loop
    factors), tokenfab's mapping moves the DRAM bytes of ZigZag's best within 10%."""
    assert _ours(rec) == pytest.approx(_theirs(rec), rel=0.10)


@pytest.mark.parametrize("rec", [
    pytest.param(r, marks=pytest.mark.xfail(strict=True, reason="per-operand tiles"))
    if (r["shape"], r["gbuf_kib"]) in UNEVEN else r for r in SAMPLED],
    ids=lambda r: f"{r['shape']}-{r['gbuf_kib']}KiB")
def test_prefill_mappings_move_no_more_than_zigzags_best(rec):
    """On prefill ZigZag samples the space (SALSA); its best is an upper bound that
    tokenfab's search must meet within 10%. Where tokenfab moves less, its mapping is
    legal (test_systems checks capacity) and its arithmetic is ZigZag's (below): in the
    one point checked by exhaustive LOMA at lpf 9 (7b-qkvo-M512, 64 KiB, 341 s) ZigZag
    found exactly tokenfab's 270.53 MB."""
    assert _ours(rec) <= 1.10 * _theirs(rec)


def _fetches(rec, op: str) -> tuple[float, float]:
    """Our fills and drains of ``op`` at the buffer, in elements, under ZigZag's own loop
    nest: the loops above the buffer for that operand, each factor a level of its own."""
    p = mapper.Problem(rec["M"], rec["K"], rec["N"], 1, (1.0, 1.0, 1.0), 1.0, False)
    full = (p.m, p.k, p.n)
    dims = {"B": "m", "C": "k", "K": "n"}
    above = [(dims[d], s) for d, s in rec["temporal_mapping"][op][2]][::-1]  # outer first
    loops, tiles, left = [], [], list(full)
    for j, (d, trips) in enumerate(above):
        i = mapper.DIMS.index(d)
        left[i] //= trips
        loops.append((d, j))
        tiles.append(tuple(left))
    fills, drains = mapper._traffic_for(p, loops, op, tiles)
    return float(fills), float(drains)


@pytest.mark.parametrize("rec", RECORDS, ids=lambda r: f"{r['shape']}-{r['gbuf_kib']}KiB")
def test_same_mapping_same_dram_accesses(rec):
    """Given ZigZag's mapping, tokenfab's access arithmetic gives each operand's DRAM
    reads and writes (element accesses, partial sums included) as ZigZag counts them,
    within 10%. (In bytes the outputs differ where partial sums go to DRAM: ZigZag
    writes every visit at the 32-bit partial-sum width, tokenfab the last, finished one
    at the 8-bit output width.)"""
    theirs = _zigzag_dram(rec, "elements")
    for op in OPS:
        fills, drains = _fetches(rec, op)
        read, written = theirs[op]
        assert fills == pytest.approx(read, rel=0.10, abs=1.0), op
        assert drains == pytest.approx(written, rel=0.10, abs=1.0), op


# ---------------------------------------------------------------- SCALE-Sim 3, USER bandwidth
# Recorded by benchmarks/peers/scalesim_reference.py (SCALE-Sim is never run here).
from tokenfab.arch_models.systolic_array import memory  # noqa: E402

SCALESIM = json.loads((Path(__file__).parent / "data" / "scalesim_user.json").read_text())
SS_RESIDENT = [r for r in SCALESIM["records"] if r["regime"] == "resident"]
SS_STREAMING = [r for r in SCALESIM["records"] if r["regime"] == "streaming"]
SS_TOTAL = "Total Cycles (incl. prefetch)"


def _ss_model(rec, drain="on-write"):
    kib = [rec[f"{op}_kb"] * 1024 for op in memory.OPERANDS]   # one-byte words
    return memory.gemm_with_memory(rec["rows"], rec["cols"], rec["dataflow"], rec["M"],
                                   rec["K"], rec["N"], tuple(kib), rec["words_per_cycle"],
                                   drain)


def _ss_id(rec):
    return (f"{rec['dataflow']}-{rec['M']}x{rec['K']}x{rec['N']}-o{rec['ofmap_kb']}KiB-"
            f"bw{rec['words_per_cycle']}")


def test_the_scalesim_reference_covers_the_issue():
    shapes = {(r["M"], r["K"], r["N"]) for r in SS_RESIDENT}
    assert len(shapes) >= 10
    assert len({r["ofmap_kb"] for r in SS_RESIDENT}) >= 2
    assert len({r["words_per_cycle"] for r in SS_RESIDENT}) >= 2
    assert {r["dataflow"] for r in SS_RESIDENT} == {"os", "ws", "is"}


@pytest.mark.parametrize("rec", SS_RESIDENT, ids=_ss_id)
def test_scalesim_user_mode_total_cycles(rec):
    """With SCALE-Sim's ofmap controller (``on-write``), the model's cycles from the first
    DRAM read to the last DRAM write are SCALE-Sim's within 10% over 12 shapes x 3
    dataflows x 2 ofmap SRAMs x 3 bandwidths, except where SCALE-Sim starts its final
    flush while a drain is still running (``write_buffer.empty_all_buffers`` ignores
    ``drain_end_cycle``: two halves at once over one port). There the model's wait for
    that drain is the whole difference: without it the two agree within 1%."""
    r = _ss_model(rec)
    theirs = rec[SS_TOTAL]
    if r["total_cycles"] != pytest.approx(theirs, rel=0.10):
        assert r["flush_wait_cycles"] > 0.05 * theirs
        assert r["total_cycles"] - r["flush_wait_cycles"] == pytest.approx(theirs, rel=0.01)


@pytest.mark.parametrize("rec", SS_RESIDENT, ids=_ss_id)
def test_scalesim_moves_what_the_fold_order_moves_when_operands_are_resident(rec):
    """DRAM traffic: the ifmap and filter once (SCALE-Sim counts whole lines of its
    fetch matrix, the null padding of ragged folds included: up to 7% more here), and
    every fold's outputs (WS and IS: partial sums per row fold), SCALE-Sim's count
    within 1% or 32 words (its drained lines count some null slots)."""
    w = _ss_model(rec)["dram_words"]
    for op, key in (("ifmap", "DRAM IFMAP Reads"), ("filter", "DRAM Filter Reads")):
        assert w[op] <= rec[key] <= 1.10 * w[op]
    assert abs(rec["DRAM OFMAP Writes"] - w["ofmap"]) <= max(32, 0.01 * w["ofmap"])


@pytest.mark.parametrize("rec", SS_STREAMING, ids=_ss_id)
def test_scalesim_streaming_refetches_through_its_ring(rec):
    """Where an operand streams, SCALE-Sim's ring of 100 sets re-fetches it at least
    twice as often as the fold order needs (SCALE-Sim issue #130), and its cycles are
    at least those of the model, which fetches what the fold order needs. Not compared
    within 10%: the difference is SCALE-Sim's, and the note gives its size."""
    r = _ss_model(rec)
    assert not r["resident"]
    ratios = [rec["DRAM IFMAP Reads"] / r["dram_words"]["ifmap"],
              rec["DRAM Filter Reads"] / r["dram_words"]["filter"]]
    assert max(ratios) >= 2.0
    assert rec[SS_TOTAL] > r["total_cycles"]
