"""Cycle-based, zero-delay simulation of a mapped netlist, counting every net's toggles.

The silicon flow's power comes from switching activity: the design's own stimulus is run
on the netlist Yosys and ABC mapped onto the library, and each net's transitions are
counted. The cells are evaluated from the library itself: each output pin's ``function``
becomes a truth table, each flip-flop's ``ff`` group (``next_state``, ``clear``,
``preset``) its state update, so no per-library simulation models are needed. The netlist
is levelised once; a cycle evaluates level by level with numpy (one gather of every
cell's inputs, one table lookup per level), then the flip-flops take their next state.

Zero delay: a net changes at most once per cycle (no glitches), as activity-based power
tools that take one value per cycle assume. Cells this cannot simulate are refused by name:
latches, three-state outputs, flip-flops not clocked by the design's clock or clocked on
its falling edge. An asynchronous clear or preset acts at the clock edge.
"""
from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

from tokenfab.errors import UsageError

CONST0, CONST1 = 0, 1
_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|([01])|(\S))")


def truth_table(expr: str, names: list[str]) -> np.ndarray:
    """The Liberty ``function`` ``expr`` as a uint8 table over ``names``: entry ``i`` is the
    value when input ``j`` is bit ``j`` of ``i``. Operators: ``!`` and postfix ``'`` (not),
    ``&``, ``*`` and juxtaposition (and), ``^`` (xor), ``|`` and ``+`` (or)."""
    tokens = []
    for name, const, op in _TOKEN.findall(expr):
        tokens.append(("id", name) if name else ("c", const) if const else ("op", op))
    n = len(names)
    combos = np.arange(1 << n)
    var = {nm: ((combos >> j) & 1).astype(bool) for j, nm in enumerate(names)}
    pos = [0]

    def peek():
        return tokens[pos[0]] if pos[0] < len(tokens) else (None, None)

    def take():
        pos[0] += 1
        return tokens[pos[0] - 1]

    def atom():
        kind, val = take() if pos[0] < len(tokens) else (None, None)
        if kind == "op" and val == "!":
            return ~atom()
        if kind == "op" and val == "(":
            v = or_()
            if take() != ("op", ")"):
                raise ValueError("missing ')'")
        elif kind == "id":
            if val not in var:
                raise ValueError(f"unknown pin {val}")
            v = var[val]
        elif kind == "c":
            v = np.full(combos.shape, val == "1")
        else:
            raise ValueError(f"unexpected {val!r}")
        while peek() == ("op", "'"):
            take()
            v = ~v
        return v

    def and_():
        v = atom()
        while True:
            kind, val = peek()
            if kind == "op" and val in "&*":
                take()
                v = v & atom()
            elif kind in ("id", "c") or (kind == "op" and val in "(!"):
                v = v & atom()                      # juxtaposition
            else:
                return v

    def xor_():
        v = and_()
        while peek() == ("op", "^"):
            take()
            v = v ^ and_()
        return v

    def or_():
        v = xor_()
        while peek()[0] == "op" and peek()[1] in "|+":
            take()
            v = v | xor_()
        return v
    try:
        out = or_()
        if pos[0] != len(tokens):
            raise ValueError(f"unexpected {tokens[pos[0]][1]!r}")
    except (ValueError, IndexError) as exc:
        raise UsageError(f"Liberty function {expr!r} cannot be read: {exc}") from None
    return np.broadcast_to(out, combos.shape).astype(np.uint8)


def _pins_of(expr: str) -> list[str]:
    return sorted({t for t in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr)})


