"""Peer checks of clickrec's serving commands (run by benches/serving.sh).

  all-user top-10: implicit's batched recommend on the same ALS factors (its time, and how often
                   its top-10 equals clickrec's), numpy's top-10 on a sample of users
  fold-in:         numpy's exact solve of each history's normal equations vs --factors-out
  onnx:            onnxruntime on ncf/model.onnx vs `clickrec score` (3 000 rows, cold included)

Prints one JSON object per check.
"""
import argparse
import json
import sys
import time

import numpy as np
from safetensors.numpy import load_file


def strings(ids, prefix):
    if prefix in ids:
        return ids[prefix]
    raw, off = ids[prefix + ".utf8"].tobytes(), ids[prefix + ".offsets"]
    return np.array([raw[off[i]:off[i + 1]].decode() for i in range(len(off) - 1)], dtype=object)


def load_als(run):
    d = f"{run}/als"
    f = load_file(f"{d}/factors.safetensors")
    ids = load_file(f"{d}/ids.safetensors")
    meta = json.load(open(f"{d}/model.json"))
    from scipy.sparse import csr_matrix
    off, items = ids["seen.offsets"], ids["seen.items"]
    n_users, n_items = f["user_factors"].shape[0], f["item_factors"].shape[0]
    seen = csr_matrix((np.ones(len(items), dtype=np.float32), items, off), shape=(n_users, n_items))
    return f["user_factors"], f["item_factors"], strings(ids, "users"), strings(ids, "items"), seen, meta


def topk_check(args):
    import pyarrow.parquet as pq
    U, Y, users, items, seen, _ = load_als(args.run)
    n_users, n_items = U.shape[0], Y.shape[0]
    recs = pq.read_table(args.recs).to_pandas()
    k = int(recs["rank"].max())
    rows = np.searchsorted(users, recs["user"].to_numpy()) if users.dtype != object else None
    item_rows = np.searchsorted(items, recs["item"].to_numpy())
    ours = np.full((n_users, k), -1, dtype=np.int64)
    ours[rows, recs["rank"].to_numpy() - 1] = item_rows

    from threadpoolctl import threadpool_limits
    from implicit.cpu.als import AlternatingLeastSquares
    m = AlternatingLeastSquares(factors=U.shape[1], num_threads=args.threads)
    m.user_factors, m.item_factors = U, Y
    with threadpool_limits(args.threads):
        t = time.perf_counter()
        ids, _ = m.recommend(np.arange(n_users), seen, N=k, filter_already_liked_items=True)
        implicit_s = time.perf_counter() - t
    same_implicit = float(np.mean(np.all(ids == ours, axis=1)))
    overlap_implicit = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ids, ours)]))

    rng = np.random.default_rng(0)
    sample = rng.choice(n_users, size=min(args.sample, n_users), replace=False)
    exact = tie_equal = 0
    for u in sample:
        s = Y @ U[u]
        liked = seen.indices[seen.indptr[u]:seen.indptr[u + 1]]
        s[liked] = -np.inf
        want = np.lexsort((np.arange(n_items), -s))[:k]
        if np.array_equal(want, ours[u]):
            exact += 1
        elif np.allclose(np.sort(s[want]), np.sort(s[ours[u]]), rtol=0, atol=1e-5):
            tie_equal += 1  # the same scores, a near-tie ordered differently
    print(json.dumps({
        "check": "all-user top-k", "users": n_users, "items": n_items, "k": k,
        "implicit_seconds": round(implicit_s, 3), "clickrec_seconds": args.ours_seconds,
        "ratio": round(args.ours_seconds / implicit_s, 3) if args.ours_seconds else None,
        "same_top_k_as_implicit": same_implicit, "overlap_with_implicit": overlap_implicit,
        "numpy_sample": len(sample), "numpy_identical": exact, "numpy_equal_up_to_near_ties": tie_equal,
    }))


