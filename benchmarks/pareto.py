"""Pareto front of 10,000 sweep rows (``tokenfab.sweeps.pareto``), the goal < 1 s:
random objectives (a small front) and the worst case (every row on the front), for two,
three and four objectives.

    .venv/bin/python benchmarks/pareto.py
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from tokenfab.sweeps import pareto


def main(n: int = 10_000) -> None:
    rng = np.random.default_rng(0)
    for k in (2, 3, 4):
        sphere = np.abs(rng.normal(size=(n, k)))
        sphere /= np.linalg.norm(sphere, axis=1, keepdims=True)
        for case, vals in (("random", rng.random((n, k))), ("all on the front", -sphere)):
            cols = [f"o{i}" for i in range(k)]
            df = pd.DataFrame(vals, columns=cols).assign(status="ok")
            t0 = time.perf_counter()
            front = pareto(df, dict.fromkeys(cols, "min"))
            print(f"{n} rows, {k} objectives, {case}: front {len(front)}, "
                  f"{(time.perf_counter() - t0) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
