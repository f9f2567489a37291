#!/usr/bin/env python3
"""Convert a LightGCN/NGCF benchmark split (Gowalla, Yelp2018, Amazon-Book) into the CSV pair
that `split.method = "files"` reads:

    benches/lightgcn_split.py DATA_DIR OUT_DIR

DATA_DIR holds the split as published with LightGCN (github.com/kuandeng/LightGCN, Data/<name>):
`train.txt` and `test.txt`, one line per user: `user item item ...` (0-based ids). When
`train.txt` is missing (some mirrors store it in Git LFS) the train pairs are read from the
repository's `s_adj_mat.npz` instead: the (users + items)² bipartite adjacency built from train,
whose user × item block is the train matrix. Writes OUT_DIR/train.csv and OUT_DIR/test.csv with
columns user,item,timestamp (timestamp 0: the split is given, nothing is carved by time).
The data is not redistributable with clickrec: never commit the output."""
import os
import sys

import numpy as np


def read_lists(path):
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2:
                continue
            u = int(parts[0])
            rows.extend((u, int(i)) for i in parts[1:])
    return rows


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    test = read_lists(os.path.join(src, "test.txt"))
    if os.path.exists(os.path.join(src, "train.txt")):
        train = read_lists(os.path.join(src, "train.txt"))
    else:
        import scipy.sparse as sp
        adj = sp.load_npz(os.path.join(src, "s_adj_mat.npz")).tocsr()
        n_users = max(max(u for u, _ in test), 0) + 1
        if os.path.exists(os.path.join(src, "user_list.txt")):
            with open(os.path.join(src, "user_list.txt")) as f:
                n_users = sum(1 for line in f) - 1  # header line
        block = adj[:n_users, n_users:].tocoo()
        train = sorted(zip(block.row.tolist(), block.col.tolist()))
    os.makedirs(out, exist_ok=True)
    for name, rows in (("train", train), ("test", test)):
        with open(os.path.join(out, f"{name}.csv"), "w") as f:
            f.write("user,item,timestamp\n")
            f.writelines(f"{u},{i},0\n" for u, i in rows)
        users = len({u for u, _ in rows})
        items = len({i for _, i in rows})
        print(f"{name}: {len(rows)} pairs, {users} users, {items} items", file=sys.stderr)


if __name__ == "__main__":
    main()
