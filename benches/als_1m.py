#!/usr/bin/env python3
"""A 1 M-interaction synthetic log (user,item,timestamp,weight) for the wide-ALS bench:
    benches/als_1m.py OUT.csv [ROWS]"""
import sys, numpy as np
# 1M interactions: 20k users x 10k items, Zipf-like item popularity, 14 days, weight 1.
rng = np.random.default_rng(42)
n, users, items = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000, 20_000, 10_000
u = rng.integers(0, users, n)
pop = 1.0 / np.arange(1, items + 1) ** 0.8
# users have a taste block: half the rows from their block of 200 items
blk = (u % 50) * 200 + rng.integers(0, 200, n)
gen = rng.choice(items, n, p=pop / pop.sum())
it = np.where(rng.random(n) < 0.5, blk, gen)
ts = 1_600_000_000 + rng.integers(0, 14 * 86400, n)
with open(sys.argv[1], "w") as f:
    f.write("user,item,timestamp,weight\n")
    np.savetxt(f, np.column_stack([u, it, ts, np.ones(n, dtype=int)]), fmt="%d", delimiter=",")