def foldin_check(args):
    import pandas as pd
    U, Y, users, items, seen, meta = load_als(args.run)
    h = pd.read_csv(args.history, dtype={"user": str})
    f = load_file(args.factors)
    got = f["user_factors"]
    from safetensors import safe_open
    with safe_open(args.factors, "np") as fh:
        order = json.loads(fh.metadata()["users"])
    alpha, lam, conf = meta["alpha"], meta["regularization"], meta["confidence"]
    Yd = Y.astype(np.float64)
    G = Yd.T @ Yd + lam * np.eye(Y.shape[1])
    item_rows = np.searchsorted(items, h["item"].to_numpy())
    known = items[np.minimum(item_rows, len(items) - 1)] == h["item"].to_numpy()
    h = h[known].assign(row=item_rows[known])
    worst = 0.0
    groups = {u: g for u, g in h.groupby("user")}
    t = time.perf_counter()
    for n, u in enumerate(order):
        g = groups[u].groupby("row")["weight"].sum()
        r = g.to_numpy()
        c = 1 + alpha * r if conf == "hu" else alpha * r
        Yi = Yd[g.index.to_numpy()]
        A = G + (Yi.T * (c - 1)) @ Yi
        b = Yi.T @ c
        x = np.linalg.solve(A, b)
        worst = max(worst, float(np.max(np.abs(x - got[n]))))
    numpy_s = time.perf_counter() - t
    print(json.dumps({"check": "fold-in", "histories": len(order), "max_abs_diff_vs_numpy": worst,
                      "numpy_seconds": round(numpy_s, 3)}))


def onnx_check(args):
    import onnxruntime as ort
    import pandas as pd
    d = f"{args.run}/ncf"
    sc = json.load(open(f"{d}/scorer.json"))
    w = load_file(f"{d}/model.safetensors")
    ids = load_file(f"{d}/ids.safetensors")
    users, items = strings(ids, "users"), strings(ids, "items")
    scored = pd.read_csv(args.scored, dtype={sc["user_column"]: str, sc["item_column"]: str})

    def rows(idmap, col):
        vals = scored[col].to_numpy()
        if idmap.dtype == object:
            pos = {v: i for i, v in enumerate(idmap)}
            return np.array([pos.get(v, len(idmap)) for v in vals])
        v = pd.to_numeric(pd.Series(vals), errors="coerce").fillna(-2**62).astype(np.int64).to_numpy()
        p = np.searchsorted(idmap, v)
        ok = (p < len(idmap)) & (idmap[np.minimum(p, len(idmap) - 1)] == v)
        return np.where(ok, p, len(idmap))

    u, i = rows(users, sc["user_column"]), rows(items, sc["item_column"])

    def side(name, n, idx):
        if name not in w:
            return np.zeros((len(idx), 0), dtype=np.float32)
        t = w[name]
        mean = np.zeros(t.shape[1], dtype=np.float32)
        for r in t:
            mean += r / np.float32(t.shape[0])
        full = np.vstack([t, mean[None, :]])
        return full[idx]

    spec = sc["row_features"]
    x = []
    for name, r in zip(spec["numeric"], spec["ranges"]):
        span = r["max"] - r["min"]
        v = scored[name].to_numpy(dtype=np.float64)
        x.append(((v - r["min"]) / span if span > 0 else 0 * v).astype(np.float32))
    for name, levels in zip(spec["categorical"], spec["levels"]):
        col = scored[name].astype(str).to_numpy()
        x += [(col == lv).astype(np.float32) for lv in levels]
    x = np.stack(x, axis=1) if x else np.zeros((len(scored), 0), dtype=np.float32)
    feats = np.concatenate([side("user_side", len(users), u), side("item_side", len(items), i), x], axis=1)
    s = ort.InferenceSession(f"{d}/model.onnx", providers=["CPUExecutionProvider"])
    p = s.run(["probability"], {"user": u.astype(np.int64), "item": i.astype(np.int64),
                                "features": feats.astype(np.float32)})[0]
    diff = np.abs(p - scored["score"].to_numpy())
    print(json.dumps({"check": "onnx", "rows": len(p), "cold_user_rows": int((u == len(users)).sum()),
                      "cold_item_rows": int((i == len(items)).sum()), "max_abs_diff": float(diff.max())}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("check", choices=["topk", "foldin", "onnx"])
    ap.add_argument("--run", required=True)
    ap.add_argument("--recs")
    ap.add_argument("--ours-seconds", type=float)
    ap.add_argument("--history")
    ap.add_argument("--factors")
    ap.add_argument("--scored")
    ap.add_argument("--sample", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    {"topk": topk_check, "foldin": foldin_check, "onnx": onnx_check}[a.check](a)
