#!/usr/bin/env python3
"""Regret of `clickrec tune` against the best setting in hindsight, over seeds.

    benches/tune_regret.py CONFIG [--seeds 42 1 2] [--bin PATH]

For each seed: `clickrec tune CONFIG --set seed=S` (chosen on validation), then every trial of
its tuning.csv is retrained on the whole train part and scored on test with `clickrec train`
(the same grid, looked at in hindsight). Prints, per seed, the test HR@K/NDCG@K of the chosen
setting, of the best grid point on test, and of popularity, and the regret (best − chosen).
The hindsight runs only measure the tuner; nothing feeds back into it.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "clickrec"))
    a = ap.parse_args()
    out = tempfile.mkdtemp()
    rows = []
    for seed in a.seeds:
        tdir = f"{out}/tune-{seed}"
        run([a.bin, "tune", a.config, "-q", "--force", "--set", f"seed={seed}", "--set", f"output.dir={tdir}"])
        m = json.load(open(f"{tdir}/metrics.json"))
        best = m["tuning"]["best"]
        model = best["model"]
        chosen = m["models"][model]
        pop = m["models"]["popularity"]
        trials = list(csv.DictReader(open(f"{tdir}/tuning.csv")))
        keys = [k for k in trials[0] if "." in k and k.split(".")[0] in ("als", "ncf") and not k.startswith("sampled.")]
        hind = []
        for t in trials:
            sets = ["--set", f"seed={seed}", "--set", f"output.dir={out}/h", "--set", "popularity.enabled=false"]
            for other in ("als", "ncf"):
                if other != t["model"]:
                    sets += ["--set", f"{other}.enabled=false"]
            for k in keys:
                if t[k] != "" and k.split(".")[0] == t["model"]:
                    sets += ["--set", f"{k}={t[k]}"]
            run([a.bin, "train", a.config, "-q", "--force"] + sets)
            h = json.load(open(f"{out}/h/metrics.json"))["models"][t["model"]]
            hind.append((h["ndcg_at_k"], h["hr_at_k"], int(t["trial"]), t["model"]))
        b_ndcg = max(hind)
        b_hr = max(hind, key=lambda x: x[1])
        rows.append((seed, model, chosen["hr_at_k"], chosen["ndcg_at_k"], pop["hr_at_k"], pop["ndcg_at_k"], b_hr[1], b_ndcg[0], len(trials), best["trial"], b_ndcg[2]))
        r = rows[-1]
        print(f"seed {seed}: chosen {model} trial {r[9]} test HR {r[2]:.4f} NDCG {r[3]:.4f} | popularity HR {r[4]:.4f} NDCG {r[5]:.4f} | "
              f"best of {r[8]} in hindsight HR {r[6]:.4f} NDCG {r[7]:.4f} (trial {r[10]}) | regret HR {r[6]-r[2]:.4f} NDCG {r[7]-r[3]:.4f}", flush=True)
    n = len(rows)
    mean = lambda i: sum(r[i] for r in rows) / n
    print(f"mean over {n} seeds: chosen HR {mean(2):.4f} NDCG {mean(3):.4f} | popularity HR {mean(4):.4f} NDCG {mean(5):.4f} | "
          f"hindsight HR {mean(6):.4f} NDCG {mean(7):.4f} | regret HR {mean(6)-mean(2):.4f} NDCG {mean(7)-mean(3):.4f}")


if __name__ == "__main__":
    main()
