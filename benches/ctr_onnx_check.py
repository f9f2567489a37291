#!/usr/bin/env python3
"""onnxruntime on a CTR model's ONNX graph (<run>/<model>/model.onnx: DeepFM, DCNv2, NCF over
fields) versus `clickrec score` on the same file.

    benches/ctr_onnx_check.py TEST.csv RUN/deepfm [RUN/dcnv2 ...] [--clickrec PATH]

For each model folder: `clickrec score FOLDER TEST.csv`, then the graph's inputs built in Python
from model.json (the text -> table-row lookup of benches/ctr_numpy_check.py: one int64 input per
field, a sequence field as padded rows plus a 0/1 mask, `dense` min-max scaled) and run with
onnxruntime. Prints one JSON line per model with the largest absolute difference.
Needs numpy and onnxruntime.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctr_numpy_check import dense_matrix, field_ids  # noqa: E402


def onnx_inputs(m, rows):
    """The graph's inputs for `rows` (dicts of a CSV file), named as model.onnx's metadata says."""
    feeds = {}
    for f, ids in zip(m["fields"], field_ids(m, rows)):
        if f["kind"] == "sequence":
            width = max(1, max(len(v) for v in ids))
            idx = np.zeros((len(rows), width), np.int64)    # padding: row 0, masked out
            mask = np.zeros((len(rows), width), np.float32)
            for r, v in enumerate(ids):
                idx[r, :len(v)] = v
                mask[r, :len(v)] = 1.0
            feeds[f["name"]], feeds[f["name"] + "_mask"] = idx, mask
        else:
            feeds[f["name"]] = np.array([v[0] for v in ids], np.int64)
    if m["dense"]["numeric"]:
        feeds["dense"] = dense_matrix(m, rows)
    return feeds


def check(folder, test, rows, clickrec):
    m = json.load(open(f"{folder}/model.json"))
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/scored.csv"
        subprocess.run([clickrec, "score", folder, test, "-o", out], check=True,
                       stderr=subprocess.DEVNULL)
        scored = list(csv.DictReader(open(out)))
    ours = np.array([float(r["score"]) for r in scored])
    s = ort.InferenceSession(f"{folder}/model.onnx", providers=["CPUExecutionProvider"])
    meta = s.get_modelmeta().custom_metadata_map
    feeds = onnx_inputs(m, rows)
    assert meta["inputs"].split(",") == list(feeds), (meta["inputs"], list(feeds))
    p = s.run(["probability"], feeds)[0]
    diff = np.abs(p.astype(np.float64) - ours)
    oov = sum(int(r["oov_fields"]) > 0 for r in scored)
    print(json.dumps({"check": "ctr_onnx", "model": m["model"], "folder": folder,
                      "rows": len(p), "rows_with_oov": oov, "max_abs_diff": float(diff.max())}))
    return float(diff.max())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("test", help="a CSV file with the model's columns")
    ap.add_argument("folders", nargs="+", help="exported CTR model folders (<run>/<model>)")
    ap.add_argument("--clickrec", default="clickrec", help="the clickrec binary")
    ap.add_argument("--tolerance", type=float, default=1e-5)
    a = ap.parse_args()
    rows = list(csv.DictReader(open(a.test)))
    worst = max(check(f, a.test, rows, a.clickrec) for f in a.folders)
    sys.exit(0 if worst <= a.tolerance else 1)


if __name__ == "__main__":
    main()
