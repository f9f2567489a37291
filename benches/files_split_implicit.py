#!/usr/bin/env python3
"""`implicit`'s ALS on a given train/test split (the CSVs of benches/lightgcn_split.py), with
the LightGCN metrics, to compare clickrec with at equal settings on the same split:

    benches/files_split_implicit.py TRAIN.csv TEST.csv [--factors 128] [--regularization 0.01]
        [--alpha 1.0] [--iterations 15] [--k 20] [--threads 2]

Confidence c = alpha (one train pair = strength 1, implicit's linear rule), unobserved weight 1,
λ unscaled: clickrec's `confidence = "linear"`, `unobserved_weight = 1`, `reg_scaling = "none"`.
Recall@K = hits / |test items of the user|, NDCG@K with the ideal DCG over min(|test|, K)
positions; train items of the user are excluded from the ranking. Prints one JSON line."""
import argparse
import json
import time

import numpy as np
import scipy.sparse as sp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--factors", type=int, default=128)
    ap.add_argument("--regularization", type=float, default=0.01)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    from threadpoolctl import threadpool_limits
    from implicit.cpu.als import AlternatingLeastSquares

    tr = np.loadtxt(a.train, delimiter=",", skiprows=1, dtype=np.int64)[:, :2]
    te = np.loadtxt(a.test, delimiter=",", skiprows=1, dtype=np.int64)[:, :2]
    n_users = int(max(tr[:, 0].max(), te[:, 0].max())) + 1
    n_items = int(tr[:, 1].max()) + 1
    te = te[te[:, 1] < n_items]
    ui = sp.csr_matrix((np.ones(len(tr), dtype=np.float32), (tr[:, 0], tr[:, 1])), shape=(n_users, n_items))
    ui.data[:] = 1.0
    with threadpool_limits(1, "blas"):
        m = AlternatingLeastSquares(factors=a.factors, regularization=a.regularization, alpha=a.alpha,
                                    iterations=a.iterations, use_cg=True, num_threads=a.threads, random_state=42)
        t = time.time()
        m.fit(ui, show_progress=False)
        fit = time.time() - t
        users = np.unique(te[:, 0])
        t = time.time()
        ids, _ = m.recommend(users, ui[users], N=a.k, filter_already_liked_items=True)
        rec_s = time.time() - t
    test = {}
    for u, i in te:
        test.setdefault(int(u), set()).add(int(i))
    disc = 1.0 / np.log2(np.arange(2, a.k + 2))
    recall, ndcg = [], []
    for row, u in zip(ids, users):
        t_items = test[int(u)]
        hits = np.array([int(i) in t_items for i in row[: a.k]], dtype=float)
        recall.append(hits.sum() / len(t_items))
        ndcg.append((hits * disc[: len(hits)]).sum() / disc[: min(len(t_items), a.k)].sum())
    print(json.dumps({"script": "files_split_implicit.py", "users": len(users), "train_pairs": int(ui.nnz),
                      "settings": vars(a), "fit_seconds": fit, "seconds_per_iteration": fit / a.iterations,
                      "recommend_seconds": rec_s, f"recall@{a.k}": float(np.mean(recall)), f"ndcg@{a.k}": float(np.mean(ndcg))}))


if __name__ == "__main__":
    main()
