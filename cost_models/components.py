"""Area and energy from component counts (gate equivalents), scaled by node.

Gate areas and switching energies are ZigZag's 28 nm values (``data/tech.json``); other
nodes are reached with the Stillmaker-Baas factors. A design's cost hook returns two
counters: ``per_step`` gates switch every step cycle, ``per_tile`` gates once per beat.

A step's dynamic energy has two parts, as the units synthesised onto a real library
spend it (``tokenfab asic``; ``tests/test_component_model.py``): every flip-flop's clock
pin, each clock cycle whether or not its data moves, and the gates' output transitions,
a calibrated fraction (``gate_activity``) of the counted gates per busy step. A cycle in
which the unit holds no operands (a systolic array's fill and drain) pays the clock only.
"""
from __future__ import annotations

import dataclasses
import math
from collections import Counter

from tokenfab.calibration import calibrated
from tokenfab.cost_models import tech

GATES = ("fa", "dff", "mux2", "xor2", "nand2")

ACTIVITY = calibrated(
    "gate_activity", tech.value("gates_28nm", "activity"),
    fitted_to="dynamic energy per cycle of the seven units synthesised onto "
              "sky130_fd_sc_hd and simulated at gate level on random operands "
              "(tests/data/asic_units.json, one point per design; their switching, "
              "the dynamic energy less the clock pins')",
    drives="every unit's dynamic energy from its component counts (tile designs, arrays, "
           "SAIL's block, HNLPU's array)")


@dataclasses.dataclass
class Components:
    """Gates switching every step (``per_step``) and once per tile of
    ``cycles_per_tile`` steps (``per_tile``). ``shared`` are gates that exist but do the
    work counted in ``per_tile`` in time-multiplexed form (e.g. one unit serving many
    PEs): when given, the area counts ``per_step + shared`` instead."""
    per_step: Counter
    per_tile: Counter
    cycles_per_tile: float
    shared: Counter | None = None
    # Gates the unit's RTL holds that the cost boundary places outside the unit (a GPU
    # tensor core's accumulators in the register file): not in ``gates`` or the area,
    # switched once per tile in the energy, reported by ``outside_area_m2``.
    outside: Counter | None = None
    # The gates as they switch in one step on average where a datapath's words were
    # followed value by value (``word_toggles``) instead of every gate being taken to
    # switch at the activity: replaces ``per_step`` and ``per_tile`` in the energy only.
    switching: Counter | None = None

    def gates(self) -> Counter:
        return self.per_step + (self.per_tile if self.shared is None else self.shared)

    def outside_area_m2(self, node: int) -> float:
        return Components(Counter(), self.outside or Counter(), 1).area_m2(node)

    def area_m2(self, node: int) -> float:
        a = sum(n * tech.value("gates_28nm", f"{g}_area") for g, n in self.gates().items())
        return a * tech.scale(node, "area")

    def switched(self) -> Counter:
        """The gates that switch in one step on average: every step's, and a tile's
        (the unit's and those outside it) spread over its steps."""
        if self.switching is not None:
            return self.switching
        per_tile = self.per_tile + (self.outside or Counter())
        return self.per_step + times(per_tile, 1 / self.cycles_per_tile)

    def clock_j(self, node: int) -> float:
        """Energy of one clock cycle on every flip-flop's clock pin."""
        return (self.gates()["dff"] * tech.value("gates_28nm", "dff_clock_energy")
                * tech.scale(node, "energy"))

    def data_j(self, node: int, activity: float | None = None) -> float:
        """The gates' switching in one busy step, at the calibrated activity."""
        act = ACTIVITY if activity is None else activity
        dyn = act * sum(n * tech.value("gates_28nm", f"{g}_energy")
                             for g, n in self.switched().items())
        return dyn * tech.scale(node, "energy")

    def energy_per_step_j(self, node: int, busy: float = 1.0) -> float:
        """Dynamic energy of one step cycle: the clock, and the gates' switching for the
        ``busy`` fraction of the unit's operands that the step holds."""
        return self.clock_j(node) + busy * self.data_j(node)

    def leakage_w(self, node: int, clock_hz: float) -> float:
        """Static power as an assumed fraction of full-load power (see tech.json)."""
        frac = tech.value("gates_28nm", "leakage_fraction")
        dyn = self.energy_per_step_j(node) * clock_hz
        return dyn * frac / (1 - frac)


def leakage_w_per_m2(node: int, clock_hz: float) -> float:
    """Static power per m2 of logic at ``node`` by the same rule as ``leakage_w``: a full
    adder's share of full-load power over its area (the gate model's own average)."""
    fa = Components(Counter(fa=1), Counter(), 1)
    return fa.leakage_w(node, clock_hz) / fa.area_m2(node)


def times(counter: Counter, n: float) -> Counter:
    """``n`` copies of the gates in ``counter`` (``n`` may be a fraction)."""
    return Counter({g: v * n for g, v in counter.items()})


def adder(bits: int) -> Counter:
    return Counter(fa=bits)


def register(bits: int) -> Counter:
    return Counter(dff=bits)


def half_adder() -> Counter:
    """A half adder: the sum's XOR2 and the carry's AND (a NAND2 equivalent)."""
    return Counter(xor2=1, nand2=1)