class GateSim:
    """A netlist (Yosys JSON, flattened, library cells) compiled for simulation.

    ``ports``: name -> net indices (LSB first; net 0 and 1 are the constants);
    ``values``: every net's value; ``toggles`` and ``ones``: transitions and cycles at 1
    per net since ``start``; ``ff_outputs``: the nets the flip-flops drive."""

    def __init__(self, netlist: dict, top: str, lib, clock: str = "clk"):
        mod = netlist["modules"][top]
        self.index: dict = {}
        self.ports = {}
        self.directions = {}
        for pname, port in mod["ports"].items():
            self.ports[pname] = np.array([self._net(b) for b in port["bits"]], np.int64)
            self.directions[pname] = port["direction"]
        if clock not in self.ports:
            raise UsageError(f"the netlist has no clock port {clock!r}")
        clk_net = int(self.ports[clock][0])
        nodes, ffs = [], []          # nodes: (out net, in nets, table); ffs: per flip-flop
        self.cells = []              # (instance, type, {pin: net}) for the power model
        for inst, c in mod["cells"].items():
            d = lib.cells.get(c["type"])
            if d is None:
                raise UsageError(f"cell {c['type']} of the mapped netlist is not in the library")
            pins = {p: self._net(bits[0]) for p, bits in c["connections"].items() if bits}
            self.cells.append((inst, c["type"], pins))
            if d["latch"]:
                raise UsageError(f"{inst} ({c['type']}) is a latch; the gate-level "
                                 "simulation takes flip-flops only")
            if any(o["three_state"] for o in d["outputs"].values()):
                raise UsageError(f"{inst} ({c['type']}) has a three-state output; the "
                                 "gate-level simulation takes none")
            if d["ff"]:
                ffs.append(self._flip_flop(inst, c["type"], d, pins, clk_net))
                continue
            for o, out in d["outputs"].items():
                if o not in pins:
                    continue
                fn = out["function"]
                if fn is None:
                    raise UsageError(f"{inst} ({c['type']}) output {o} has no function")
                names = _pins_of(fn)
                nodes.append((pins[o], [pins.get(nm, CONST0) for nm in names],
                              truth_table(fn, names)))
        # flip-flop outputs are functions of the state (IQ) and its complement (IQ_N)
        state = np.array([f["state"] for f in ffs], np.int64).reshape(-1, 2)
        self.state_nets, self.state_n_nets = state[:, 0], state[:, 1]
        for f in ffs:
            nodes.extend(f["outputs"])
        self.ff_outputs = np.array(sorted({o for f in ffs for o, _, _ in f["outputs"]}),
                                   np.int64)
        self._levelise(nodes)
        self._ff_tables(ffs)
        self.real = np.ones(len(self.index) + 2, bool)     # nets that exist in the netlist
        self.real[[CONST0, CONST1]] = False
        self.real[self.state_nets] = False
        self.real[self.state_n_nets] = False
        self.values = np.zeros(len(self.index) + 2, np.uint8)
        self.values[CONST1] = 1
        self.state = np.zeros(len(ffs), np.uint8)
        self.toggles = np.zeros(len(self.values), np.int64)
        self.ones = np.zeros(len(self.values), np.int64)       # cycles at 1 (duty)
        self._last = self.values.copy()
        self.cycles = 0

    # ------------------------------------------------------------ building
    def _net(self, bit) -> int:
        if isinstance(bit, str):
            return CONST1 if bit == "1" else CONST0        # "0", "x", "z": 0
        if bit not in self.index:
            self.index[bit] = len(self.index) + 2
        return self.index[bit]

    def _pseudo(self) -> int:
        key = ("state", len(self.index))
        self.index[key] = len(self.index) + 2
        return self.index[key]

    def _flip_flop(self, inst, ctype, d, pins, clk_net) -> dict:
        g = d["ff_group"]
        clocked = (g or {}).get("clocked_on") or ""
        if clocked.startswith("!"):
            raise UsageError(f"{inst} ({ctype}) is clocked on the falling edge; the "
                             "gate-level simulation takes rising-edge flip-flops only")
        if pins.get(clocked) != clk_net:
            raise UsageError(f"{inst} ({ctype}) is not clocked by the design's clock "
                             "(a gated or derived clock); the gate-level simulation takes "
                             "one clock")
        iq, iq_n = (g["state"] + ["IQ_N"])[:2]
        s, sn = self._pseudo(), self._pseudo()
        env = {**pins, iq: s, iq_n: sn}

        def table(expr):
            if not expr:
                return None
            names = _pins_of(expr)
            return [env.get(nm, CONST0) for nm in names], truth_table(expr, names)
        outputs = []
        for o, out in d["outputs"].items():
            if o in pins and out["function"]:
                ins, tt = table(out["function"])
                outputs.append((pins[o], ins, tt))
        return {"state": (s, sn), "outputs": outputs, "next": table(g["next_state"]),
                "clear": table(g["clear"]), "preset": table(g["preset"])}

    def _levelise(self, nodes) -> None:
        driver = {}
        for i, (out, _, _) in enumerate(nodes):
            if out in driver:
                raise UsageError("the mapped netlist drives one net from two cells")
            driver[out] = i
        level = {}
        for start in range(len(nodes)):             # iterative depth-first levelling
            if start in level:
                continue
            stack = [(start, False)]
            on_stack = set()
            while stack:
                i, done = stack.pop()
                if done:
                    on_stack.discard(i)
                    level[i] = 1 + max((level[driver[n]] for n in nodes[i][1] if n in driver),
                                       default=0)
                    continue
                if i in level:
                    continue
                on_stack.add(i)
                stack.append((i, True))
                for n in nodes[i][1]:
                    j = driver.get(n)
                    if j is not None and j not in level:
                        if j in on_stack:
                            raise UsageError("the mapped netlist has a combinational loop; "
                                             "the gate-level simulation needs none")
                        stack.append((j, False))
        by_level = defaultdict(list)
        for i, lv in level.items():
            by_level[lv].append(i)
        self.levels = [self._group([nodes[i] for i in by_level[lv]]) for lv in sorted(by_level)]

    @staticmethod
    def _group(nodes):
        """Arrays for one level: inputs padded with the constant 0 (bit weights 0 there
        never change the index), offsets into the level's concatenated tables."""
        k = max(len(ins) for _, ins, _ in nodes) or 1
        ins = np.full((len(nodes), k), CONST0, np.int64)
        offs = np.zeros(len(nodes), np.int64)
        tables, at = [], 0
        for r, (_, i, tt) in enumerate(nodes):
            ins[r, :len(i)] = i
            offs[r] = at
            tables.append(tt)
            at += len(tt)
        outs = np.array([o for o, _, _ in nodes], np.int64)
        shifts = np.arange(k, dtype=np.int64)
        return outs, ins, shifts, offs, np.concatenate(tables)

    def _ff_tables(self, ffs) -> None:
        self.ff_next = self._group([(0, *f["next"]) for f in ffs]) if ffs else None
        self.ff_force = []           # (flip-flops, their clear or preset, the forced value)
        for key, value in (("clear", 0), ("preset", 1)):
            rows = [(i, *f[key]) for i, f in enumerate(ffs) if f[key]]
            if rows:
                self.ff_force.append((np.array([r[0] for r in rows], np.int64),
                                      self._group(rows), value))

    # ------------------------------------------------------------ running
    @staticmethod
    def _eval(v, group):
        _, ins, shifts, offs, tt = group
        return tt[offs + (v[ins].astype(np.int64) << shifts).sum(axis=1)]

    def settle(self) -> None:
        """Evaluate the combinational logic from the inputs and the state."""
        v = self.values
        v[self.state_nets] = self.state
        v[self.state_n_nets] = 1 - self.state
        for group in self.levels:
            v[group[0]] = self._eval(v, group)

    def step(self, count: bool = True) -> None:
        """After ``settle``: count the transitions since the last cycle, then clock."""
        if count:
            self.toggles += (self.values != self._last) & self.real
            self.ones += self.values
            self.cycles += 1
        self._last = self.values.copy()
        if self.ff_next is not None:
            nxt = self._eval(self.values, self.ff_next)
            for idx, group, value in self.ff_force:
                nxt[idx[self._eval(self.values, group) == 1]] = value
            self.state = nxt.astype(np.uint8)

    def set(self, port: str, value: int) -> None:
        nets = self.ports[port]
        bits = np.array([(value >> j) & 1 for j in range(len(nets))], np.uint8)
        self.values[nets] = bits

    def get(self, port: str) -> int:
        bits = self.values[self.ports[port]]
        return int("".join("1" if b else "0" for b in bits[::-1]) or "0", 2)

    def start(self) -> None:
        """Begin counting: the present values are the reference for the first toggle."""
        self._last = self.values.copy()
        self.toggles[:] = 0
        self.ones[:] = 0
        self.cycles = 0
