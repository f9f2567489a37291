#!/usr/bin/env python3
"""Multi-field CTR log from MovieLens-100K, split 7:2:1 at random into train/valid/test CSVs.

Fields: user, item, gender, age, occupation, zip (u.user), release_year and genres (u.item; genres
as a '|'-separated sequence of genre names); label = rating >= 4. No timestamp column: the split
is given by the files.

Rows of valid/test whose user or item does not occur in train are dropped (and counted) so that
clickrec (which drops them) and the reference library (which would score them through OOV rows)
see the very same rows.

    benches/ml100k_fields.py ../shared/data/ml-100k OUT_DIR --seed 1
"""
import argparse
import csv
import os
import random


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ml100k", help="folder with u.data, u.user, u.item, u.genre")
    ap.add_argument("out", help="output folder (train.csv, valid.csv, test.csv)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    enc = "latin-1"
    users = {}
    with open(os.path.join(a.ml100k, "u.user"), encoding=enc) as f:
        for line in f:
            uid, age, gender, occ, zipc = line.rstrip("\n").split("|")
            users[uid] = (gender, age, occ, zipc)
    genres = []
    with open(os.path.join(a.ml100k, "u.genre"), encoding=enc) as f:
        for line in f:
            line = line.strip()
            if line:
                genres.append(line.split("|")[0])
    items = {}
    with open(os.path.join(a.ml100k, "u.item"), encoding=enc) as f:
        for line in f:
            p = line.rstrip("\n").split("|")
            date = p[2]
            year = date[-4:] if len(date) >= 4 else ""
            flags = p[5:5 + len(genres)]
            g = "|".join(name for name, flag in zip(genres, flags) if flag == "1")
            items[p[0]] = (year, g)
    rows = []
    with open(os.path.join(a.ml100k, "u.data"), encoding=enc) as f:
        for line in f:
            uid, iid, rating, _ts = line.split()
            gender, age, occ, zipc = users[uid]
            year, g = items[iid]
            rows.append([uid, iid, gender, age, occ, zipc, year, g, 1 if int(rating) >= 4 else 0])
    random.Random(a.seed).shuffle(rows)
    n = len(rows)
    cut1, cut2 = int(0.7 * n), int(0.9 * n)
    parts = {"train": rows[:cut1], "valid": rows[cut1:cut2], "test": rows[cut2:]}
    seen_u = {r[0] for r in parts["train"]}
    seen_i = {r[1] for r in parts["train"]}
    os.makedirs(a.out, exist_ok=True)
    header = ["user", "item", "gender", "age", "occupation", "zip", "release_year", "genres", "label"]
    for name, part in parts.items():
        if name != "train":
            kept = [r for r in part if r[0] in seen_u and r[1] in seen_i]
            print(f"{name}: {len(part)} rows, {len(part) - len(kept)} dropped (user or item not in train)")
            part = kept
        else:
            print(f"train: {len(part)} rows")
        with open(os.path.join(a.out, f"{name}.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(part)


if __name__ == "__main__":
    main()
