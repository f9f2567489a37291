#!/usr/bin/env python3
"""Re-score a test file with an exported DeepFM / DCNv2 / NCF-over-fields model in plain numpy and
compare with the run's own predictions: checks that model.json + model.safetensors are all a
service needs.

    benches/ctr_numpy_check.py RUN_DIR MODEL TEST.csv      # MODEL: deepfm | dcnv2 | ncf

Prints the largest absolute difference from RUN_DIR/predictions/MODEL.csv (same rows, same order).
Needs numpy only (the safetensors file is parsed by hand).
"""
import csv
import json
import struct
import sys

import numpy as np


def load_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(raw[base + a:base + b], dtype="<f4").reshape(t["shape"])
    return out


def fnv1a(text):
    h = 0xCBF29CE484222325
    for byte in text.encode():
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def field_ids(m, rows):
    """Per field of model.json, per row, the table rows of the row's value(s), looked up as
    `clickrec score` does: vocabulary[k] has row k+1, a hashed field 1 + FNV-1a(text) mod N, a
    side-table field the level `by_id` gives the row's user (item); anything else row 0 (OOV).
    A sequence cell gives its values' rows, none for an empty cell."""
    sep = m["sequence_separator"]
    column = {"user": m["user_column"], "item": m["item_column"]}
    out = []
    for f in m["fields"]:
        index = {v: k + 1 for k, v in enumerate(f["vocabulary"])}

        def table_row(text):
            if f["hash_buckets"]:
                return 1 + fnv1a(text) % f["hash_buckets"]
            return index.get(text, 0)

        ids = []
        for row in rows:
            if f["source"] in ("user_table", "item_table"):
                key = row[column["user" if f["source"] == "user_table" else "item"]]
                ids.append([table_row(f["by_id"][key])] if key in f["by_id"] else [0])
            elif f["kind"] == "sequence":
                ids.append([table_row(v) for v in row[f["name"]].split(sep) if v])
            else:
                ids.append([table_row(row[column.get(f["source"], f["name"])])])
        out.append(ids)
    return out


def dense_matrix(m, rows):
    """The `[N, dense]` numeric features, min-max scaled with model.json's ranges (not clipped)."""
    spec = m["dense"]
    dense = np.zeros((len(rows), len(spec["numeric"])), np.float32)
    for k, (name, rg) in enumerate(zip(spec["numeric"], spec["ranges"])):
        v = np.array([float(row[name]) for row in rows])
        span = rg["max"] - rg["min"]
        dense[:, k] = (v - rg["min"]) / span if span > 0 else 0.0
    return dense


def main():
    run, model, test = sys.argv[1], sys.argv[2], sys.argv[3]
    m = json.load(open(f"{run}/{model}/model.json"))
    w = load_safetensors(f"{run}/{model}/model.safetensors")
    a = m["arch"]
    rows = list(csv.DictReader(open(test)))
    emb, first = [], []
    for j, ids_of in enumerate(field_ids(m, rows)):
        E = w[f"field.{j}.embedding"]
        F = w.get(f"field.{j}.first")
        e = np.zeros((len(rows), E.shape[1]), np.float32)
        fo = np.zeros(len(rows), np.float32)
        for r, ids in enumerate(ids_of):
            if ids:
                e[r] = E[ids].mean(axis=0)
                if F is not None:
                    fo[r] = F[ids, 0].mean()
        emb.append(e)
        first.append(fo)
    x_emb = np.concatenate(emb, axis=1)
    dense = dense_matrix(m, rows)
    x = np.concatenate([x_emb, dense], axis=1)
    h = x
    for k in range(len(a["hidden"])):
        h = h @ w[f"mlp.{k}.weight"] + w[f"mlp.{k}.bias"]
        if a["batch_norm"]:
            h = (h - w[f"norm.{k}.running_mean"]) / np.sqrt(w[f"norm.{k}.running_var"] + 1e-5)
            h = h * w[f"norm.{k}.gamma"] + w[f"norm.{k}.beta"]
        h = np.maximum(h, 0)
    if a["kind"] == "dcnv2":
        c = x
        for k in range(a["cross_layers"]):
            c = x * (c @ w[f"cross.{k}.weight"] + w[f"cross.{k}.bias"]) + c
        logit = np.concatenate([c, h], axis=1) @ w["output.weight"] + w["output.bias"]
        logit = logit[:, 0]
    elif a["kind"] == "ncf":
        if a.get("neumf"):
            h = np.concatenate([h, emb[0] * emb[1]], axis=1)
        logit = (h @ w["output.weight"] + w["output.bias"])[:, 0]
    else:
        logit = (h @ w["output.weight"] + w["output.bias"])[:, 0]
        e3 = x_emb.reshape(len(rows), a["fields"], a["dim"])
        s = e3.sum(axis=1)
        logit += 0.5 * ((s * s) - (e3 * e3).sum(axis=1)).sum(axis=1)
        logit += np.stack(first, axis=1).sum(axis=1)
        if "dense_linear.weight" in w:
            logit += (dense @ w["dense_linear.weight"])[:, 0]
    if "calibration" in w:  # Platt scaling fit on validation (older exports: none)
        scale, shift = w["calibration"]
        logit = scale * logit + shift
    p = 1 / (1 + np.exp(-logit))
    ours = np.array([float(r["score"]) for r in csv.DictReader(open(f"{run}/predictions/{model}.csv"))])
    print(f"{model}: {len(rows)} rows, max abs difference {np.abs(p - ours).max():.2e}")


if __name__ == "__main__":
    main()