def popcount(n: int) -> Counter:
    """An ``n``-input population count as a carry-save counter: each column of equal
    weight reduced to one bit by full adders (three bits to one, a carry out) and a half
    adder where two are left, the carries going one column up."""
    out, column = Counter(), n
    while column:
        carries = 0
        while column >= 3:
            out["fa"] += 1
            column -= 2
            carries += 1
        if column == 2:
            out += half_adder()
            carries += 1
        column = carries
    return out


def word_toggles(values, width: int) -> float:
    """Random-word equivalents of a ``width``-bit two's-complement word that takes
    ``values`` in successive steps: the mean number of its bits that flip per step, over
    the 0.5 a bit of a random word flips. A word's high bits that only extend its sign
    flip when the sign does (the dual-bit-type view of Landman and Rabaey, IEEE TVLSI
    1995), so a partial sum that keeps its sign while it grows switches far fewer bits
    than its width. An adder or register producing the word counts this many gates
    switching at the activity."""
    import numpy as np
    u = np.asarray(values, dtype=np.int64) & ((1 << width) - 1)
    flips = u[1:] ^ u[:-1]
    bits = sum(((flips >> b) & 1).sum() for b in range(width))
    return float(bits) / max(len(flips), 1) / 0.5


def mux_tree(inputs: int, bits: int) -> Counter:
    return Counter(mux2=(inputs - 1) * bits)


def array_multiplier(a_bits: int, b_bits: int) -> Counter:
    """An a x b array multiplier: a*b partial-product ANDs and (a-1)*b full adders."""
    return Counter(nand2=a_bits * b_bits, fa=(a_bits - 1) * b_bits)


def scaled_horowitz(op: str, node: int) -> float:
    """A Horowitz 45 nm operation energy scaled to ``node``."""
    return tech.value("horowitz_45nm", op) * tech.scale(node, "energy", ref=45)


def fp16_multiplier(b_bits: int = 11) -> Counter:
    """An FP16 product kept exact for the adder: the 11 x ``b_bits`` significand multiplier
    (11 for FP16 x FP16; the weight width for FP16 x INT), the exponent sum and the sign."""
    return array_multiplier(11, b_bits) + adder(6) + Counter(xor2=1)


def fused_dot_product(n: int, width: int = 24) -> Counter:
    """An ``n``-input floating-point sum as tensor cores build it (one alignment to the
    largest exponent, one integer adder tree, one normalise and round; Fasi et al., 'Numerical
    behavior of NVIDIA tensor cores', PeerJ CS 2021, describe this structure): the
    exponent maximum (n-1 compare-and-select), ``n`` alignment shifters of ``width`` bits,
    the adder tree, then the leading-one detector, normalising shifter, rounding and
    exponent arithmetic of one FP32 result."""
    tree = width + math.ceil(math.log2(n))
    return (times(adder(8) + Counter(mux2=8), n - 1)
            + times(barrel_shifter(width, width), n)
            + times(adder(tree), n - 1)
            + Counter(nand2=tree) + barrel_shifter(tree, tree) + adder(25) + adder(12))


def fp16_tensor_core(m: int, n: int, k: int, weight_bits: int = 0) -> Components:
    """One FP16 tensor core of ``m x n x k`` MACs per cycle, FP32 accumulate: ``m*n*k``
    FP16 multipliers, per output one fused dot product of its ``k`` products and the
    accumulator C, and the A and B operand registers. C and D stay in the register file
    (the GPU boundary the LUT Tensor Core paper uses). ``weight_bits``: B holds integer
    weights of that width (a mixed FP16 x INT multiplier); 0: FP16 B."""
    b = weight_bits or 11
    per_step = (times(fp16_multiplier(b), m * n * k) + times(fused_dot_product(k + 1), m * n)
                + register(16 * m * k + (weight_bits or 16) * n * k))
    return Components(per_step, Counter(), 1)


def fp16_fma() -> Counter:
    """One FP16 multiply with FP32 accumulate: an 11 x 11 significand multiplier and the
    FP32 adder (a vector-unit lane)."""
    return fp16_multiplier() + fp32_adder()


def barrel_shifter(bits: int, max_shift: int) -> Counter:
    """A logarithmic shifter: one row of 2:1 muxes per bit of the shift amount."""
    return Counter(mux2=bits * max(1, math.ceil(math.log2(max_shift + 1))))


def fp32_adder() -> Counter:
    """An FP32 adder (RNE, normal numbers) as ``tokenfab.hw.common.fp.fp32_add`` builds
    it: magnitude compare and swap, alignment shifter with sticky, 28-bit add/subtract,
    leading-one detector, normalising shifter, rounding and exponent arithmetic."""
    return (adder(31) + Counter(mux2=3 * 32) + barrel_shifter(59, 31) + Counter(nand2=32)
            + adder(28) + Counter(nand2=28) + barrel_shifter(28, 27) + adder(25)
            + adder(12) + adder(12))


def int_times_fp16_to_fp32(int_bits: int) -> Counter:
    """``int x FP16 significand`` rounded once to FP32
    (``tokenfab.hw.common.fp.scaled_int_to_fp32``): negation, the multiplier,
    leading-one detector, normalising shifter, rounding and exponent arithmetic."""
    w = int_bits + 11
    return (adder(int_bits) + array_multiplier(int_bits, 11) + Counter(nand2=w)
            + barrel_shifter(w, w) + adder(25) + adder(12))
