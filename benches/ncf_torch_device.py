#!/usr/bin/env python3
"""Issue 15's PyTorch peer: the NCF of ../shared/peers/ncf_torch.py with every tensor on the device.

    python3 benches/ncf_torch_device.py --data LOG.parquet --device cuda --batch 65536 [--sparse]

The model, loss, optimiser, split and scaling are those of ``ncf_torch.py --ctr-csv FILE
--features all`` (its CTR mode); what differs is where the tensors live and how the loss is read:

  * Embeddings, MLP and Adam state, the encoded columns of the whole epoch (user and item indices,
    the scaled features), the labels and the shuffle permutation are on ``--device``. A batch is
    ``perm[s:s+B]`` gathered from the device-resident columns; nothing crosses to the host inside
    the loop (the epoch loss is summed on the device and read once at the end).
  * Timing: the epoch loop only (permutation, forward, backward, optimiser steps), the device
    synchronised before the clock starts and before it stops. Before it, ``--warmup-steps`` steps
    run on a throwaway copy of the model (CUDA context, cuBLAS handles, kernel loading), so the
    figure is the loop, not one-off start-up; the warm-up seconds are reported apart.
  * Learning rate: ``--lr`` is the rate at ``--lr-base-batch`` (512); ``--lr-scaling sqrt``
    (default) trains at lr * sqrt(batch / 512), clickrec's ``lr_scaling = "sqrt"`` rule, so at
    batch 512 it is ncf_torch.py's 1e-3.
  * Dense mode: one Adam over every parameter (``fused=True`` on CUDA). ``--sparse``: sparse
    embedding gradients with SparseAdam on the two tables, Adam on the MLP (ncf_torch.py's
    ``--sparse``).

Model (as ncf_torch.py): e_u = Embedding(users, 8)[u], e_i = Embedding(items, 8)[i],
h = ReLU(Linear(16+F, 32)([e_u, e_i, x])), h = ReLU(Linear(32, 16)(h)), logit = Linear(16, 1)(h);
BCEWithLogitsLoss (mean over the batch); PyTorch default initialisation after
torch.manual_seed(--seed), the model built on the CPU and then moved, so the initial weights are
the same on every device (``--init-std S``: embeddings N(0, S) instead of N(0, 1), an option
clickrec's default 0.01 suggests; not ncf_torch.py's model). On ``--device cpu`` at batch 512 this is the same computation as
ncf_torch.py (same initial weights, same permutation, same batches).

Data (reimplemented from ../shared/peers, which does not travel to the device machine; checked
against it with ``--check-split DIR``):
  * Input: a Parquet or CSV log with user, item, timestamp, and the label as ``label`` or
    ``is_click``. Every other numeric column is a feature; every non-numeric column (``device`` in
    ``clickrec generate --kind ctr`` logs) is one-hot encoded as ``<col>_<level>`` (levels sorted,
    appended after the numeric ones), which is exactly the CSV that benches/scale.sh writes for
    ncf_torch.py.
  * Split (split.py, ``last-day``, drop_seen=False as in ncf_torch.py's CTR mode): day =
    timestamp // 86400; a user active on >= 2 distinct days has all rows of their latest day in
    test, everything else is train; test rows whose item never occurs in train are dropped; test
    rows whose (user, item) was seen in train are kept. Row order is kept.
  * Encoding: users and items indexed by ascending raw id over the train rows.
  * Min-max scaling: lo/hi per column over the train rows in float64, (v - lo) / (hi - lo), a
    column constant in train maps to 0, test values are not clipped; then float32.

Reported on the test rows: AUC (sklearn roc_auc_score) and log loss. The last line printed is one
JSON object. ``--cache FILE.npz`` keeps the split and encoded arrays so that several runs on the
same log load them once.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

SECONDS_PER_DAY = 86400
PREDICT_BATCH = 1 << 20


# --------------------------------------------------------------------------
# Data: load, split, encode, scale (ncf_torch.py's CTR mode with split.py's last-day rule)
# --------------------------------------------------------------------------
def load_log(path: str) -> tuple[pd.DataFrame, list[str]]:
    """Read the log; return it with user/item/timestamp/label int64 and the feature names."""
    p = Path(path)
    raw = pd.read_parquet(p) if p.suffix in (".parquet", ".pq") else pd.read_csv(p)
    if "label" not in raw.columns and "is_click" in raw.columns:
        raw = raw.rename(columns={"is_click": "label"})
    need = ["user", "item", "timestamp", "label"]
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise SystemExit(f"{path}: missing columns {missing}")
    df = pd.DataFrame({c: raw[c].to_numpy(np.int64) for c in need})
    numeric = [c for c in raw.columns if c not in need and pd.api.types.is_numeric_dtype(raw[c])]
    other = [c for c in raw.columns if c not in need and c not in numeric]
    for c in numeric:
        df[c] = raw[c].to_numpy()
    features = list(numeric)
    for c in other:  # one-hot, levels sorted: the columns scale.sh writes for ncf_torch.py
        col = raw[c].astype(str)
        for level in sorted(col.unique()):
            name = f"{c}_{level}"
            df[name] = (col == level).to_numpy(np.int8)
            features.append(name)
    return df, features


def last_day_split(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Boolean train and test masks of split.py's last-day rule, drop_seen=False.

    A user has >= 2 distinct days exactly when their first and last day differ.
    """
    users = df["user"].to_numpy(np.int64)
    day = pd.Series(df["timestamp"].to_numpy(np.int64) // SECONDS_PER_DAY)
    by_user = day.groupby(users)
    last = by_user.transform("max").to_numpy()
    first = by_user.transform("min").to_numpy()
    day = day.to_numpy()
    test_raw = (first != last) & (day == last)
    train = ~test_raw
    items = df["item"].to_numpy(np.int64)
    known = np.isin(items, np.unique(items[train]))
    return train, test_raw & known


def minmax_fit(train_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if train_values.shape[1] == 0:
        return np.zeros(0), np.zeros(0)
    return train_values.min(axis=0), train_values.max(axis=0)


def minmax_apply(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    rng = hi - lo
    safe = np.where(rng > 0, rng, 1.0)
    out = np.where(rng > 0, (values - lo) / safe, 0.0).astype(np.float32)
    return np.ascontiguousarray(out)  # row-major: a batch gathers whole rows


def prepare(path: str, check_split: str | None) -> dict:
    """The encoded train/test arrays of the log at ``path``."""
    df, features = load_log(path)
    train, test = last_day_split(df)
    if check_split:
        check_against_split_py(df, train, test, check_split)
    tr, te = df[train], df[test]
    user_ids = np.unique(tr["user"].to_numpy())
    item_ids = np.unique(tr["item"].to_numpy())
    x_tr64 = tr[features].to_numpy(np.float64)
    lo, hi = minmax_fit(x_tr64)
    return {
        "tu": np.searchsorted(user_ids, tr["user"].to_numpy()),
        "ti": np.searchsorted(item_ids, tr["item"].to_numpy()),
        "x_tr": minmax_apply(x_tr64, lo, hi),
        "y_tr": tr["label"].to_numpy(np.float32),
        "qu": np.searchsorted(user_ids, te["user"].to_numpy()),
        "qi": np.searchsorted(item_ids, te["item"].to_numpy()),
        "x_te": minmax_apply(te[features].to_numpy(np.float64), lo, hi),
        "y_te": te["label"].to_numpy(np.int64),
        "n_users": np.int64(len(user_ids)),
        "n_items": np.int64(len(item_ids)),
        "features": np.array(features),
    }


def check_against_split_py(df: pd.DataFrame, train: np.ndarray, test: np.ndarray, peers: str) -> None:
    """Assert that split.py in ``peers`` gives the same train and test rows."""
    sys.path.insert(0, str(Path(peers).resolve()))
    import split as protocol  # noqa: E402  (../shared/peers/split.py)

    d = df[["user", "item", "timestamp", "label"]].copy()
    d["weight"] = 1.0
    s = protocol.split_interactions(d, "last-day", drop_seen=False)
    same_train = np.array_equal(s.train.index.to_numpy(), np.flatnonzero(train))
    same_test = np.array_equal(s.test.index.to_numpy(), np.flatnonzero(test))
    print(f"[check-split] split.py: train {len(s.train)} test {len(s.test)}; here: train "
          f"{int(train.sum())} test {int(test.sum())}; same rows: train {same_train}, test {same_test}",
          file=sys.stderr)
    if not (same_train and same_test):
        raise SystemExit("split differs from split.py")


def load_data(args) -> dict:
    if args.cache and Path(args.cache).exists():
        with np.load(args.cache) as z:
            return {k: z[k] for k in z.files}
    data = prepare(args.data, args.check_split)
    if args.cache:
        tmp = f"{args.cache}.tmp.npz"
        np.savez(tmp, **data)
        os.replace(tmp, args.cache)
    return data


# --------------------------------------------------------------------------
# Model and training
# --------------------------------------------------------------------------
class NCF(nn.Module):
    """ncf_torch.py's NCF without side tables: [e_u, e_i, x] -> MLP(32, 16) -> 1 logit.

    # Shapes
    u, i: (B,) int64; x: (B, F) float32 -> (B,) logits.
    """

    def __init__(self, n_users: int, n_items: int, emb_dim: int, n_features: int, sparse: bool,
                 init_std: float | None = None):
        super().__init__()
        self.user_emb = nn.Embedding(n_users, emb_dim, sparse=sparse)
        self.item_emb = nn.Embedding(n_items, emb_dim, sparse=sparse)
        if init_std is not None:  # else PyTorch's N(0, 1), as ncf_torch.py
            nn.init.normal_(self.user_emb.weight, 0.0, init_std)
            nn.init.normal_(self.item_emb.weight, 0.0, init_std)
        self.mlp = nn.Sequential(
            nn.Linear(2 * emb_dim + n_features, 32), nn.ReLU(),
            nn.Linear(32, 16), nn.ReLU(),
            nn.Linear(16, 1),
        )

    def forward(self, u: torch.Tensor, i: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([self.user_emb(u), self.item_emb(i), x], dim=1)).squeeze(1)


def optimisers(model: NCF, lr: float, sparse: bool, fused: bool) -> list[torch.optim.Optimizer]:
    kw = {"fused": True} if fused else {}
    if sparse:
        emb = [model.user_emb.weight, model.item_emb.weight]
        dense = [p for p in model.parameters() if all(p is not e for e in emb)]
        return [torch.optim.SparseAdam(emb, lr=lr), torch.optim.Adam(dense, lr=lr, **kw)]
    return [torch.optim.Adam(model.parameters(), lr=lr, **kw)]


def step(model, opts, loss_fn, u, i, x, y) -> torch.Tensor:
    loss = loss_fn(model(u, i, x), y)
    for opt in opts:
        opt.zero_grad(set_to_none=True)
    loss.backward()
    for opt in opts:
        opt.step()
    return loss.detach()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train(model, opts, cols, batch: int, epochs: int, seed: int, device: torch.device) -> dict:
    u_t, i_t, x_t, y_t = cols
    n = len(y_t)
    loss_fn = nn.BCEWithLogitsLoss()
    gen = torch.Generator(device=device).manual_seed(seed)
    model.train()
    losses, steps = [], 0
    sync(device)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen, device=device)
        total = torch.zeros((), dtype=torch.float32, device=device)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            loss = step(model, opts, loss_fn, u_t[idx], i_t[idx], x_t[idx], y_t[idx])
            total += loss * len(idx)
            steps += 1
        losses.append(total)
    sync(device)
    seconds = time.perf_counter() - t0
    return {"train_seconds": round(seconds, 4), "samples": n * epochs, "steps": steps,
            "samples_per_second": round(n * epochs / seconds, 1),
            "epoch_train_loss": [round(float(t) / n, 6) for t in losses]}


def warm_up(model, args, lr: float, fused: bool, cols, device: torch.device) -> float:
    """A few steps on a throwaway copy: start-up costs out of the timed loop."""
    if args.warmup_steps <= 0:
        return 0.0
    sync(device)
    t0 = time.perf_counter()
    m = copy.deepcopy(model)
    opts = optimisers(m, lr, args.sparse, fused)
    loss_fn = nn.BCEWithLogitsLoss()
    n = len(cols[3])
    for k in range(args.warmup_steps):
        idx = torch.arange(k * args.batch, (k + 1) * args.batch, device=device) % n
        step(m, opts, loss_fn, *(c[idx] for c in cols))
    sync(device)
    del m, opts
    return time.perf_counter() - t0


@torch.no_grad()
def predict(model: NCF, u, i, x) -> np.ndarray:
    model.eval()
    out = [torch.sigmoid(model(u[s:s + PREDICT_BATCH], i[s:s + PREDICT_BATCH], x[s:s + PREDICT_BATCH]))
           for s in range(0, len(u), PREDICT_BATCH)]
    model.train()
    return torch.cat(out).double().cpu().numpy() if out else np.zeros(0)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--data", "--ctr-csv", dest="data", required=True,
                   help="the log: .parquet (clickrec generate --kind ctr) or a CSV as ncf_torch.py reads")
    p.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    p.add_argument("--batch", type=int, default=512, help="batch size (default 512)")
    p.add_argument("--lr", type=float, default=1e-3,
                   help="learning rate at --lr-base-batch (default 1e-3, ncf_torch.py's)")
    p.add_argument("--lr-scaling", choices=("none", "sqrt"), default="sqrt",
                   help="sqrt: lr * sqrt(batch / lr-base-batch), clickrec's lr_scaling (default sqrt)")
    p.add_argument("--lr-base-batch", type=int, default=512, help="batch the --lr is set for (default 512)")
    p.add_argument("--sparse", action="store_true",
                   help="sparse embedding gradients + SparseAdam on the tables, Adam on the MLP")
    p.add_argument("--no-fused", action="store_true", help="on CUDA: Adam without fused=True")
    p.add_argument("--init-std", type=float, default=None,
                   help="embeddings ~ N(0, S) (clickrec's init_std is 0.01); default PyTorch's N(0, 1)")
    p.add_argument("--epochs", type=int, default=1, help="training epochs (default 1)")
    p.add_argument("--emb-dim", type=int, default=8, help="embedding size (default 8)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--seed", type=int, default=1, help="torch.manual_seed and the shuffle (default 1)")
    p.add_argument("--warmup-steps", type=int, default=3,
                   help="untimed steps on a throwaway copy of the model before the loop (default 3)")
    p.add_argument("--cache", default=None, help="an .npz keeping the split and encoded arrays")
    p.add_argument("--check-split", metavar="PEERS_DIR", default=None,
                   help="assert the split equals split.py's in PEERS_DIR (e.g. ../shared/peers)")
    args = p.parse_args(argv)
    for name in ("batch", "epochs", "emb_dim", "threads", "lr_base_batch"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if not (math.isfinite(args.lr) and args.lr > 0):
        p.error("--lr must be > 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch.cuda.is_available() is False")
    torch.set_num_threads(args.threads)
    lr = args.lr * (math.sqrt(args.batch / args.lr_base_batch) if args.lr_scaling == "sqrt" else 1.0)
    fused = device.type == "cuda" and not args.no_fused

    t0 = time.perf_counter()
    d = load_data(args)
    load_seconds = time.perf_counter() - t0

    sync(device)
    t0 = time.perf_counter()
    cols = tuple(torch.from_numpy(d[k]).to(device) for k in ("tu", "ti", "x_tr", "y_tr"))
    test = tuple(torch.from_numpy(d[k]).to(device) for k in ("qu", "qi", "x_te"))
    sync(device)
    upload_seconds = time.perf_counter() - t0

    torch.manual_seed(args.seed)
    model = NCF(int(d["n_users"]), int(d["n_items"]), args.emb_dim, d["x_tr"].shape[1], args.sparse,
                args.init_std)
    model.to(device)
    warmup_seconds = warm_up(model, args, lr, fused, cols, device)
    opts = optimisers(model, lr, args.sparse, fused)
    timing = train(model, opts, cols, args.batch, args.epochs, args.seed, device)

    t0 = time.perf_counter()
    p = predict(model, *test)
    from sklearn.metrics import log_loss, roc_auc_score

    y = d["y_te"]
    auc = float(roc_auc_score(y, p))
    ll = float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1]))
    eval_seconds = time.perf_counter() - t0

    out = {
        "script": "ncf_torch_device.py",
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "batch": args.batch,
        "lr": lr,
        "lr_scaling": args.lr_scaling,
        "optimizer": ("SparseAdam+Adam" if args.sparse else "Adam") + ("(fused)" if fused else ""),
        "samples_per_second": timing["samples_per_second"],
        "auc": round(auc, 6),
        "logloss": round(ll, 6),
        **timing,
        "load_seconds": round(load_seconds, 3),
        "upload_seconds": round(upload_seconds, 3),
        "warmup_seconds": round(warmup_seconds, 3),
        "eval_seconds": round(eval_seconds, 3),
        "train_rows": int(len(d["y_tr"])),
        "test_rows": int(len(y)),
        "model_users": int(d["n_users"]),
        "model_items": int(d["n_items"]),
        "features": [str(f) for f in d["features"]],
        "epochs": args.epochs,
        "emb_dim": args.emb_dim,
        "init_std": args.init_std,
        "threads": args.threads,
        "seed": args.seed,
        "torch": torch.__version__,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
